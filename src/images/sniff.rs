//! What a downloaded image is, by its magic bytes (the `infer` crate), never by the URL's
//! extension or the server's `Content-Type`: only PNG (APNG is a PNG), JPEG, WebP and GIF are
//! published, under a name made of their content.

use sha2::{Digest, Sha256};

/// The largest image accepted from the CDN.
pub(crate) const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

/// Why downloaded bytes are not published as an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SniffError {
    /// Something else, by its magic bytes (`found` is its MIME type, or `unknown`).
    #[error("not a PNG, JPEG, WebP or GIF image (its bytes say {found})")]
    NotAnImage { found: String },
}

/// The extension of an image strife-gen publishes: `png`, `jpg`, `webp` or `gif`.
pub(crate) fn image_extension(bytes: &[u8]) -> Result<&'static str, SniffError> {
    let kind = infer::get(bytes);
    match kind.map(|k| k.mime_type()) {
        Some("image/png") => Ok("png"),
        Some("image/jpeg") => Ok("jpg"),
        Some("image/webp") => Ok("webp"),
        Some("image/gif") => Ok("gif"),
        other => Err(SniffError::NotAnImage {
            found: other.unwrap_or("unknown").to_owned(),
        }),
    }
}

/// `<first 16 hex digits of the SHA-256>.<ext>`: the copy's file name under `img/`.
pub(crate) fn file_name(bytes: &[u8], extension: &str) -> String {
    let hash = hex::encode(&Sha256::digest(bytes)[..8]);
    format!("{hash}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn images_are_told_by_their_bytes() {
        assert_eq!(image_extension(PNG), Ok("png"));
        assert_eq!(image_extension(b"\xff\xd8\xff\xe0\0\x10JFIF"), Ok("jpg"));
        assert_eq!(image_extension(b"RIFF\x24\0\0\0WEBPVP8 "), Ok("webp"));
        assert_eq!(image_extension(b"GIF89a\x01\0\x01\0"), Ok("gif"));
        for bytes in [
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..],
            b"<html><script>alert(1)</script>",
            b"%PDF-1.7\n",
            b"",
            b"\x89PN",
        ] {
            let error = image_extension(bytes).unwrap_err();
            assert!(error.to_string().contains("not a PNG"), "{error}");
        }
        let pdf = image_extension(b"%PDF-1.7\n").unwrap_err();
        assert!(pdf.to_string().contains("application/pdf"), "{pdf}");
    }

    #[test]
    fn names_come_from_the_content() {
        let name = file_name(PNG, "png");
        assert_eq!(name.len(), 16 + 4);
        assert!(name.ends_with(".png"));
        assert_eq!(name, file_name(PNG, "png"));
        assert_ne!(name, file_name(b"other", "png"));
    }
}
