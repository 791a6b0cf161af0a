//! Turning page models into HTML with a theme's minijinja templates. It must not read theme files
//! (that is [`super::theme`]) nor decide which pages a site has (that is [`super::plan`]).
//!
//! Every template of the theme ([`Theme::load`]) is compiled when the [`Renderer`] is built, so a
//! syntax error stops a build before any page is written. Templates ending in `.html`/`.xml` are
//! auto-escaped (minijinja's rule, by file extension), and undefined values are errors
//! ([`UndefinedBehavior::Strict`]): a typo in a theme fails loudly with the file and line instead of
//! leaving a blank. Themes test optional values with `{% if x is defined %}` / `{% if x %}` on
//! values that exist (`none` counts as defined).
//!
//! Static files are published under content-hashed names ([`super::theme::assets`]) that
//! templates get from `static_url("style.css")`.
//!
//! A theme with an `og.svg` has link previews: the template is rendered like the others, then
//! drawn as a PNG with the theme's fonts ([`super::raster`]). Pages get `preview` (its absolute
//! `url`, `width`, `height`; none without `og.svg`) for their `og:image`. Text in a picture
//! neither wraps nor falls back on the viewer's fonts: the `drawable` and `fit` filters
//! ([`super::glyphs`]) drop what the theme's fonts cannot draw and cut what is too wide.
//!
//! Escaping cannot stop bidirectional controls in a name from reordering the text around it;
//! `<bdi>` isolates them in body text, and the `strip_bidi` filter removes them where `<bdi>`
//! cannot be used: the shipped layouts pass their whole `<head>` through it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Serde, Value};
use minijinja::{context, Environment, UndefinedBehavior};

use super::card::Card;
use super::conventions::{
    builtin_template, Pagination, RedirectPage, Sitemap, SitemapIndex, BUILTIN_TEMPLATES,
};
use super::glyphs::Glyphs;
use super::model::{FrontPage, LandingPage, MessagePage, ProfileSummary, SiteInfo};
use super::profile::Profile;
use super::raster::{Raster, RasterError, PREVIEW_SIZE};
use super::text;
use super::theme::assets::Assets;
use super::theme::{Templates, Theme, ThemeError, ThemeFont};
use crate::digest::{Digest, KeyBuilder};
use crate::fault::Blame;

/// What went wrong loading, compiling or rendering a theme. Messages name the template file and
/// line.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The theme's folders or files ([`Theme::load`]).
    #[error(transparent)]
    Theme(#[from] ThemeError),
    #[error("template syntax error in {}:{line}: {message}", path.display())]
    /// A template does not parse.
    Syntax {
        /// The file or folder concerned.
        path: PathBuf,
        /// Line in the file (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    #[error("error rendering {}:{line}: {message}", path.display())]
    /// A template failed while rendering.
    Render {
        /// The file or folder concerned.
        path: PathBuf,
        /// Line in the file (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    #[error("drawing {} as a PNG: {error}", path.display())]
    /// A rendered `og.svg` could not be drawn.
    Draw {
        /// The template (or font file) concerned.
        path: PathBuf,
        /// What is wrong.
        error: RasterError,
    },
    #[error(
        "the theme has {} but no font file (.ttf, .otf) in a fonts/ folder: the link preview's \
         text could not be drawn",
        path.display()
    )]
    /// The theme has `og.svg` but no font.
    NoFont {
        /// The `og.svg` template.
        path: PathBuf,
    },
    /// A file of the theme's `fonts/` folder is not a font.
    #[error("theme font: {0}")]
    Font(#[source] RasterError),
}

impl Blame for RenderError {
    /// A theme file that resolves outside `site.themes_dir` is fixed in the theme folder.
    fn is_users_fault(&self) -> bool {
        matches!(self, RenderError::Theme(ThemeError::Outside(_)))
    }
}

/// A theme's compiled templates plus the site values. Cheap to share: `Send + Sync`, and
/// rendering takes `&self`.
pub struct Renderer {
    env: Environment<'static>,
    /// Where each template was read from, for error messages.
    templates: Templates,
    assets: Arc<Assets>,
    site: Value,
    /// The site's public URL (also in `site`), for the absolute links of a sitemap index.
    base_url: url::Url,
    /// Its path, ending with `/` (also in `site`): what root-relative links start with.
    root: String,
    /// `front_page.html` (safe) and `front_page.description` for `index.html`, or none.
    front_page: Value,
    /// The theme's fonts, for `og.svg`.
    raster: Raster,
    /// Of everything above: two renderers with the same fingerprint render the same pages.
    fingerprint: Digest,
    /// Of what a profile's link preview depends on besides the profile: see
    /// [`Renderer::preview_fingerprint`].
    preview_fingerprint: Digest,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("templates_dir", &self.templates.dir)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// Loads the theme at `theme_dir` ([`Theme::load`]) and compiles every template now, so a
    /// syntax error surfaces before any page is written.
    pub fn new(theme_dir: &Path, site: SiteInfo) -> Result<Renderer, RenderError> {
        let Theme {
            templates,
            assets,
            fonts,
        } = Theme::load(theme_dir)?;
        let assets = Arc::new(assets);
        let mut env = environment(&templates, assets.clone(), site.root())?;
        add_text_filters(&mut env, Arc::new(Glyphs::new(&fonts)));
        for (name, file) in &templates.files {
            env.add_template_owned(name.clone(), file.source.clone())
                .map_err(|err| RenderError::Syntax {
                    line: err.line().unwrap_or(0),
                    message: describe(&err),
                    path: file.path.clone(),
                })?;
        }
        // The built-in templates the theme does not override, compiled once like the theme's:
        // a vanity page or sitemap rendered from source each time would parse it every time.
        for (name, source) in BUILTIN_TEMPLATES {
            if !templates.files.contains_key(name) {
                env.add_template(name, source)
                    .map_err(|err| RenderError::Syntax {
                        line: err.line().unwrap_or(0),
                        message: describe(&err),
                        path: builtin_path(name),
                    })?;
            }
        }
        // After compiling: a broken template is named even when others are missing too.
        templates.check_required()?;
        let raster = raster(&templates, &fonts)?;
        let fingerprint = fingerprint(&templates, &assets, &fonts, &site);
        let preview_fingerprint = preview_fingerprint(&templates, &fonts, &site);
        Ok(Renderer {
            preview_fingerprint,
            raster,
            env,
            templates,
            assets,
            base_url: site.base_url.clone(),
            root: site.root(),
            site: Value::from(Serde(site)),
            front_page: Value::from(()),
            fingerprint,
        })
    }

    /// Changes whenever a template, a static file, a site value or the front page does (the
    /// built-in templates change only with the program).
    pub(crate) fn fingerprint(&self) -> Digest {
        self.fingerprint
    }

    /// Changes whenever what draws a profile's link preview does: the site's values, the fonts and
    /// the `.svg` templates (`og.svg` and what it includes, by the theme's convention that an SVG
    /// template includes SVG templates only). Not a stylesheet, nor an HTML template.
    pub(crate) fn preview_fingerprint(&self) -> Digest {
        self.preview_fingerprint
    }

    /// The same renderer, with the front-page text (`content/index.md`) for `index.html`.
    pub(crate) fn with_front_page(mut self, page: Option<FrontPage>) -> Renderer {
        let mut key = KeyBuilder::new("front page").digest(self.fingerprint);
        if let Some(page) = &page {
            key = key.text(&page.html).json(&page.description);
        }
        self.fingerprint = key.finish();
        self.front_page = match page {
            Some(page) => context! {
                html => Value::from_safe_string(page.html),
                description => page.description,
            },
            None => Value::from(()),
        };
        self
    }

    /// The theme's static files, to publish (the site plan) or serve (the consent service).
    pub fn assets(&self) -> &Assets {
        &self.assets
    }

    /// `profile.html` with `site`, `profile` and `preview` (its `og.png`).
    pub(crate) fn render_profile(&self, profile: &Profile) -> Result<String, RenderError> {
        self.render(
            "profile.html",
            context! {
                site => self.site.clone(),
                profile => Serde(profile),
                preview => self.preview(&format!("{}{PREVIEW_FILE}", profile.url)),
            },
        )
    }

    /// Whether the theme (or the default theme behind it) has an `og.svg`: only then are link
    /// previews published.
    pub(crate) fn has_preview(&self) -> bool {
        self.env.get_template(PREVIEW_TEMPLATE).is_ok()
    }

    /// `og.svg` drawn as a PNG, with `site`, `profile` and `card` (the light card: its pictures
    /// inlined) for a profile's preview, both none for the site's, and `total` (profiles).
    pub(crate) fn render_preview(
        &self,
        profile: Option<&Profile>,
        card: Option<&Card<'_>>,
        total: usize,
    ) -> Result<Vec<u8>, RenderError> {
        let svg = self.render(
            PREVIEW_TEMPLATE,
            context! {
                site => self.site.clone(),
                profile => profile.map(Serde),
                card => card.map(Serde),
                total => total,
            },
        )?;
        self.raster
            .png(&svg, PREVIEW_SIZE)
            .map_err(|error| RenderError::Draw {
                path: self.template_path(PREVIEW_TEMPLATE),
                error,
            })
    }

    /// `preview` for a page whose `og.png` is at `url`: none when the theme has no `og.svg`.
    fn preview(&self, url: &str) -> Value {
        if !self.has_preview() {
            return Value::from(());
        }
        context! { url => url, width => PREVIEW_SIZE.0, height => PREVIEW_SIZE.1 }
    }

    /// The site's own `og.png`, for the pages that are not a profile's.
    fn site_preview(&self) -> Value {
        let mut url = self.base_url.clone();
        url.set_path(&format!("{}{PREVIEW_FILE}", self.root));
        self.preview(url.as_str())
    }

    /// Whether the theme (or the default theme behind it) has a `card.svg`: only then are cards
    /// published.
    pub(crate) fn has_card(&self) -> bool {
        self.env.get_template("card.svg").is_ok()
    }

    /// `card.svg` with `site`, `profile` and `card` (its variant and inlined pictures).
    pub(crate) fn render_card(
        &self,
        profile: &Profile,
        card: &Card<'_>,
    ) -> Result<String, RenderError> {
        self.render(
            "card.svg",
            context! { site => self.site.clone(), profile => Serde(profile), card => Serde(card) },
        )
    }

    /// `index.html` with `site`, `profiles` (this page's, in the order given), `pagination` and
    /// `front_page` (none, or `front_page.html` and `front_page.description`; page 1 only).
    pub(crate) fn render_index(
        &self,
        profiles: &[ProfileSummary],
        pagination: &Pagination,
    ) -> Result<String, RenderError> {
        self.render(
            "index.html",
            context! {
                site => self.site.clone(),
                profiles => Serde(profiles),
                pagination => Serde(pagination),
                preview => self.site_preview(),
                // The front page's text belongs to the first page only.
                front_page => if pagination.number == 1 { self.front_page.clone() } else { Value::from(()) },
            },
        )
    }

    /// `landing.html` with `site` and `page`.
    pub(crate) fn render_landing(&self, page: &LandingPage) -> Result<String, RenderError> {
        self.render(
            "landing.html",
            context! { site => self.site.clone(), page => Serde(page) },
        )
    }

    /// `edit.html` (the consent service's `/me`) with `site`, `page` (the form, see the
    /// template) and `profile` (the preview).
    pub(crate) fn render_edit(
        &self,
        page: &impl serde::Serialize,
        profile: &Profile,
    ) -> Result<String, RenderError> {
        self.render(
            "edit.html",
            context! { site => self.site.clone(), page => Serde(page), profile => Serde(profile) },
        )
    }

    /// `message.html` with `site` and `page`.
    pub(crate) fn render_message(&self, page: &MessagePage) -> Result<String, RenderError> {
        self.render(
            "message.html",
            context! { site => self.site.clone(), page => Serde(page) },
        )
    }

    fn render(&self, name: &str, ctx: Value) -> Result<String, RenderError> {
        let to_error = |err: minijinja::Error| RenderError::Render {
            path: self.template_path(err.name().unwrap_or(name)),
            line: err.line().unwrap_or(0),
            message: describe(&err),
        };
        let template = self.env.get_template(name).map_err(to_error)?;
        template.render(ctx).map_err(to_error)
    }

    /// `404.html` with `site`.
    pub(crate) fn render_not_found(&self) -> Result<String, RenderError> {
        self.render(
            "404.html",
            context! { site => self.site.clone(), preview => self.site_preview() },
        )
    }

    /// `redirect.html` (a vanity URL) with `site` and `page`.
    pub(crate) fn render_redirect(&self, page: &RedirectPage) -> Result<String, RenderError> {
        self.render(
            "redirect.html",
            context! { site => self.site.clone(), page => Serde(page) },
        )
    }

    /// `sitemap.xml` with `site` and `sitemap`.
    pub(crate) fn render_sitemap(&self, sitemap: &Sitemap) -> Result<String, RenderError> {
        self.render(
            "sitemap.xml",
            context! { site => self.site.clone(), sitemap => Serde(sitemap) },
        )
    }

    /// The site's public URL.
    pub(crate) fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// The path of the site's public URL, ending with `/`.
    pub(crate) fn root(&self) -> &str {
        &self.root
    }

    /// `sitemap_index.xml` with `site` and `index`: the `sitemap.xml` of a split sitemap.
    pub(crate) fn render_sitemap_index(&self, index: &SitemapIndex) -> Result<String, RenderError> {
        self.render(
            "sitemap_index.xml",
            context! { site => self.site.clone(), index => Serde(index) },
        )
    }

    /// `robots.txt` with `site`.
    pub(crate) fn render_robots(&self) -> Result<String, RenderError> {
        self.render("robots.txt", context! { site => self.site.clone() })
    }

    /// Where the template `name` comes from, for error messages: the theme's file, or
    /// strife-gen's built-in template when the theme has none of that name.
    fn template_path(&self, name: &str) -> PathBuf {
        if !self.templates.files.contains_key(name) && builtin_template(name).is_some() {
            return builtin_path(name);
        }
        self.templates.path_of(name)
    }
}

/// How error messages name the built-in template `name`.
fn builtin_path(name: &str) -> PathBuf {
    PathBuf::from(format!("(built-in template) {name}"))
}

/// The template of link previews, and the file each is published as (beside its page).
const PREVIEW_TEMPLATE: &str = "og.svg";
pub(crate) const PREVIEW_FILE: &str = "og.png";

/// The theme's fonts, ready to draw `og.svg` with; a theme with `og.svg` must have one.
fn raster(templates: &Templates, fonts: &[ThemeFont]) -> Result<Raster, RenderError> {
    let raster = Raster::new(fonts).map_err(RenderError::Font)?;
    if templates.files.contains_key(PREVIEW_TEMPLATE) && !raster.has_fonts() {
        return Err(RenderError::NoFont {
            path: templates.path_of(PREVIEW_TEMPLATE),
        });
    }
    Ok(raster)
}

/// The digest of a theme's templates, static files and fonts and the site values.
fn fingerprint(
    templates: &Templates,
    assets: &Assets,
    fonts: &[ThemeFont],
    site: &SiteInfo,
) -> Digest {
    let mut key = KeyBuilder::new("renderer").json(site);
    for font in fonts {
        key = key.bytes(&font.bytes);
    }
    for (name, file) in &templates.files {
        key = key.text(name).text(&file.source);
    }
    for asset in assets.iter() {
        // The published name holds the hash of the bytes; the bytes go in too, whole.
        key = key
            .text(&asset.name)
            .text(&asset.hashed_name)
            .bytes(&asset.bytes);
    }
    key.finish()
}

/// See [`Renderer::preview_fingerprint`].
fn preview_fingerprint(templates: &Templates, fonts: &[ThemeFont], site: &SiteInfo) -> Digest {
    let mut key = KeyBuilder::new("preview renderer").json(site);
    for font in fonts {
        key = key.bytes(&font.bytes);
    }
    for (name, file) in templates
        .files
        .iter()
        .filter(|(name, _)| name.ends_with(".svg"))
    {
        key = key.text(name).text(&file.source);
    }
    key.finish()
}

/// An environment with strife-gen's settings: strict undefined values, escaping by extension
/// (leaving `/` alone), blocks that leave no blank lines, `strip_bidi` and `static_url`.
fn environment(
    templates: &Templates,
    assets: Arc<Assets>,
    root: String,
) -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|err| RenderError::Syntax {
            path: templates.dir.clone(),
            line: 0,
            message: describe(&err),
        })?;
    env.set_syntax(syntax);
    env.set_auto_escape_callback(auto_escape);
    env.set_formatter(html_formatter);
    env.add_filter("strip_bidi", strip_bidi_filter);
    env.add_function("static_url", static_url_function(assets, root));
    Ok(env)
}

/// `static_url("style.css")` → `<site root>static/style.<hash>.css`; an unknown name is an error
/// (which names the template and line, like every render error).
fn static_url_function(
    assets: Arc<Assets>,
    root: String,
) -> impl Fn(&str) -> Result<String, minijinja::Error> + Send + Sync + 'static {
    move |name: &str| match assets.get(name) {
        Some(asset) => Ok(format!("{root}static/{}", asset.hashed_name)),
        None => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!(
                "static_url: the theme has no static file {name:?} (it has: {})",
                assets.names().join(", ")
            ),
        )),
    }
}

/// `strip_bidi`: a string without bidirectional controls ([`text::strip_bidi`]), for titles,
/// `<meta>` and attributes, where `<bdi>` cannot isolate them. Output that is already escaped
/// (a `{% filter strip_bidi %}` block) stays marked safe: removing these characters cannot form
/// markup. Anything that is not a string passes through.
/// The filters for text drawn as a picture (`og.svg`), measured with the theme's fonts:
/// `name | drawable(fallback)` drops the characters no font has (`fallback` when nothing is
/// left), `title | fit(width, size, bold)` cuts with `…` what is wider than `width` pixels, and
/// `tag | text_width(size, bold)` is how wide it is drawn (to size a box around it).
fn add_text_filters(env: &mut Environment<'static>, glyphs: Arc<Glyphs>) {
    let for_fit = glyphs.clone();
    let for_width = glyphs.clone();
    env.add_filter("drawable", move |text: String, fallback: Option<String>| {
        glyphs.drawable(&text, fallback.as_deref().unwrap_or_default())
    });
    env.add_filter(
        "fit",
        move |text: String, width: f32, size: f32, bold: Option<bool>| {
            for_fit.fit(&text, width, size, bold.unwrap_or(false))
        },
    );
    env.add_filter(
        "text_width",
        move |text: String, size: f32, bold: Option<bool>| {
            for_width.width(&text, size, bold.unwrap_or(false)).ceil()
        },
    );
}

fn strip_bidi_filter(value: Value) -> Value {
    let Some(original) = value.as_str() else {
        return value;
    };
    match text::strip_bidi(original) {
        Cow::Borrowed(_) => value,
        Cow::Owned(stripped) if value.is_safe() => Value::from_safe_string(stripped),
        Cow::Owned(stripped) => Value::from(stripped),
    }
}

/// minijinja's choice by extension, plus `.svg` (the card): SVG is XML, and the five escapes
/// below are XML's too.
fn auto_escape(name: &str) -> minijinja::AutoEscape {
    if is_svg(name) {
        return minijinja::AutoEscape::Html;
    }
    minijinja::default_auto_escape_callback(name)
}

fn is_svg(name: &str) -> bool {
    name.ends_with(".svg") || name.ends_with(".svg.j2")
}

/// Whether XML 1.0 allows `c` at all (escaped or not): the C0 controls but tab, newline and
/// carriage return, and U+FFFE/U+FFFF are never allowed, and one would make the card unreadable.
fn allowed_in_xml(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// minijinja's formatter, except that HTML escaping leaves `/` alone: `&lt; &gt; &amp; &quot; &#x27;`
/// are all HTML needs in text and quoted attributes, and URLs stay readable in the output (and in
/// `git diff`s of a published site).
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if matches!(state.auto_escape(), minijinja::AutoEscape::Html) && !value.is_safe() {
        if let Some(text) = value.as_str() {
            let xml_safe: String;
            let text = if is_svg(state.name()) && !text.chars().all(allowed_in_xml) {
                xml_safe = text.chars().filter(|&c| allowed_in_xml(c)).collect();
                &xml_safe
            } else {
                text
            };
            let mut rest = text;
            while let Some(at) = rest.find(['<', '>', '&', '"', '\'']) {
                out.write_str(&rest[..at])?;
                out.write_str(match rest.as_bytes()[at] {
                    b'<' => "&lt;",
                    b'>' => "&gt;",
                    b'&' => "&amp;",
                    b'"' => "&quot;",
                    _ => "&#x27;",
                })?;
                rest = &rest[at + 1..];
            }
            out.write_str(rest)?;
            return Ok(());
        }
    }
    minijinja::escape_formatter(out, state, value)
}

/// The error's kind and detail plus its causes, without minijinja's own `(in file:line)` suffix.
fn describe(err: &minijinja::Error) -> String {
    let mut message = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::site::fixtures::{default_theme, profile, site_info, theme};
    use crate::site::model::Link;
    use crate::site::vanity::NameKind;

    const _: () = {
        const fn send_sync<T: Send + Sync>() {}
        send_sync::<Renderer>();
    };

    fn renderer(theme: &Path) -> Result<Renderer, RenderError> {
        Renderer::new(theme, site_info())
    }

    fn hostile_profile() -> Profile {
        let mut p = profile(80351110224678912, "x");
        p.display_name = "<script>alert(1)</script>".into();
        p.handle = "\"quotes' & ampersands".into();
        p.username = p.handle.clone();
        if let Some(connections) = &mut p.connections {
            connections[0].name = "<script>alert(1)</script>".into();
        }
        if let Some(guilds) = &mut p.guilds {
            guilds[0].name = "evil\u{202E}txt.exe".into();
        }
        p
    }

    #[test]
    fn default_theme_renders_every_page() {
        let r = renderer(&default_theme()).unwrap();
        let p = profile(80351110224678912, "Nelly");
        let html = r.render_profile(&p).unwrap();
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains("<bdi>Nelly</bdi>"));
        assert!(html.contains("Active Developer"));
        assert!(html.contains("rel=\"me noopener\""));
        assert!(html.contains("2015-08-10"));
        let style = &r.assets().get("style.css").unwrap().hashed_name;
        assert!(
            html.contains(&format!("href=\"/static/{style}\"")),
            "{html}"
        );

        let index = r
            .render_index(&[ProfileSummary::from(&p)], &Pagination::single(1))
            .unwrap();
        assert!(index.contains("href=\"/u/80351110224678912/\""), "{index}");
        assert!(index.contains("1 person has"));
        assert!(r
            .render_index(&[], &Pagination::single(0))
            .unwrap()
            .contains("Nobody"));

        let landing = r.render_landing(&LandingPage::default()).unwrap();
        assert!(landing.contains("name=\"publish\" value=\"connections\""));
        assert!(landing.contains("name=\"publish\" value=\"guilds\""));
        assert!(landing.contains("action=\"/login\""));
        assert!(landing.contains("href=\"/delete\""));

        let error = MessagePage {
            title: "Nope".into(),
            message: "Discord said <no>.".into(),
            link: Some(Link {
                href: "/".into(),
                text: "Back".into(),
            }),
            edit_path: None,
            is_error: true,
        };
        let html = r.render_message(&error).unwrap();
        assert!(html.contains("role=\"alert\"") && html.contains("Discord said &lt;no&gt;."));
        let ok = MessagePage {
            title: "Done".into(),
            message: "Bye".into(),
            link: None,
            edit_path: None,
            is_error: false,
        };
        assert!(!r.render_message(&ok).unwrap().contains("role=\"alert\""));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let r = renderer(&default_theme()).unwrap();
        let p = hostile_profile();
        for html in [
            r.render_profile(&p).unwrap(),
            r.render_index(&[ProfileSummary::from(&p)], &Pagination::single(1))
                .unwrap(),
        ] {
            assert!(!html.contains("<script>"), "{html}");
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{html}"
            );
            assert!(
                html.contains("&quot;quotes&#x27; &amp; ampersands"),
                "{html}"
            );
            assert!(!html.contains("\"quotes'"));
        }
        let html = r.render_profile(&p).unwrap();
        // Names are bidi-isolated so an RTL override cannot reorder the text around them.
        assert!(
            html.contains("<bdi class=\"guild-name\">evil\u{202E}txt.exe</bdi>"),
            "{html}"
        );
    }

    #[test]
    fn strip_bidi_removes_controls_and_keeps_escaping() {
        let t = theme(&[(
            "t.html",
            "[{{ v|strip_bidi }}] [{% filter strip_bidi %}<b>{{ v }}</b>{% endfilter %}] [{{ n|strip_bidi }}] [{{ s|strip_bidi }}]",
        )]);
        let r = renderer(t.path()).unwrap();
        let ctx = context! {
            v => "<i>\u{202E}txt.exe\u{200F}",
            n => 42,
            s => Value::from_safe_string("<em>\u{2066}ok\u{2069}</em>".into()),
        };
        assert_eq!(
            r.render("t.html", ctx).unwrap(),
            "[&lt;i&gt;txt.exe] [<b>&lt;i&gt;txt.exe</b>] [42] [<em>ok</em>]"
        );
    }

    #[test]
    fn long_emoji_names_survive() {
        let r = renderer(&default_theme()).unwrap();
        let mut p = profile(1, "x");
        p.display_name = "😀🎉🔥✨🐍🦀🌈🍕🎮🚀💜🌙⭐🍀🎧📚🧩🎨🐱🐶🦊🐼🐧🦄🍩🍓🥑🌵🌊🔮🎲🏆".into();
        assert_eq!(p.display_name.chars().count(), 32);
        let html = r.render_profile(&p).unwrap();
        assert!(html.contains(&format!("<bdi>{}</bdi>", p.display_name)));
    }

    #[test]
    fn autoescape_follows_the_extension() {
        let t = theme(&[("plain.txt", "{{ v }}"), ("feed.xml", "{{ v }}")]);
        let r = renderer(t.path()).unwrap();
        let ctx = || context! { v => "<b>&" };
        assert_eq!(r.render("plain.txt", ctx()).unwrap(), "<b>&");
        assert_eq!(r.render("feed.xml", ctx()).unwrap(), "&lt;b&gt;&amp;");
        let ctx = || context! { v => "a/b \"c\" 'd'" };
        assert_eq!(
            r.render("feed.xml", ctx()).unwrap(),
            "a/b &quot;c&quot; &#x27;d&#x27;"
        );
        let ctx = || context! { v => Value::from_safe_string("<i>ok</i>".into()) };
        assert_eq!(r.render("feed.xml", ctx()).unwrap(), "<i>ok</i>");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let t = theme(&[("profile.html", "line one\n{% if profile %}\nno endif\n")]);
        let err = renderer(t.path()).unwrap_err();
        let message = err.to_string();
        let path = t.path().join("templates/profile.html");
        assert!(matches!(err, RenderError::Syntax { .. }), "{err:?}");
        assert!(
            message.contains(&format!("{}:", path.display())),
            "{message}"
        );
        let RenderError::Syntax { line, .. } = err else {
            unreachable!()
        };
        assert!(line >= 2, "{message}");

        let t = theme(&[("partials/nav.html", "ok\n\n{{ oops(\n")]);
        let message = renderer(t.path()).unwrap_err().to_string();
        assert!(message.contains("partials/nav.html:3"), "{message}");
    }

    #[test]
    fn undefined_values_are_errors_with_file_and_line() {
        let t = theme(&[(
            "profile.html",
            "{% extends \"base.html\" %}{% block content %}\n{{ profile.display_name }}\n{{ profile.nmae }}{% endblock %}",
        )]);
        let r = renderer(t.path()).unwrap();
        let err = r.render_profile(&profile(1, "N")).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, RenderError::Render { .. }), "{err:?}");
        let path = t.path().join("templates/profile.html");
        assert!(
            message.contains(&format!("{}:3", path.display())),
            "{message}"
        );
        assert!(message.contains("undefined"), "{message}");

        // A typo in the layout names the layout, not the page.
        let t = theme(&[(
            "base.html",
            "{{ site.titel }}{% block content %}{% endblock %}",
        )]);
        let message = renderer(t.path())
            .unwrap()
            .render_profile(&profile(1, "N"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("base.html:1"), "{message}");

        // Testing for definedness is allowed.
        let t = theme(&[(
            "message.html",
            "{% if page.nope is defined %}x{% else %}y{% endif %}",
        )]);
        let page = MessagePage {
            title: "t".into(),
            message: "m".into(),
            link: None,
            edit_path: None,
            is_error: false,
        };
        assert_eq!(
            renderer(t.path()).unwrap().render_message(&page).unwrap(),
            "y"
        );
    }

    #[test]
    fn missing_templates() {
        let t = theme(&[]);
        fs::remove_file(t.path().join("templates/landing.html")).unwrap();
        let err = renderer(t.path()).unwrap_err();
        assert!(
            matches!(err, RenderError::Theme(ThemeError::TemplateMissing { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains(
            &t.path()
                .join("templates/landing.html")
                .display()
                .to_string()
        ));

        let empty = tempfile::tempdir().unwrap();
        let err = renderer(empty.path()).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::Theme(ThemeError::TemplatesDirMissing { .. })
            ),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .contains(&empty.path().join("templates").display().to_string()));
    }

    #[test]
    fn editor_files_are_ignored() {
        let t = theme(&[
            (".profile.html.swp", "{% broken"),
            ("index.html~", "{% broken"),
        ]);
        assert!(renderer(t.path()).is_ok());
    }

    #[test]
    fn the_landing_page_offers_only_what_the_site_offers() {
        let r = Renderer::new(&default_theme(), site_info()).unwrap();
        let all = r.render_landing(&LandingPage::default()).unwrap();
        assert!(all.contains("value=\"connections\"") && all.contains("value=\"guilds\""));
        let only_guilds = LandingPage {
            offers_connections: false,
            ..LandingPage::default()
        };
        let html = r.render_landing(&only_guilds).unwrap();
        assert!(!html.contains("value=\"connections\"") && html.contains("value=\"guilds\""));
        let neither = LandingPage {
            offers_connections: false,
            offers_guilds: false,
            ..LandingPage::default()
        };
        assert!(!r.render_landing(&neither).unwrap().contains("<fieldset>"));
    }

    #[test]
    fn editor_droppings_in_a_theme_are_not_templates() {
        // An Emacs autosave of a half-edited template must not break the theme.
        let dir = theme(&[
            ("#profile.html#", "{% if %}"),
            ("4913", "{{"),
            ("index.html~", "{%"),
        ]);
        assert!(Renderer::new(dir.path(), site_info()).is_ok());
    }

    /// `<root>/themes/t`, a complete minimal theme, and `<root>/secret.txt` outside the themes.
    #[cfg(unix)]
    fn themes_with_secret() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let theme_dir = root.path().join("themes/t");
        let source = theme(&[]);
        fs::create_dir_all(theme_dir.join("templates")).unwrap();
        fs::create_dir_all(theme_dir.join("static")).unwrap();
        for entry in fs::read_dir(source.path().join("templates")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(
                entry.path(),
                theme_dir.join("templates").join(entry.file_name()),
            )
            .unwrap();
        }
        fs::write(root.path().join("secret.txt"), "s3cr3t").unwrap();
        (root, theme_dir)
    }

    #[cfg(unix)]
    #[test]
    fn theme_files_that_resolve_outside_the_themes_folder_are_errors() {
        use std::os::unix::fs::symlink;
        let cases: [(&str, &str); 5] = [
            ("templates/404.html", "secret.txt"),
            ("static/key.txt", "secret.txt"),
            ("static/fonts", "."),
            ("static", "."),
            ("templates", "."),
        ];
        for (link, target) in cases {
            let (root, theme_dir) = themes_with_secret();
            let at = theme_dir.join(link);
            if at.is_dir() {
                fs::remove_dir_all(&at).unwrap();
            } else if at.exists() {
                fs::remove_file(&at).unwrap();
            }
            let target = fs::canonicalize(root.path().join(target)).unwrap();
            symlink(&target, &at).unwrap();
            let err = renderer(&theme_dir).unwrap_err();
            assert!(
                matches!(err, RenderError::Theme(ThemeError::Outside(_))),
                "{link}: {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&at.display().to_string())
                    && message.contains("site.themes_dir")
                    && !message.contains("s3cr3t"),
                "{message}"
            );
        }

        // The theme folder itself may not point elsewhere either.
        let (root, theme_dir) = themes_with_secret();
        let elsewhere = root.path().join("elsewhere");
        fs::rename(&theme_dir, &elsewhere).unwrap();
        symlink(&elsewhere, &theme_dir).unwrap();
        let err = renderer(&theme_dir).unwrap_err();
        assert!(
            matches!(err, RenderError::Theme(ThemeError::Outside(_))),
            "{err:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn theme_links_that_stay_inside_the_themes_folder_are_followed() {
        let (root, theme_dir) = themes_with_secret();
        let shared = root.path().join("themes/shared");
        fs::create_dir_all(&shared).unwrap();
        fs::write(shared.join("logo.svg"), "<svg/>").unwrap();
        fs::write(shared.join("404.html"), "shared 404").unwrap();
        std::os::unix::fs::symlink("../../shared/logo.svg", theme_dir.join("static/logo.svg"))
            .unwrap();
        fs::remove_file(theme_dir.join("templates/404.html")).unwrap();
        std::os::unix::fs::symlink(
            shared.join("404.html"),
            theme_dir.join("templates/404.html"),
        )
        .unwrap();
        let r = renderer(&theme_dir).unwrap();
        assert_eq!(r.assets().get("logo.svg").unwrap().bytes, b"<svg/>");
        assert_eq!(r.render_not_found().unwrap(), "shared 404");
    }

    fn redirect(kind: NameKind, current: Option<&str>) -> RedirectPage {
        let p = profile(1, "Nelly");
        RedirectPage::new("nelly", kind, &ProfileSummary::from(&p), &p.url, current)
    }

    #[test]
    fn builtin_templates_render_and_themes_can_override_them() {
        let r = Renderer::new(&default_theme(), site_info()).unwrap();
        let html = r
            .render_redirect(&redirect(NameKind::Former, Some("nell")))
            .unwrap();
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(
            html.contains("moved to <a href=\"/nell/\">/nell/</a>"),
            "{html}"
        );
        assert!(
            html.contains("<title>Nelly – People &amp; Friends</title>"),
            "{html}"
        );
        let html = r
            .render_redirect(&redirect(NameKind::Current, Some("ignored")))
            .unwrap();
        assert!(!html.contains("moved"), "{html}");
        assert!(r.render_robots().unwrap().ends_with("sitemap.xml\n"));

        let t = theme(&[
            ("redirect.html", "mine {{ page.target }}"),
            ("robots.txt", "User-agent: *\nDisallow: /\n"),
        ]);
        let r = Renderer::new(t.path(), site_info()).unwrap();
        let html = r
            .render_redirect(&redirect(NameKind::Current, None))
            .unwrap();
        assert_eq!(html, "mine u/1/");
        assert_eq!(r.render_robots().unwrap(), "User-agent: *\nDisallow: /\n");
        assert!(r
            .render_sitemap(&Sitemap::default())
            .unwrap()
            .contains("<urlset"));
    }

    #[test]
    fn an_overriding_theme_template_with_a_typo_names_itself() {
        let t = theme(&[("sitemap.xml", "\n{{ sitemap.pagez }}")]);
        let r = Renderer::new(t.path(), site_info()).unwrap();
        let message = r
            .render_sitemap(&Sitemap::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("sitemap.xml:2"), "{message}");
        assert!(
            message.contains(&t.path().display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn the_404_template_is_required() {
        let t = theme(&[]);
        std::fs::remove_file(t.path().join("templates/404.html")).unwrap();
        let message = Renderer::new(t.path(), site_info())
            .unwrap_err()
            .to_string();
        assert!(message.contains("404.html"), "{message}");
    }
}
