//! The model of a profile's embeddable card (`u/<id>/card.svg` and `card-dark.svg`): what the
//! theme's `card.svg` template draws. Plain data; it must not read files or render.
//!
//! A card is shown as an image (a GitHub README's `<img>`, through GitHub's proxy), where an SVG may
//! load nothing: so every picture on it is inlined as a `data:` URI, and one the site has no copy
//! of (`site.images = "link"`, or a download that failed) is left out rather than linked — the
//! card then shows the user's initial on their accent colour instead of the avatar.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;

use super::profile::{Profile, ProfileConnection};
use super::text;

/// Connections a card lists at most.
const CARD_CONNECTIONS: usize = 3;
/// Characters of a name a card shows before it cuts it with `…` (SVG text does not wrap).
const NAME_CHARS: usize = 24;

/// The bytes and MIME type of the site's copy of an image URL of a page, when it has one.
pub(crate) type CopyOf<'a> = &'a dyn Fn(&str) -> Option<(Vec<u8>, &'static str)>;

/// One card: light or dark, with its pictures inlined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Card<'p> {
    /// The dark variant (`card-dark.svg`).
    pub(crate) dark: bool,
    /// The display name, cut to fit and without bidirectional controls (SVG has no `<bdi>`).
    pub(crate) name: String,
    /// The handle, the same way.
    pub(crate) handle: String,
    /// The avatar still as a `data:` URI, when the site has a copy.
    pub(crate) avatar: Option<String>,
    /// The decoration's still frame as a `data:` URI, when the site has a copy.
    pub(crate) decoration: Option<String>,
    /// The server tag's text, when shown.
    pub(crate) tag: Option<String>,
    /// Its badge as a `data:` URI, when the site has a copy.
    pub(crate) tag_badge: Option<String>,
    /// The first few public connections.
    pub(crate) connections: &'p [ProfileConnection],
}

impl<'p> Card<'p> {
    /// The card of `profile`; `bytes_of(url)` gives the bytes and MIME type of the site's copy
    /// of an image URL of the page, if there is one.
    pub(crate) fn new(profile: &'p Profile, dark: bool, bytes_of: CopyOf<'_>) -> Card<'p> {
        let inline = |url: Option<&String>| {
            let (bytes, mime) = bytes_of(url?)?;
            Some(format!("data:{mime};base64,{}", BASE64.encode(bytes)))
        };
        let connections = profile.connections.as_deref().unwrap_or_default();
        Card {
            dark,
            name: shorten(&profile.display_name),
            handle: shorten(&profile.handle),
            avatar: inline(Some(&profile.avatar_still_url)),
            decoration: inline(profile.decoration.as_ref().map(|d| &d.still_url)),
            tag: profile.server_tag.as_ref().map(|t| t.tag.clone()),
            tag_badge: inline(
                profile
                    .server_tag
                    .as_ref()
                    .and_then(|t| t.badge_url.as_ref()),
            ),
            connections: &connections[..connections.len().min(CARD_CONNECTIONS)],
        }
    }
}

/// `text` without bidirectional controls, at most [`NAME_CHARS`] characters (`…` at the cut).
fn shorten(text: &str) -> String {
    let text = text::strip_bidi(text);
    if text.chars().count() <= NAME_CHARS {
        return text.into_owned();
    }
    let mut cut: String = text.chars().take(NAME_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The MIME type of a copy, from its extension (given by [`crate::images`] from its bytes).
pub(crate) fn image_mime(file: &str) -> Option<&'static str> {
    Some(match file.rsplit_once('.')?.1 {
        "png" => "image/png",
        "jpg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::fixtures::profile;

    #[test]
    fn pictures_are_inlined_or_left_out_and_names_are_cut() {
        let mut p = profile(1, "A name far too long to fit on one small card");
        p.avatar_still_url = "/img/ab.png".into();
        let copies = |url: &str| {
            url.starts_with("/img/")
                .then(|| (vec![1, 2, 3], "image/png"))
        };
        let card = Card::new(&p, true, &copies);
        assert_eq!(card.avatar.as_deref(), Some("data:image/png;base64,AQID"));
        assert_eq!(card.decoration, None);
        assert!(card.dark);
        assert_eq!(card.name.chars().count(), NAME_CHARS);
        assert!(card.name.ends_with('…'));
        assert_eq!(card.connections.len(), 2);
        // No copy: nothing is linked instead.
        let card = Card::new(&p, false, &|_| None);
        assert_eq!(card.avatar, None);
        assert_eq!(shorten("evil\u{202E}txt"), "eviltxt");
        assert_eq!(image_mime("x.webp"), Some("image/webp"));
        assert_eq!(image_mime("x.svg"), None);
    }
}
