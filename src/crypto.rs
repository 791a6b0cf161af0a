//! Owns the token key and sealing/opening of secrets at rest.
//! It must not log, print or persist a key or a plaintext token anywhere but the key file.
//!
//! Encryption of OAuth tokens at rest (XChaCha20-Poly1305).
//!
//! Every token is sealed with a fresh random 192-bit nonce, and with the user id and the column name
//! as associated data: a ciphertext copied to another user's row, or from the access-token column to
//! the refresh-token column, fails to open instead of silently working.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::config::TOKEN_KEY_VAR;
use crate::fault::Blame;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
/// Why a token key or a sealed token could not be used.
pub enum CryptoError {
    #[error("{source_name} must be {KEY_LEN} bytes encoded as base64 (generate one with `openssl rand -base64 32`)")]
    /// The key is not 32 bytes of base64.
    BadKey {
        /// Where the key came from (variable or file).
        source_name: String,
    },
    #[error("cannot read token key file {path}: {source}")]
    /// The key file exists but cannot be read.
    ReadKeyFile {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("cannot create token key file {path}: {source}")]
    /// The key file cannot be created.
    WriteKeyFile {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: std::io::Error,
    },
    #[error("a stored token could not be decrypted: the key is not the one it was written with, or the row was altered")]
    /// A sealed token does not open with this key.
    Decrypt,
}

impl Blame for CryptoError {
    /// A malformed key is fixed in the environment; the others are the machine's or the data's.
    fn is_users_fault(&self) -> bool {
        matches!(self, CryptoError::BadKey { .. })
    }
}

/// Where the key came from, so the caller can log a first-use key generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// Seals and opens token columns. Cheap to clone; the key never shows in `Debug`.
#[derive(Clone)]
pub struct TokenCipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher(<key redacted>)")
    }
}

impl TokenCipher {
    pub(crate) fn from_key(key: &[u8; KEY_LEN]) -> Self {
        TokenCipher {
            aead: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The key given as base64 (as in `STRIFE_TOKEN_KEY`).
    pub(crate) fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Ok(TokenCipher::from_key(&decode_key(text, TOKEN_KEY_VAR)?))
    }

    /// A cipher with a fresh random key (tests, and the first run).
    pub fn random() -> Self {
        TokenCipher {
            aead: XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng)),
        }
    }

    /// The key from `STRIFE_TOKEN_KEY` if given, else from `key_file`, which is created (mode 0600)
    /// with a new random key when it does not exist yet.
    pub(crate) fn load(
        env_key: Option<&str>,
        key_file: &Path,
    ) -> Result<(Self, KeySource), CryptoError> {
        if let Some(text) = env_key {
            let key = decode_key(text, TOKEN_KEY_VAR)?;
            return Ok((TokenCipher::from_key(&key), KeySource::Environment));
        }
        match std::fs::read_to_string(key_file) {
            Ok(text) => {
                let key = decode_key(&text, &key_file.display().to_string())?;
                Ok((
                    TokenCipher::from_key(&key),
                    KeySource::File(key_file.to_owned()),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = create_key_file(key_file)?;
                Ok((
                    TokenCipher::from_key(&key),
                    KeySource::Generated(key_file.to_owned()),
                ))
            }
            Err(source) => Err(CryptoError::ReadKeyFile {
                path: key_file.to_owned(),
                source,
            }),
        }
    }

    /// `nonce || ciphertext`, bound to `context` (e.g. user id + column).
    pub(crate) fn seal(&self, plaintext: &str, context: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        let ciphertext = self
            .aead
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub(crate) fn open(&self, sealed: &[u8], context: &str) -> Result<String, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = self
            .aead
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Decrypt)
    }
}

fn decode_key(text: &str, source_name: &str) -> Result<[u8; KEY_LEN], CryptoError> {
    let bad = || CryptoError::BadKey {
        source_name: source_name.to_owned(),
    };
    let bytes = BASE64.decode(text.trim()).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

fn create_key_file(path: &Path) -> Result<[u8; KEY_LEN], CryptoError> {
    let write_error = |source| CryptoError::WriteKeyFile {
        path: path.to_owned(),
        source,
    };
    let key: [u8; KEY_LEN] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    // create_new: two processes starting at once must not both write (and disagree on) a key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(write_error)?;
            return decode_key(&text, &path.display().to_string());
        }
        Err(e) => return Err(write_error(e)),
    };
    writeln!(file, "{}", BASE64.encode(key)).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let cipher = TokenCipher::random();
        let sealed = cipher.seal("secret-refresh-token", "42:refresh");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            cipher.open(&sealed, "42:refresh").unwrap(),
            "secret-refresh-token"
        );
    }

    #[test]
    fn ciphertext_is_bound_to_its_context() {
        let cipher = TokenCipher::random();
        let sealed = cipher.seal("token", "42:refresh");
        assert!(matches!(
            cipher.open(&sealed, "43:refresh"),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            cipher.open(&sealed, "42:access"),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn wrong_key_or_tampering_fails_cleanly() {
        let sealed = TokenCipher::random().seal("token", "1:access");
        assert!(TokenCipher::random().open(&sealed, "1:access").is_err());
        let cipher = TokenCipher::random();
        let mut sealed = cipher.seal("token", "1:access");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(cipher.open(&sealed, "1:access").is_err());
        assert!(cipher.open(&[1, 2, 3], "1:access").is_err());
    }

    #[test]
    fn same_plaintext_seals_differently() {
        let cipher = TokenCipher::random();
        assert_ne!(cipher.seal("t", "c"), cipher.seal("t", "c"));
    }

    #[test]
    fn key_file_is_generated_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strife.db.key");
        let (first, source) = TokenCipher::load(None, &path).unwrap();
        assert_eq!(source, KeySource::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, source) = TokenCipher::load(None, &path).unwrap();
        assert_eq!(source, KeySource::File(path));
        let sealed = first.seal("token", "ctx");
        assert_eq!(second.open(&sealed, "ctx").unwrap(), "token");
    }

    #[test]
    fn environment_key_wins_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = BASE64.encode([7u8; 32]);
        let (_, source) = TokenCipher::load(Some(&key), &path).unwrap();
        assert_eq!(source, KeySource::Environment);
        assert!(
            !path.exists(),
            "no key file is written when the environment has one"
        );
        let error = TokenCipher::load(Some("c2hvcnQ="), &path).unwrap_err();
        assert!(error.to_string().contains(TOKEN_KEY_VAR), "{error}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(
            format!("{:?}", TokenCipher::from_key(&[9; 32])),
            "TokenCipher(<key redacted>)"
        );
    }
}
