//! Owns the operator's `content/` folder: front page text and per-user additions.
//! It must not read outside that folder nor let Markdown carry scripts into a page.
//!
//! The site's own words, from the `content/` folder (`site.content_dir`):
//!
//! - `index.md` — Markdown shown on the front page.
//! - `users/<id>.md` or `users/<username>.md` — more for one person's page: optional TOML front
//!   matter between `+++` lines, then a Markdown body.
//!
//! ```text
//! +++
//! bio = "Rust, synths and long walks."
//! pronouns = "she/her"
//! links = [{ title = "Blog", url = "https://nelly.example" }]
//! hide = ["guilds"]
//! +++
//! Anything in **Markdown**.
//! ```
//!
//! `hide` removes parts of the page ([`Hide`]) from the page model itself, so nothing that
//! is built from the model (the page, its JSON) has them. A file is matched to a user by id first,
//! then by current username (case-insensitively).
//!
//! Content problems never stop a build: each one is a [`ContentWarning`] naming the file and line,
//! and the file (or the one bad entry) is left out. The one exception is a file that resolves
//! outside the folder (a link to `/etc/passwd`, to the key file, a linked `users/` folder that
//! points elsewhere): publishing it could leak anything, so it is an error ([`FileError`]) that
//! stops the build. Markdown is rendered by [`markdown`], which escapes raw HTML and drops unsafe
//! links.

pub(crate) mod markdown;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use serde::Deserialize;
use toml::Spanned;

use crate::digest::{Digest, KeyBuilder};
use crate::discord::models::Snowflake;
use crate::files::{Confined, FileError};
use crate::site::model::FrontPage;
use crate::site::profile::{Profile, ProfileLink};

/// A part of a profile a content file may hide (`hide = ["banner"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hide {
    Banner,
    AccentColor,
    Badges,
    Connections,
    Guilds,
    /// The server tag beside the name.
    ServerTag,
    /// The avatar decoration.
    Decoration,
    /// The nameplate behind the name.
    Nameplate,
}

impl Hide {
    /// Every part, in the order the docs list them.
    pub(crate) const ALL: [Hide; 8] = [
        Hide::Banner,
        Hide::AccentColor,
        Hide::Badges,
        Hide::Connections,
        Hide::Guilds,
        Hide::ServerTag,
        Hide::Decoration,
        Hide::Nameplate,
    ];

    /// The name a content file uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Hide::Banner => "banner",
            Hide::AccentColor => "accent_color",
            Hide::Badges => "badges",
            Hide::Connections => "connections",
            Hide::Guilds => "guilds",
            Hide::ServerTag => "server_tag",
            Hide::Decoration => "decoration",
            Hide::Nameplate => "nameplate",
        }
    }

    /// Removes this part from a page model.
    fn apply(self, profile: &mut Profile) {
        match self {
            Hide::Banner => profile.banner_url = None,
            Hide::AccentColor => profile.accent_color = None,
            Hide::Badges => profile.badges.clear(),
            Hide::Connections => profile.connections = None,
            Hide::Guilds => profile.guilds = None,
            Hide::ServerTag => profile.server_tag = None,
            Hide::Decoration => profile.decoration = None,
            Hide::Nameplate => profile.nameplate = None,
        }
    }
}

impl fmt::Display for Hide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `hide` entry that names no part of a profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown part {0:?} (known: banner, accent_color, badges, connections, guilds, server_tag, \
     decoration, nameplate)"
)]
pub(crate) struct UnknownPart(pub(crate) String);

impl FromStr for Hide {
    type Err = UnknownPart;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Hide::ALL
            .into_iter()
            .find(|part| part.as_str() == text)
            .ok_or_else(|| UnknownPart(text.to_owned()))
    }
}

/// Headings in a user file's body start at `<h3>`: the page has its own `<h1>` (the name) and
/// `<h2>` sections.
pub(crate) const USER_HEADING_OFFSET: usize = 2;

/// Longest front-page description (for `<meta name="description">`), in characters.
const DESCRIPTION_CHARS: usize = 200;

/// A problem with one content file. Displayed as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentWarning {
    pub(crate) path: PathBuf,
    /// 1-based line in the file, when the problem has one.
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl fmt::Display for ContentWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What one `users/*.md` file adds to a page.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct UserContent {
    pub(crate) path: PathBuf,
    /// Of the file's path and text: changes whenever what it adds to the page may.
    pub(crate) digest: Digest,
    pub(crate) bio: Option<String>,
    pub(crate) pronouns: Option<String>,
    pub(crate) links: Vec<ProfileLink>,
    pub(crate) hide: Vec<Hide>,
    pub(crate) body_html: Option<String>,
}

impl UserContent {
    /// Adds the content to the page model and removes what it hides. Only the fields the file
    /// sets are replaced: what the person wrote themselves ([`crate::edits`]) stays where the
    /// operator's file says nothing.
    pub(crate) fn apply(&self, profile: &mut Profile) {
        if self.bio.is_some() {
            profile.bio.clone_from(&self.bio);
        }
        if self.pronouns.is_some() {
            profile.pronouns.clone_from(&self.pronouns);
        }
        if !self.links.is_empty() {
            profile.links.clone_from(&self.links);
        }
        if self.body_html.is_some() {
            profile.body_html.clone_from(&self.body_html);
        }
        for part in &self.hide {
            part.apply(profile);
        }
    }

    /// The fields of the edit form (`GET /me`) this file decides instead of the person: `bio`,
    /// `pronouns`, `links`, `about` (the file's body), `show_connections` and `show_guilds`
    /// (hidden by the file).
    pub(crate) fn overridden_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        let sets = [
            ("bio", self.bio.is_some()),
            ("about", self.body_html.is_some()),
            ("pronouns", self.pronouns.is_some()),
            ("links", !self.links.is_empty()),
            ("show_connections", self.hide.contains(&Hide::Connections)),
            ("show_guilds", self.hide.contains(&Hide::Guilds)),
        ];
        for (field, set) in sets {
            if set {
                fields.push(field);
            }
        }
        fields
    }
}

/// All content of a site, loaded once per build. Matching users records which files were used,
/// so [`Content::finish`] can warn about files that matched nobody.
#[derive(Debug, Default)]
pub(crate) struct Content {
    pub(crate) front_page: Option<FrontPage>,
    users: Vec<UserContent>,
    by_id: HashMap<Snowflake, usize>,
    /// Lower-cased username → file.
    by_username: HashMap<String, usize>,
    /// Indexes of files that matched a user.
    used: Mutex<HashSet<usize>>,
}

impl Content {
    /// Reads `dir` (a missing folder is no content). Problems come back as warnings; a file
    /// that resolves outside `dir` is an error.
    pub(crate) fn load(dir: &Path) -> Result<(Content, Vec<ContentWarning>), FileError> {
        let mut content = Content::default();
        let mut warnings = Vec::new();
        let folder = match Confined::new("site.content_dir", dir) {
            Ok(folder) => folder,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((content, warnings)),
            Err(e) => {
                warnings.push(warning(dir, None, format!("cannot read folder: {e}")));
                return Ok((content, warnings));
            }
        };
        let index = dir.join("index.md");
        match folder.read_to_string(&index) {
            Ok(text) => content.front_page = Some(front_page(&text)),
            Err(e) if e.is_not_found() => {}
            Err(e) => warnings.push(unreadable(e, "")?),
        }
        let users = dir.join("users");
        if folder.resolve(&users)?.is_some_and(|real| real.is_dir()) {
            content.load_users(&folder, &users, &mut warnings)?;
        }
        Ok((content, warnings))
    }

    fn load_users(
        &mut self,
        folder: &Confined,
        dir: &Path,
        warnings: &mut Vec<ContentWarning>,
    ) -> Result<(), FileError> {
        let mut paths = match fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>(),
            Err(e) => {
                warnings.push(warning(dir, None, format!("cannot read folder: {e}")));
                return Ok(());
            }
        };
        paths.sort();
        for path in paths {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if crate::files::is_ignored(&path) || path.is_dir() {
                continue;
            }
            let Some(stem) = file_name.strip_suffix(".md").filter(|s| !s.is_empty()) else {
                let message = "not a Markdown file (`<id>.md` or `<username>.md`); ignored";
                warnings.push(warning(&path, None, message.into()));
                continue;
            };
            let text = match folder.read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    warnings.push(unreadable(e, "; ignored")?);
                    continue;
                }
            };
            if let Some(mut user) = parse_user(&path, &text, warnings) {
                user.digest = KeyBuilder::new("content file")
                    .text(&path.to_string_lossy())
                    .text(&text)
                    .finish();
                self.add_user(stem, user);
            }
        }
        Ok(())
    }

    fn add_user(&mut self, stem: &str, user: UserContent) {
        let at = self.users.len();
        self.users.push(user);
        match Snowflake::parse(stem) {
            Some(id) => self.by_id.insert(id, at),
            None => self.by_username.insert(stem.to_lowercase(), at),
        };
    }

    /// The content file for a user: `<id>.md`, else `<username>.md`.
    pub(crate) fn for_user(&self, id: Snowflake, username: &str) -> Option<&UserContent> {
        let at = self
            .by_id
            .get(&id)
            .or_else(|| self.by_username.get(&username.to_lowercase()))?;
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*at);
        Some(&self.users[*at])
    }

    /// Applies the user's content file, if there is one, to their page model.
    pub(crate) fn apply(&self, profile: &mut Profile) {
        if let Some(user) = self.for_user(profile.id, &profile.username) {
            user.apply(profile);
        }
    }

    /// Warnings for files that matched no user (call after every user was looked up).
    pub(crate) fn finish(&self) -> Vec<ContentWarning> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let mut unused: Vec<&UserContent> = (0..self.users.len())
            .filter(|at| !used.contains(at))
            .map(|at| &self.users[at])
            .collect();
        unused.sort_by(|a, b| a.path.cmp(&b.path));
        unused
            .into_iter()
            .map(|user| {
                let message = "no published user has this id or username; the file is not used";
                warning(&user.path, None, message.into())
            })
            .collect()
    }
}

/// A file that cannot be read is a warning (`cannot read: <why><suffix>`); one that resolves
/// outside the folder stays an error.
fn unreadable(error: FileError, suffix: &str) -> Result<ContentWarning, FileError> {
    match error {
        FileError::Read { path, source } => Ok(warning(
            &path,
            None,
            format!("cannot read: {source}{suffix}"),
        )),
        outside @ FileError::Outside { .. } => Err(outside),
    }
}

fn warning(path: &Path, line: Option<usize>, message: String) -> ContentWarning {
    ContentWarning {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn front_page(text: &str) -> FrontPage {
    FrontPage {
        html: markdown::to_html(text, 1),
        description: markdown::first_paragraph_text(text, DESCRIPTION_CHARS),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    #[serde(default)]
    bio: Option<String>,
    #[serde(default)]
    pronouns: Option<String>,
    #[serde(default)]
    links: Vec<RawLink>,
    #[serde(default)]
    hide: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    title: String,
    url: Spanned<String>,
}

/// Parses one user file. `None` (with a warning) when the front matter cannot be used at all;
/// a bad link or `hide` entry only loses that entry.
fn parse_user(path: &Path, text: &str, warnings: &mut Vec<ContentWarning>) -> Option<UserContent> {
    let Split { front, body } = match split_front_matter(text) {
        Ok(split) => split,
        Err(line) => {
            let message = "front matter opened with `+++` is never closed; the file is ignored";
            warnings.push(warning(path, Some(line), message.into()));
            return None;
        }
    };
    let mut user = UserContent {
        path: path.to_path_buf(),
        ..UserContent::default()
    };
    if let Some(toml_text) = front {
        let line_of = |offset: usize| FRONT_MATTER_LINE + toml_text[..offset].matches('\n').count();
        let front: FrontMatter = match toml::from_str(toml_text) {
            Ok(front) => front,
            Err(e) => {
                let line = e
                    .span()
                    .map(|span| line_of(span.start))
                    .unwrap_or(FRONT_MATTER_LINE);
                let message = format!("{}; the file is ignored", e.message().trim_end());
                warnings.push(warning(path, Some(line), message));
                return None;
            }
        };
        user.bio = non_empty(front.bio);
        user.pronouns = non_empty(front.pronouns);
        for link in front.links {
            match check_link_url(link.url.get_ref()) {
                Ok(url) => {
                    let title = link.title.trim();
                    let title = if title.is_empty() {
                        url.clone()
                    } else {
                        title.to_owned()
                    };
                    user.links.push(ProfileLink { title, url });
                }
                Err(problem) => {
                    let line = line_of(link.url.span().start);
                    warnings.push(warning(
                        path,
                        Some(line),
                        format!("{problem}; link left out"),
                    ));
                }
            }
        }
        for part in front.hide {
            match part.get_ref().parse::<Hide>() {
                Ok(hide) => user.hide.push(hide),
                Err(unknown) => {
                    let line = line_of(part.span().start);
                    let message = format!("hide: {unknown}; it stays visible");
                    warnings.push(warning(path, Some(line), message));
                }
            }
        }
    }
    if !body.trim().is_empty() {
        user.body_html = Some(markdown::to_html(body, USER_HEADING_OFFSET));
    }
    Some(user)
}

/// The front matter's TOML starts on the file's second line (after the opening `+++`).
const FRONT_MATTER_LINE: usize = 2;

/// A content file cut in two.
#[derive(Debug, PartialEq)]
struct Split<'a> {
    /// The TOML between the `+++` lines (it starts on line [`FRONT_MATTER_LINE`]).
    front: Option<&'a str>,
    body: &'a str,
}

/// Splits `+++\n<toml>\n+++\n<body>`. A file not starting with `+++` is all body. `Err(1)` (the
/// line of the opening fence) when the front matter is never closed.
fn split_front_matter(text: &str) -> Result<Split<'_>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let is_fence = |line: &str| line.trim_end() == "+++";
    match lines.next() {
        Some(first) if is_fence(first) => {
            let start = first.len();
            let mut at = start;
            for line in lines {
                if is_fence(line) {
                    return Ok(Split {
                        front: Some(&text[start..at]),
                        body: &text[at + line.len()..],
                    });
                }
                at += line.len();
            }
            Err(1)
        }
        _ => Ok(Split {
            front: None,
            body: text,
        }),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An absolute `http`/`https` URL, normalised.
fn check_link_url(raw: &str) -> Result<String, String> {
    match url::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(url.to_string())
        }
        Ok(url) => Err(format!(
            "links: {raw:?} must be an http or https URL, not {}:",
            url.scheme()
        )),
        Err(e) => Err(format!("links: {raw:?} is not a URL ({e})")),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
