//! The fake Discord's CDN (`/cdn/...`): real images at Discord's CDN paths (PNG avatars, an APNG
//! decoration, PNG tag badges and nameplates, WebP banners, GIF server icons), 404 for anything
//! else, and the odd answers a test asks for ([`CdnAnswer`]). It serves images only: no API route
//! lives here.

use std::time::Duration;

use warp::http::Method;

use crate::http::{Req, Resp};
use crate::state::State;

/// A real 64×64 PNG: avatars and default avatars.
const AVATAR_PNG: &[u8] = include_bytes!("../assets/avatar.png");
/// A real 96×96 APNG of two frames (`assets/make.py` makes these).
const DECORATION_APNG: &[u8] = include_bytes!("../assets/decoration.png");
/// A real 16×16 PNG.
const BADGE_PNG: &[u8] = include_bytes!("../assets/badge.png");
/// A real 240×48 PNG.
const NAMEPLATE_PNG: &[u8] = include_bytes!("../assets/nameplate.png");
/// A real 240×96 WebP.
const BANNER_WEBP: &[u8] = include_bytes!("../assets/banner.webp");
/// A real 1×1 GIF.
const ICON_GIF: &[u8] = include_bytes!("../assets/icon.gif");

/// What the CDN answers for one path, when a test says so ([`crate::FakeDiscord::set_cdn_answer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdnAnswer {
    /// 404, as for an asset Discord does not have.
    NotFound,
    /// 200 with `Content-Type: image/png` and an HTML page as the body.
    NotAnImage,
    /// 200 with a valid PNG header followed by 9 MB of padding (more than any image should be).
    Oversized,
    /// 503, as when the CDN is overloaded: worth trying again later.
    Unavailable,
    /// 200 with these bytes as `image/png`.
    Bytes(Vec<u8>),
    /// The image Discord would have there, but only after this long (headers and all): a CDN
    /// that hangs.
    Slow(Duration),
}

/// How long the answer to `GET /cdn/<path>` is held back ([`CdnAnswer::Slow`]).
pub(crate) fn cdn_delay(state: &State, path: &str) -> Option<Duration> {
    match state.cdn_answers.get(path) {
        Some(CdnAnswer::Slow(delay)) => Some(*delay),
        _ => None,
    }
}

/// `GET /cdn/<path>`: what a test asked for this path, else the image Discord would have there.
pub(crate) fn cdn_route(state: &State, req: &Req, path: &str) -> Resp {
    if req.method != Method::GET {
        return Resp::text(405, "405: Method Not Allowed");
    }
    if let Some(answer) = state.cdn_answers.get(path) {
        if let Some(resp) = scripted(answer) {
            return resp;
        }
    }
    match image_at(state, path) {
        Some((content_type, body)) => Resp {
            status: 200,
            headers: Vec::new(),
            content_type,
            body: body.to_vec(),
        },
        None => Resp::text(404, "404: Not Found"),
    }
}

/// The answer a test scripted, or `None` when it is the usual image (late: [`cdn_delay`]).
fn scripted(answer: &CdnAnswer) -> Option<Resp> {
    let image = |body: Vec<u8>| Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "image/png",
        body,
    };
    Some(match answer {
        CdnAnswer::NotFound => Resp::text(404, "404: Not Found"),
        CdnAnswer::Unavailable => Resp::text(503, "503: Service Unavailable"),
        CdnAnswer::NotAnImage => {
            image(b"<!doctype html><title>Oops</title><script>x()</script>".to_vec())
        }
        CdnAnswer::Oversized => {
            let mut body = AVATAR_PNG.to_vec();
            body.resize(9 * 1024 * 1024, 0);
            image(body)
        }
        CdnAnswer::Bytes(bytes) => image(bytes.clone()),
        CdnAnswer::Slow(_) => return None,
    })
}

/// The image at `path` (without `/cdn/`), with its content type. Every format asked for gets the
/// kind of file Discord stores for that kind of image (browsers go by the bytes).
fn image_at(state: &State, path: &str) -> Option<(&'static str, &'static [u8])> {
    let segments: Vec<&str> = path.split('/').collect();
    let known_avatar = |user: &str, file: &str| {
        let (hash, ext) = file.rsplit_once('.')?;
        let user = state.users.get(user)?;
        let known = matches!(ext, "png" | "webp") && user.user["avatar"].as_str() == Some(hash);
        known.then_some(())
    };
    match segments.as_slice() {
        ["avatars", user, file] => known_avatar(user, file).map(|()| ("image/png", AVATAR_PNG)),
        ["embed", "avatars", "0.png" | "1.png" | "2.png" | "3.png" | "4.png" | "5.png"] => {
            Some(("image/png", AVATAR_PNG))
        }
        ["avatar-decoration-presets", file] if file.ends_with(".png") => {
            Some(("image/png", DECORATION_APNG))
        }
        ["guild-tag-badges", _, file] if file.ends_with(".png") => Some(("image/png", BADGE_PNG)),
        ["assets", "collectibles", .., "static.png"] => Some(("image/png", NAMEPLATE_PNG)),
        ["banners", _, _] => Some(("image/webp", BANNER_WEBP)),
        ["icons", _, _] => Some(("image/gif", ICON_GIF)),
        _ => None,
    }
}
