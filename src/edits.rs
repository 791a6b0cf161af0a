//! Owns what people write on their own page (`GET/POST /me`): the fields, their limits, the
//! checks of a submitted form, and how saved edits change a page model.
//! It must not store or render anything, and must never let a value through unchecked.
//!
//! A person edits `bio` (one line), `about` (Markdown, rendered with the content files'
//! sanitiser), `pronouns`, up to [`MAX_LINKS`] links (title + https URL) and whether their
//! connections and servers are shown. Bidirectional controls are removed from every value
//! (they would reorder the text around them: a link reading `exe.txt` for `txt.exe`); control
//! characters other than line breaks in `about` are refused. An operator's
//! `content/users/<id>.md` wins field by field (see [`crate::content`]): it is applied after
//! these.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::content::{markdown, USER_HEADING_OFFSET};
use crate::site::profile::{Profile, ProfileLink};
use crate::site::text::is_bidi_control;

/// Longest bio, in characters (Discord's own "about me" is 190).
pub(crate) const BIO_CHARS: usize = 190;
/// Longest `about`, in characters of Markdown.
pub(crate) const ABOUT_CHARS: usize = 4000;
/// Longest pronouns, in characters.
pub(crate) const PRONOUNS_CHARS: usize = 40;
/// Longest link title, in characters.
pub(crate) const LINK_TITLE_CHARS: usize = 100;
/// Longest link URL, in characters.
pub(crate) const LINK_URL_CHARS: usize = 2000;
/// Most links on a page.
pub(crate) const MAX_LINKS: usize = 8;
/// The name of the form field that carries the session's CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// What one person wrote on their page: stored as JSON, published with their page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ProfileEdits {
    /// One line of plain text.
    pub(crate) bio: Option<String>,
    /// Markdown, rendered like a content file's body.
    pub(crate) about: Option<String>,
    pub(crate) pronouns: Option<String>,
    /// https links, in the order given.
    pub(crate) links: Vec<EditLink>,
    /// Whether their connections are shown (when they consented to publishing them).
    pub(crate) show_connections: bool,
    /// Whether their servers are shown (when they consented to publishing them).
    pub(crate) show_guilds: bool,
}

impl Default for ProfileEdits {
    /// Nothing written, everything consented to shown: a page as it was before any edit.
    fn default() -> Self {
        ProfileEdits {
            bio: None,
            about: None,
            pronouns: None,
            links: Vec::new(),
            show_connections: true,
            show_guilds: true,
        }
    }
}

/// A link a person listed on their page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditLink {
    pub(crate) title: String,
    /// An absolute `https` URL, normalised.
    pub(crate) url: String,
}

impl ProfileEdits {
    /// Puts the edits on a page model: each field that holds something replaces the model's,
    /// and a part the person chose not to show is taken out. Apply the operator's content file
    /// afterwards: it wins where it says something.
    pub(crate) fn apply(&self, profile: &mut Profile) {
        if let Some(bio) = &self.bio {
            profile.bio = Some(bio.clone());
        }
        if let Some(pronouns) = &self.pronouns {
            profile.pronouns = Some(pronouns.clone());
        }
        if !self.links.is_empty() {
            profile.links = self
                .links
                .iter()
                .map(|link| ProfileLink {
                    title: link.title.clone(),
                    url: link.url.clone(),
                })
                .collect();
        }
        if let Some(about) = &self.about {
            profile.body_html = Some(markdown::to_html(about, USER_HEADING_OFFSET));
        }
        if !self.show_connections {
            profile.connections = None;
        }
        if !self.show_guilds {
            profile.guilds = None;
        }
    }
}

/// Which of the "show" choices a person is offered: only those their grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub(crate) struct Offers {
    pub(crate) connections: bool,
    pub(crate) guilds: bool,
}

/// A form whose field names are not those of the edit form: refused whole (400), since no
/// browser showing our form sends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MalformedForm {
    #[error("the form has a field {0:?} that the edit form does not have")]
    Unknown(String),
    #[error("the form has the field {0:?} more than once")]
    Repeated(String),
}

/// A submitted edit form: its values by field name, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EditForm {
    values: HashMap<String, String>,
}

/// What is wrong with a submitted form, by field name (`bio`, `link_url_3`, ...).
pub(crate) type FieldErrors = BTreeMap<String, String>;

impl EditForm {
    /// Reads an `application/x-www-form-urlencoded` body. Every field must be one of the edit
    /// form's, each at most once.
    pub(crate) fn parse(body: &[u8]) -> Result<EditForm, MalformedForm> {
        let mut values = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if !is_field(&name) {
                return Err(MalformedForm::Unknown(name.into_owned()));
            }
            if values
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(MalformedForm::Repeated(name.into_owned()));
            }
        }
        Ok(EditForm { values })
    }

    /// The CSRF token sent with the form.
    pub(crate) fn csrf(&self) -> Option<&str> {
        self.value(CSRF_FIELD)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A "show" checkbox: ticked when sent, when the form `offered` it; else the `previous`
    /// choice (the form did not show it).
    fn shown(&self, name: &str, offered: bool, previous: bool) -> bool {
        match offered {
            true => self.values.contains_key(name),
            false => previous,
        }
    }

    /// The edits the form asks for, or what is wrong with each field. A "show" choice that is
    /// not `offered` keeps its `previous` value (the form did not show it).
    pub(crate) fn validate(
        &self,
        offered: Offers,
        previous: &ProfileEdits,
    ) -> Result<ProfileEdits, FieldErrors> {
        let mut errors = FieldErrors::new();
        let check =
            |errors: &mut FieldErrors, name: &str, result: Result<Option<String>, String>| {
                result.unwrap_or_else(|problem| {
                    errors.insert(name.to_owned(), problem);
                    None
                })
            };
        let bio = check(&mut errors, "bio", one_line(self.value("bio"), BIO_CHARS));
        let pronouns = one_line(self.value("pronouns"), PRONOUNS_CHARS);
        let pronouns = check(&mut errors, "pronouns", pronouns);
        let about = markdown_text(self.value("about"), ABOUT_CHARS);
        let about = check(&mut errors, "about", about);
        let mut links = Vec::new();
        for n in 1..=MAX_LINKS {
            let (title_field, url_field) = link_fields(n);
            let title = one_line(self.value(&title_field), LINK_TITLE_CHARS);
            let title = check(&mut errors, &title_field, title);
            let url = check(&mut errors, &url_field, link_url(self.value(&url_field)));
            match (title, url) {
                (title, Some(url)) => links.push(EditLink {
                    title: title.unwrap_or_else(|| url.clone()),
                    url,
                }),
                (Some(_), None) if !errors.contains_key(&url_field) => {
                    errors.insert(url_field, "a link needs an https:// address".into());
                }
                _ => {}
            }
        }
        let edits = ProfileEdits {
            bio,
            about,
            pronouns,
            links,
            show_connections: self.shown(
                "show_connections",
                offered.connections,
                previous.show_connections,
            ),
            show_guilds: self.shown("show_guilds", offered.guilds, previous.show_guilds),
        };
        match errors.is_empty() {
            true => Ok(edits),
            false => Err(errors),
        }
    }

    /// The values as sent, for showing the form again with its errors.
    pub(crate) fn values(&self, offered: Offers, previous: &ProfileEdits) -> FormValues {
        let text = |name: &str| self.value(name).unwrap_or_default().to_owned();
        let links = (1..=MAX_LINKS)
            .map(|n| {
                let (title, url) = link_fields(n);
                FormLink {
                    n,
                    title: text(&title),
                    url: text(&url),
                }
            })
            .collect();
        FormValues {
            bio: text("bio"),
            about: text("about"),
            pronouns: text("pronouns"),
            links,
            show_connections: self.shown(
                "show_connections",
                offered.connections,
                previous.show_connections,
            ),
            show_guilds: self.shown("show_guilds", offered.guilds, previous.show_guilds),
        }
    }
}

/// What the edit form's fields hold, for its template: every link slot, empty ones too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FormValues {
    pub(crate) bio: String,
    pub(crate) about: String,
    pub(crate) pronouns: String,
    /// [`MAX_LINKS`] slots, numbered from 1 (`link_title_1`, `link_url_1`).
    pub(crate) links: Vec<FormLink>,
    pub(crate) show_connections: bool,
    pub(crate) show_guilds: bool,
}

/// One link slot of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FormLink {
    pub(crate) n: usize,
    pub(crate) title: String,
    pub(crate) url: String,
}

impl From<&ProfileEdits> for FormValues {
    fn from(edits: &ProfileEdits) -> Self {
        let links = (1..=MAX_LINKS)
            .map(|n| {
                let link = edits.links.get(n - 1);
                FormLink {
                    n,
                    title: link.map(|l| l.title.clone()).unwrap_or_default(),
                    url: link.map(|l| l.url.clone()).unwrap_or_default(),
                }
            })
            .collect();
        FormValues {
            bio: edits.bio.clone().unwrap_or_default(),
            about: edits.about.clone().unwrap_or_default(),
            pronouns: edits.pronouns.clone().unwrap_or_default(),
            links,
            show_connections: edits.show_connections,
            show_guilds: edits.show_guilds,
        }
    }
}

/// The field names of link `n` (from 1).
fn link_fields(n: usize) -> (String, String) {
    (format!("link_title_{n}"), format!("link_url_{n}"))
}

/// Whether `name` is a field of the edit form.
fn is_field(name: &str) -> bool {
    const FIXED: [&str; 6] = [
        "bio",
        "about",
        "pronouns",
        "show_connections",
        "show_guilds",
        CSRF_FIELD,
    ];
    if FIXED.contains(&name) {
        return true;
    }
    let number = name
        .strip_prefix("link_title_")
        .or_else(|| name.strip_prefix("link_url_"));
    // Digits only, so `link_url_01` and `link_url_+1` are not a second name for `link_url_1`.
    number.is_some_and(|n| {
        !n.starts_with('0')
            && n.bytes().all(|b| b.is_ascii_digit())
            && n.parse::<usize>()
                .is_ok_and(|n| (1..=MAX_LINKS).contains(&n))
    })
}

/// `raw` without bidirectional controls and surrounding white space.
fn cleaned(raw: &str) -> String {
    raw.chars()
        .filter(|&c| !is_bidi_control(c))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A one-line text field of at most `max` characters; `None` when empty.
fn one_line(raw: Option<&str>, max: usize) -> Result<Option<String>, String> {
    let text = cleaned(raw.unwrap_or_default());
    if text.contains(['\n', '\r']) {
        return Err("must be one line".into());
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    at_most(text, max)
}

/// A Markdown field of at most `max` characters (line breaks counted as one); `None` when empty.
fn markdown_text(raw: Option<&str>, max: usize) -> Result<Option<String>, String> {
    let text = cleaned(&raw.unwrap_or_default().replace("\r\n", "\n"));
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("must not contain control characters".into());
    }
    at_most(text, max)
}

fn at_most(text: String, max: usize) -> Result<Option<String>, String> {
    let count = text.chars().count();
    if count > max {
        return Err(format!(
            "is {count} characters long; at most {max} are allowed"
        ));
    }
    Ok(Some(text).filter(|t| !t.is_empty()))
}

/// A link address: an absolute `https` URL with a host, normalised; `None` when empty.
fn link_url(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(text) = one_line(raw, LINK_URL_CHARS)? else {
        return Ok(None);
    };
    // Parsed the way a browser parses it, so `JAVASCRIPT:` or `java\tscript:` fool nothing.
    match url::Url::parse(&text) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => Ok(Some(url.to_string())),
        Ok(url) => Err(format!(
            "must be an https:// address, not {}:",
            url.scheme()
        )),
        Err(_) => Err("is not a web address (it must start with https://)".into()),
    }
}

#[cfg(test)]
mod tests;
