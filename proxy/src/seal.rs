//! Sealing secrets at rest: AES-256-GCM (ring) under the proxy's master key.
//!
//! A sealed blob is `version byte || 12-byte random nonce || ciphertext || 16-byte tag`. The
//! associated data binds a blob to its place ([`Aad`]): a blob copied to another connection or
//! replayed from an older record version does not open.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use airlock_shared::SecretBytes;
use ring::aead::{AES_256_GCM, Aad as RingAad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
const FORMAT_V1: u8 = 1;

/// Why sealing, opening or loading the master key failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The blob does not open under this key and associated data: wrong master key, or the
    /// blob was altered or moved.
    #[error(
        "the sealed value does not open with this master key (wrong key, or the store was altered)"
    )]
    Open,
    /// The blob is too short or has an unknown format byte.
    #[error("the sealed value is malformed")]
    Malformed,
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The master key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The master key file is readable or writable by group or others.
    #[error(
        "master key file {path} has mode {mode:o}: it must not be accessible by group or others; run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The master key file does not hold exactly 32 bytes.
    #[error(
        "master key file {path} holds {len} bytes, expected 32; restore the right file (it is created by `airlock-proxy init`)"
    )]
    Length {
        /// The file.
        path: String,
        /// Its size.
        len: usize,
    },
    /// `init` found an existing file and refused to overwrite it.
    #[error("{path} already exists; refusing to overwrite it")]
    Exists {
        /// The file.
        path: String,
    },
}

/// What a sealed blob is bound to: its purpose, the record it belongs to and that record's
/// version at sealing time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(String);

impl Aad {
    /// The credential of `connection_id`, sealed at record version `version`.
    pub fn credential(connection_id: &uuid::Uuid, version: u64) -> Self {
        Self(format!("airlock/v1/credential/{connection_id}/{version}"))
    }

    /// A store-wide value (`name`), such as the key check or the session-signing key.
    pub fn store_value(name: &str) -> Self {
        Self(format!("airlock/v1/store/{name}"))
    }
}

/// The 32-byte master key. Redacted `Debug`; zeroized on drop.
pub struct MasterKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: &SecretBytes) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes.expose_secret())
            .map_err(|_| SealError::Malformed)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Reads the master key file, refusing one that group or others can access.
    pub fn load(path: &Path) -> Result<Self, SealError> {
        let io = |source| SealError::Io {
            path: path.display().to_string(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SealError::Permissions {
                path: path.display().to_string(),
                mode,
            });
        }
        let bytes = SecretBytes::new(fs::read(path).map_err(io)?);
        if bytes.len() != MASTER_KEY_LEN {
            return Err(SealError::Length {
                path: path.display().to_string(),
                len: bytes.len(),
            });
        }
        Self::from_bytes(&bytes)
    }

    /// Creates a new master key file (32 random bytes, mode 0600). Never overwrites.
    pub fn create_file(path: &Path) -> Result<(), SealError> {
        let display = path.display().to_string();
        let mut bytes = SecretBytes::zeroed(MASTER_KEY_LEN);
        SystemRandom::new()
            .fill(bytes.expose_secret_mut())
            .map_err(|_| SealError::Random)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AlreadyExists => SealError::Exists {
                    path: display.clone(),
                },
                _ => SealError::Io {
                    path: display.clone(),
                    source,
                },
            })?;
        file.write_all(bytes.expose_secret())
            .and_then(|()| file.sync_all())
            .map_err(|source| SealError::Io {
                path: display,
                source,
            })
    }

    /// Seals `plaintext` bound to `aad` with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &Aad) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        let body_start = out.len();
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(body_start);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                RingAad::from(aad.0.as_bytes()),
                &mut body,
            )
            .map_err(|_| SealError::Random)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a blob made by [`MasterKey::seal`] with the same `aad`. The plaintext is returned
    /// in a zeroizing buffer.
    pub fn open(&self, sealed: &[u8], aad: &Aad) -> Result<SecretBytes, SealError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT_V1 {
            return Err(SealError::Malformed);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_| SealError::Malformed)?;
        let mut buf = SecretBytes::copy_from(&sealed[1 + NONCE_LEN..]);
        let len = self
            .key
            .open_in_place(
                nonce,
                RingAad::from(aad.0.as_bytes()),
                buf.expose_secret_mut(),
            )
            .map_err(|_| SealError::Open)?
            .len();
        Ok(SecretBytes::copy_from(&buf.expose_secret()[..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&SecretBytes::new(vec![byte; 32])).unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let k = key(7);
        let id = uuid::Uuid::new_v4();
        let aad = Aad::credential(&id, 1);
        let sealed = k.seal(b"TEST-ONLY secret", &aad).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            k.open(&sealed, &aad).unwrap().expose_secret(),
            b"TEST-ONLY secret"
        );
        // another version, another connection, another key: all refused
        assert!(matches!(
            k.open(&sealed, &Aad::credential(&id, 2)),
            Err(SealError::Open)
        ));
        let other = uuid::Uuid::new_v4();
        assert!(matches!(
            k.open(&sealed, &Aad::credential(&other, 1)),
            Err(SealError::Open)
        ));
        assert!(matches!(key(8).open(&sealed, &aad), Err(SealError::Open)));
        // nonces differ
        assert_ne!(sealed, k.seal(b"TEST-ONLY secret", &aad).unwrap());
        // tampering
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(k.open(&bad, &aad), Err(SealError::Open)));
        assert!(matches!(
            k.open(&sealed[..10], &aad),
            Err(SealError::Malformed)
        ));
    }

    #[test]
    fn key_file_is_created_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        MasterKey::create_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(MasterKey::load(&path).is_ok());
        assert!(matches!(
            MasterKey::create_file(&path),
            Err(SealError::Exists { .. })
        ));
    }

    #[test]
    fn group_readable_or_short_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        MasterKey::create_file(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = MasterKey::load(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, b"short").unwrap();
        assert!(matches!(
            MasterKey::load(&path),
            Err(SealError::Length { len: 5, .. })
        ));
    }
}
