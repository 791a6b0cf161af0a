//! Requests and answers as the fake's handlers see them, and the error bodies Discord sends
//! (API errors, OAuth2 errors, form-body errors). Shapes only: no routing and no state here.

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};
use warp::http::header::{HeaderName, CONTENT_TYPE, LOCATION};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A request, read in full.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Req {
    /// The header `name`, when it is there and readable as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: status, extra headers, content type and body.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    /// `body` as JSON.
    pub(crate) fn json(status: u16, body: &Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }

    /// `body` as plain text.
    pub(crate) fn text(status: u16, body: impl Into<String>) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    /// `status` with no body (a 204).
    pub(crate) fn empty(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: Vec::new(),
        }
    }

    /// A 302 to `location`.
    pub(crate) fn redirect(location: String) -> Resp {
        Resp {
            status: 302,
            headers: vec![("location", location)],
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
        }
    }

    /// Adds the header `name`.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Resp {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds every header of `headers`.
    pub(crate) fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Resp {
        self.headers.extend(headers);
        self
    }

    /// The warp response (a header value that is not valid is left out).
    pub(crate) fn into_response(self) -> warp::reply::Response {
        let mut resp = warp::reply::Response::new(self.body.into());
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            let name = if name == "location" {
                LOCATION
            } else {
                HeaderName::from_static(name)
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        resp
    }
}

/// `{"message": "401: Unauthorized", "code": 0}` and friends.
pub(crate) fn api_error(status: u16, message: &str, code: u32) -> Resp {
    Resp::json(status, &json!({ "message": message, "code": code }))
}

/// `{"message": "404: Not Found", "code": 0}`: the status with its reason.
pub(crate) fn http_error(status: u16) -> Resp {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    api_error(status, &format!("{status}: {reason}"), 0)
}

/// The OAuth2 error body (RFC 6749 §5.2): `{"error", "error_description"?}`.
pub(crate) fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Resp {
    let body = match description {
        Some(d) => json!({ "error": error, "error_description": d }),
        None => json!({ "error": error }),
    };
    Resp::json(status, &body)
}

/// Discord's 400 "Invalid Form Body" naming the field that is wrong.
pub(crate) fn form_body_error(field: &str, code: &str, message: &str) -> Resp {
    Resp::json(
        400,
        &json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": { field: { "_errors": [ { "code": code, "message": message } ] } },
        }),
    )
}

/// The pairs of a form-urlencoded body or query.
pub(crate) fn pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `name` among `pairs`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `len` random alphanumeric characters: codes and tokens.
pub(crate) fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
