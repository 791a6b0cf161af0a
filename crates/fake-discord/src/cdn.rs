//! The fake Discord's CDN (`/cdn/...`): real PNG bytes for the avatars the fake knows and for the
//! default avatars, 404 for anything else. It serves images only: no API route lives here.

use warp::http::Method;

use crate::http::{Req, Resp};
use crate::state::State;

/// The image every CDN route serves: a real 64×64 PNG, so that a browser shows it.
const AVATAR_PNG: &[u8] = include_bytes!("../assets/avatar.png");

/// `GET /cdn/<path>`: a user's avatar when the hash is theirs, a default avatar, else 404. Every
/// format gets the same PNG (browsers go by the bytes, not the extension; there is no WebP
/// encoder here).
pub(crate) fn cdn_route(state: &State, req: &Req, path: &str) -> Resp {
    if req.method != Method::GET {
        return Resp::text(405, "405: Method Not Allowed");
    }
    let segments: Vec<&str> = path.split('/').collect();
    let found = match segments.as_slice() {
        ["avatars", user, file] => file
            .rsplit_once('.')
            .filter(|(_, ext)| matches!(*ext, "png" | "webp"))
            .and_then(|(hash, _)| {
                let user = state.users.get(*user)?;
                (user.user["avatar"].as_str() == Some(hash)).then_some(())
            })
            .is_some(),
        ["embed", "avatars", file] => {
            matches!(
                *file,
                "0.png" | "1.png" | "2.png" | "3.png" | "4.png" | "5.png"
            )
        }
        _ => false,
    };
    if !found {
        return Resp::text(404, "404: Not Found");
    }
    Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "image/png",
        body: AVATAR_PNG.to_vec(),
    }
}
