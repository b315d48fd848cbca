//! Job-scoped session handles (invariant 3).
//!
//! # Layout
//! - [`handle`] — the compact JWS format: signing and strict, hostile-input parsing.
//! - [`verify`] — [`SessionVerifier`], the **one** place that decides whether a handle may be
//!   used (signature, binding, expiry, revocation, connection) and whether a cmdlet is on its
//!   allow-list. The token broker calls it; the planned Exchange relay will too.
//! - [`verified`] — a bounded cache of handles whose signature verified, with their audit
//!   fingerprints.
//! - [`service`] — SessionBroker (orchestrator role): MintSession, RevokeSession.
//! - this file — [`Revocations`]: revoked sessions, persisted in the store for as long as their
//!   handles could still be accepted (expiry plus the largest clock-skew allowance), mirrored in
//!   memory for the hot path.

pub mod handle;
pub mod service;
pub mod verified;
pub mod verify;

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::RwLock;
use time::OffsetDateTime;

use crate::store::{Gate, StoreError, Vault};

pub use service::SessionBroker;
pub use verify::{HandleError, SessionVerifier, VerifiedSession};

/// Revoked sessions: the store is the truth (it survives restarts); memory is a copy. Cheap
/// to clone.
#[derive(Clone)]
pub struct Revocations {
    vault: Vault,
    revoked: Arc<RwLock<HashSet<uuid::Uuid>>>,
    /// Held by a reload from reading the store until its copy replaces memory, and by a
    /// revocation to add itself to memory (after its commit): a reload that read the store
    /// before a revocation committed cannot then overwrite the copy that holds it.
    copy: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("revoked", &self.revoked.read().len())
            .finish()
    }
}

impl Revocations {
    /// Loads the revocations of sessions that have not expired yet.
    pub async fn load(vault: Vault) -> Result<Self, StoreError> {
        let me = Self {
            vault,
            revoked: Arc::default(),
            copy: Arc::default(),
        };
        me.reload().await?;
        Ok(me)
    }

    /// Re-reads the store (after a connection delete revoked its sessions there).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _copy = self.copy.lock().await;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let ids = self.vault.revoked_sessions(now).await?;
        *self.revoked.write() = ids.into_iter().collect();
        Ok(())
    }

    /// Whether `id` is revoked.
    pub fn is_revoked(&self, id: uuid::Uuid) -> bool {
        self.revoked.read().contains(&id)
    }

    /// Revokes `id` in the store (committed only if `gate` succeeds), then in memory.
    pub async fn revoke(&self, id: uuid::Uuid, gate: Gate) -> Result<bool, StoreError> {
        let revoked = self.vault.revoke_session(id, gate).await?;
        if revoked {
            let _copy = self.copy.lock().await;
            self.revoked.write().insert(id);
        }
        Ok(revoked)
    }

    /// A connection was deleted: its sessions were revoked in the store; refresh memory.
    pub async fn connection_deleted(&self, id: uuid::Uuid) {
        if let Err(e) = self.reload().await {
            // Handles of a deleted connection fail anyway (the connection check), so this
            // only delays the precise reason.
            tracing::error!(connection.id = %id, error = %e, "cannot reload revocations");
        }
    }
}
