//! Short content digests: of a file's bytes, and of everything a file is made from (its inputs
//! key), so an incremental build can tell what changed without reading or rendering. It must not
//! know what is hashed: callers feed the parts.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// The first 128 bits of a SHA-256: collisions are out of reach for any site, and a manifest of
/// 100,000 users stays small.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 16]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_sha(Sha256::digest(bytes).as_slice())
    }

    fn from_sha(sha: &[u8]) -> Digest {
        let mut short = [0; 16];
        short.copy_from_slice(&sha[..16]);
        Digest(short)
    }

    /// The lower-case hex form (32 characters).
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Parses [`Digest::to_hex`]'s form.
    pub fn from_hex(text: &str) -> Option<Digest> {
        let mut short = [0; 16];
        hex::decode_to_slice(text, &mut short).ok()?;
        Some(Digest(short))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// Hex in text formats (JSON), the 16 bytes as they are in binary ones (the build manifest).
impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        if !deserializer.is_human_readable() {
            return <[u8; 16]>::deserialize(deserializer).map(Digest);
        }
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Digest::from_hex(&text).ok_or_else(|| serde::de::Error::custom("not a 32-digit hex digest"))
    }
}

/// Builds a [`Digest`] from several parts. Every part is length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` differ.
#[derive(Clone)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// A key for things of one `kind` (a label kept apart from every other kind's).
    pub fn new(kind: &str) -> KeyBuilder {
        KeyBuilder(Sha256::new()).bytes(kind.as_bytes())
    }

    /// Adds raw bytes.
    pub fn bytes(mut self, part: &[u8]) -> KeyBuilder {
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part);
        self
    }

    /// Adds a string.
    pub fn text(self, part: &str) -> KeyBuilder {
        self.bytes(part.as_bytes())
    }

    /// Adds another digest.
    pub fn digest(self, part: Digest) -> KeyBuilder {
        self.bytes(&part.0)
    }

    /// Adds a value by its JSON form. Values that cannot be serialized (none of strife-gen's
    /// page models) add a marker that no JSON equals, so they never match a previous key.
    pub fn json(self, part: &impl Serialize) -> KeyBuilder {
        match serde_json::to_vec(part) {
            Ok(json) => self.bytes(&json),
            Err(error) => self.text(&format!("\0unserializable: {error}")),
        }
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        Digest::from_sha(self.0.finalize().as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_kept_apart_and_kinds_too() {
        let ab_c = KeyBuilder::new("k").text("ab").text("c").finish();
        let a_bc = KeyBuilder::new("k").text("a").text("bc").finish();
        assert_ne!(ab_c, a_bc);
        let other_kind = KeyBuilder::new("j").text("ab").text("c").finish();
        assert_ne!(ab_c, other_kind);
        assert_eq!(ab_c, KeyBuilder::new("k").text("ab").text("c").finish());
    }

    #[test]
    fn digests_round_trip_through_hex_and_json() {
        let digest = Digest::of(b"hello");
        assert_eq!(digest.to_hex(), "2cf24dba5fb0a30e26e83b2ac5b9e29e");
        assert_eq!(Digest::from_hex(&digest.to_hex()), Some(digest));
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
        let binary = postcard::to_stdvec(&digest).unwrap();
        assert_eq!(binary.len(), 16);
        assert_eq!(postcard::from_bytes::<Digest>(&binary).unwrap(), digest);
        assert!(serde_json::from_str::<Digest>("\"xyz\"").is_err());
        assert_eq!(Digest::from_hex("2cf24dba"), None);
    }
}
