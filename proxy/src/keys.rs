//! The proxy's keys, sealed in the store under the master key: the session-signing key
//! (Ed25519), the audit fingerprint key (32 random bytes, HMAC-SHA256) and the audit checkpoint
//! key (Ed25519). `init` creates all three; opening a store made by an older version creates
//! any that are missing.

use std::sync::Arc;

use airlock_shared::SecretBytes;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::Ed25519KeyPair;

use crate::seal::SealError;
use crate::store::vault::{AUDIT_CHECKPOINT_KEY, AUDIT_FINGERPRINT_KEY, SESSION_SIGNING_KEY};
use crate::store::{StoreError, Vault};

/// The opened keys.
pub struct Keys {
    /// Signs session handles.
    pub session: Arc<Ed25519KeyPair>,
    /// Keys audit fingerprints.
    pub fingerprint: SecretBytes,
    /// Signs audit checkpoints.
    pub checkpoint: Arc<Ed25519KeyPair>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

/// Why the keys could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Store or sealing problem.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key is not a valid key.
    #[error("the stored {0} is not a valid key; the store is damaged: restore it from a backup")]
    Invalid(&'static str),
}

fn new_ed25519() -> Result<SecretBytes, StoreError> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| StoreError::Seal(SealError::Random))?;
    Ok(SecretBytes::copy_from(pkcs8.as_ref()))
}

fn new_hmac_key() -> Result<SecretBytes, StoreError> {
    let mut key = SecretBytes::zeroed(32);
    SystemRandom::new()
        .fill(key.expose_secret_mut())
        .map_err(|_| StoreError::Seal(SealError::Random))?;
    Ok(key)
}

/// The value `name`, created with `make` if the store lacks it.
async fn get_or_create(
    vault: &Vault,
    name: &str,
    make: fn() -> Result<SecretBytes, StoreError>,
) -> Result<SecretBytes, StoreError> {
    if let Some(v) = vault.secret_value(name).await? {
        return Ok(v);
    }
    let v = make()?;
    vault.put_secret_value(name, v.expose_secret()).await?;
    tracing::info!(key = name, "created a missing key in the store");
    Ok(v)
}

fn ed25519(bytes: &SecretBytes, what: &'static str) -> Result<Arc<Ed25519KeyPair>, KeyError> {
    Ed25519KeyPair::from_pkcs8(bytes.expose_secret())
        .map(Arc::new)
        .map_err(|_| KeyError::Invalid(what))
}

/// Opens the three keys, creating missing ones.
pub async fn load_or_create(vault: &Vault) -> Result<Keys, KeyError> {
    let session = get_or_create(vault, SESSION_SIGNING_KEY, new_ed25519).await?;
    let fingerprint = get_or_create(vault, AUDIT_FINGERPRINT_KEY, new_hmac_key).await?;
    let checkpoint = get_or_create(vault, AUDIT_CHECKPOINT_KEY, new_ed25519).await?;
    if fingerprint.len() != 32 {
        return Err(KeyError::Invalid("audit fingerprint key"));
    }
    Ok(Keys {
        session: ed25519(&session, "session-signing key")?,
        fingerprint,
        checkpoint: ed25519(&checkpoint, "audit checkpoint key")?,
    })
}
