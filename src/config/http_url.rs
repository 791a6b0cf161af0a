//! [`HttpUrl`]: an absolute `http`/`https` URL, the type of every URL in `strife.toml`.
//! Only parsing and joining: it never fetches anything.

use std::fmt;

use serde::{Deserialize, Deserializer};
use url::Url;

/// An absolute `http` or `https` URL (anything else is refused while parsing).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(Url);

impl HttpUrl {
    /// Parses `text`; `Err` says why it is not an absolute http(s) URL.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("{text:?} must be an http:// or https:// URL"));
        }
        Ok(HttpUrl(url))
    }

    /// One of our built-in defaults (valid by construction: the config tests parse them all).
    pub(super) fn fixed(text: &str) -> Self {
        HttpUrl::parse(text).expect("built-in URL is valid")
    }

    /// The URL itself.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// This URL with `path` appended below its own path, whether or not it ends with a slash.
    pub(crate) fn join_path(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HttpUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}
