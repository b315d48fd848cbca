//! [`Vault`]: the store plus the master key. The only place credentials are sealed and opened.

use std::sync::Arc;

use time::OffsetDateTime;

use std::collections::HashMap;

use parking_lot::RwLock;

use super::{
    ConnectionRecord, ConnectionStore, Credential, Gate, SessionRow, StoreError, StoredConnection,
    no_gate,
};
use crate::seal::{Aad, MasterKey};

/// Name of the sealed session-signing key (Ed25519 PKCS#8) among the store values.
pub const SESSION_SIGNING_KEY: &str = "session_signing_key";
/// Name of the sealed audit fingerprint key (32 random bytes).
pub const AUDIT_FINGERPRINT_KEY: &str = "audit_fingerprint_key";
/// Name of the sealed audit checkpoint key (Ed25519 PKCS#8).
pub const AUDIT_CHECKPOINT_KEY: &str = "audit_checkpoint_key";

/// Connections with sealed credentials. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn ConnectionStore>,
    key: Arc<MasterKey>,
    /// Connection metadata read through, dropped on every write to that connection (the token
    /// broker reads it on every call). Single-replica: a shared-store backend would drop it.
    records: Arc<RwLock<Records>>,
}

/// The read-through cache of connection metadata.
#[derive(Default)]
struct Records {
    by_id: HashMap<uuid::Uuid, Arc<ConnectionRecord>>,
    /// Bumped by every write: a read that began before a write may not cache what it read
    /// (it could be the record the write just deleted or replaced).
    writes: u64,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([store + master key])")
    }
}

impl Vault {
    /// A vault over `store`, sealing with `key`.
    pub fn new(store: Arc<dyn ConnectionStore>, key: Arc<MasterKey>) -> Self {
        Self {
            store,
            key,
            records: Arc::default(),
        }
    }

    /// Stores a new connection (version 1) with its credential sealed.
    pub async fn create(
        &self,
        record: ConnectionRecord,
        credential: &Credential,
    ) -> Result<ConnectionRecord, StoreError> {
        self.create_gated(record, credential, no_gate()).await
    }

    /// [`Self::create`], committed only if `gate` succeeds.
    pub async fn create_gated(
        &self,
        record: ConnectionRecord,
        credential: &Credential,
        gate: Gate,
    ) -> Result<ConnectionRecord, StoreError> {
        let sealed = self.seal(&record, credential)?;
        let stored = StoredConnection {
            record: record.clone(),
            sealed,
        };
        self.store.insert(stored, gate).await?;
        Ok(record)
    }

    /// One connection's metadata.
    pub async fn get(&self, id: uuid::Uuid) -> Result<ConnectionRecord, StoreError> {
        Ok(ConnectionRecord::clone(&*self.get_shared(id).await?))
    }

    /// One connection's metadata, shared with the read-through cache (the token broker's hot
    /// path: no copy of the record's strings per call).
    pub async fn get_shared(&self, id: uuid::Uuid) -> Result<Arc<ConnectionRecord>, StoreError> {
        let writes = {
            let records = self.records.read();
            if let Some(r) = records.by_id.get(&id) {
                return Ok(Arc::clone(r));
            }
            records.writes
        };
        let record = Arc::new(
            self.store
                .get(id)
                .await?
                .ok_or(StoreError::NotFound)?
                .record,
        );
        let mut records = self.records.write();
        // A write (delete, update, rotate) since the read began may have made `record` stale:
        // answer this call with it, but never cache it for later ones.
        if records.writes == writes {
            records.by_id.insert(id, Arc::clone(&record));
        }
        Ok(record)
    }

    fn forget(&self, id: uuid::Uuid) {
        let mut records = self.records.write();
        records.by_id.remove(&id);
        records.writes += 1;
    }

    /// Metadata and the decrypted credential. Callers drop the credential as soon as the token
    /// request is built.
    pub async fn open(&self, id: uuid::Uuid) -> Result<(ConnectionRecord, Credential), StoreError> {
        let stored = self.store.get(id).await?.ok_or(StoreError::NotFound)?;
        let aad = Aad::credential(&stored.record.id, stored.record.credential_version);
        let plain = self.key.open(&stored.sealed, &aad)?;
        let cred = Credential::decode(&plain)
            .ok_or_else(|| StoreError::Decode("unknown credential encoding".into()))?;
        Ok((stored.record, cred))
    }

    /// A page of connections after position `after`, with positions.
    pub async fn list(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, ConnectionRecord)>, StoreError> {
        let rows = self.store.list(after, limit).await?;
        Ok(rows.into_iter().map(|(p, s)| (p, s.record)).collect())
    }

    /// Changes metadata with `change`; the sealed credential is kept as is.
    pub async fn update<F>(&self, id: uuid::Uuid, change: F) -> Result<ConnectionRecord, StoreError>
    where
        F: FnOnce(&mut ConnectionRecord),
    {
        self.update_gated(id, change, no_gate()).await
    }

    /// [`Self::update`], committed only if `gate` succeeds.
    pub async fn update_gated<F>(
        &self,
        id: uuid::Uuid,
        change: F,
        gate: Gate,
    ) -> Result<ConnectionRecord, StoreError>
    where
        F: FnOnce(&mut ConnectionRecord),
    {
        self.forget(id);
        let mut stored = self.store.get(id).await?.ok_or(StoreError::NotFound)?;
        let expected = stored.record.version;
        change(&mut stored.record);
        stored.record.version = expected + 1;
        stored.record.update_time = OffsetDateTime::now_utc();
        let record = stored.record.clone();
        let result = self.store.replace(stored, expected, gate).await;
        self.forget(id);
        result.map(|()| record)
    }

    /// Replaces the credential (and the metadata `change` sets, such as certificate facts),
    /// sealing it at the new record version.
    pub async fn rotate<F>(
        &self,
        id: uuid::Uuid,
        credential: &Credential,
        change: F,
    ) -> Result<ConnectionRecord, StoreError>
    where
        F: FnOnce(&mut ConnectionRecord),
    {
        self.rotate_gated(id, credential, change, no_gate()).await
    }

    /// [`Self::rotate`], committed only if `gate` succeeds.
    pub async fn rotate_gated<F>(
        &self,
        id: uuid::Uuid,
        credential: &Credential,
        change: F,
        gate: Gate,
    ) -> Result<ConnectionRecord, StoreError>
    where
        F: FnOnce(&mut ConnectionRecord),
    {
        let stored = self.store.get(id).await?.ok_or(StoreError::NotFound)?;
        let expected = stored.record.version;
        let mut record = stored.record;
        change(&mut record);
        let now = OffsetDateTime::now_utc();
        record.version = expected + 1;
        record.credential_version = record.version;
        record.update_time = now;
        record.credential_rotate_time = now;
        let sealed = self.seal(&record, credential)?;
        let stored = StoredConnection {
            record: record.clone(),
            sealed,
        };
        let result = self.store.replace(stored, expected, gate).await;
        self.forget(id);
        result.map(|()| record)
    }

    /// Deletes a connection and its sealed credential, revoking its sessions.
    pub async fn delete(&self, id: uuid::Uuid) -> Result<(), StoreError> {
        self.delete_gated(id, no_gate()).await.map(|_| ())
    }

    /// [`Self::delete`], committed only if `gate` succeeds; returns the sessions revoked.
    pub async fn delete_gated(&self, id: uuid::Uuid, gate: Gate) -> Result<u64, StoreError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let result = self.store.delete(id, live_from(now), gate).await;
        self.forget(id);
        result
    }

    /// Records a minted session (for revocation).
    pub async fn insert_session(&self, row: SessionRow) -> Result<(), StoreError> {
        self.store.insert_session(row).await
    }

    /// Revokes a session whose handle may still be redeemed, committed only if `gate`
    /// succeeds.
    pub async fn revoke_session(&self, id: uuid::Uuid, gate: Gate) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        self.store.revoke_session(id, live_from(now), gate).await
    }

    /// Revoked sessions whose handles may still be redeemed at `now` (Unix seconds): not
    /// expired, or expired less than the largest clock-skew allowance ago.
    pub async fn revoked_sessions(&self, now: i64) -> Result<Vec<uuid::Uuid>, StoreError> {
        self.store.revoked_sessions(live_from(now)).await
    }

    /// Seals and stores a store-wide secret value.
    pub async fn put_secret_value(&self, name: &str, plain: &[u8]) -> Result<(), StoreError> {
        let sealed = self.key.seal(plain, &Aad::store_value(name))?;
        self.store.put_value(name, sealed).await
    }

    /// Opens a store-wide secret value.
    pub async fn secret_value(
        &self,
        name: &str,
    ) -> Result<Option<airlock_shared::SecretBytes>, StoreError> {
        match self.store.get_value(name).await? {
            Some(sealed) => Ok(Some(self.key.open(&sealed, &Aad::store_value(name))?)),
            None => Ok(None),
        }
    }

    fn seal(
        &self,
        record: &ConnectionRecord,
        credential: &Credential,
    ) -> Result<Vec<u8>, StoreError> {
        let aad = Aad::credential(&record.id, record.credential_version);
        Ok(self.key.seal(credential.encode().expose_secret(), &aad)?)
    }
}

/// The earliest expiry, in Unix seconds, of a handle that may still be redeemed at `now`: any
/// configuration accepts a handle up to its clock-skew allowance past expiry, and that
/// allowance is at most [`crate::config::MAX_CLOCK_SKEW_SECS`]. Sessions (and their
/// revocations) are kept that long, so a revoked handle can never be accepted because its
/// revocation was forgotten, whatever `clock_skew_secs` is now or is set to after a restart.
fn live_from(now: i64) -> i64 {
    now.saturating_sub(crate::config::MAX_CLOCK_SKEW_SECS as i64)
}
