//! [`Vault`]: the store plus the master key. The only place credentials are sealed and opened.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{ConnectionRecord, ConnectionStore, Credential, StoreError, StoredConnection};
use crate::seal::{Aad, MasterKey};

/// Name of the sealed session-signing key (Ed25519 PKCS#8) among the store values.
pub const SESSION_SIGNING_KEY: &str = "session_signing_key";

/// Connections with sealed credentials. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn ConnectionStore>,
    key: Arc<MasterKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([store + master key])")
    }
}

impl Vault {
    /// A vault over `store`, sealing with `key`.
    pub fn new(store: Arc<dyn ConnectionStore>, key: Arc<MasterKey>) -> Self {
        Self { store, key }
    }

    /// Stores a new connection (version 1) with its credential sealed.
    pub async fn create(
        &self,
        record: ConnectionRecord,
        credential: &Credential,
    ) -> Result<ConnectionRecord, StoreError> {
        let sealed = self.seal(&record, credential)?;
        self.store
            .insert(StoredConnection {
                record: record.clone(),
                sealed,
            })
            .await?;
        Ok(record)
    }

    /// One connection's metadata.
    pub async fn get(&self, id: uuid::Uuid) -> Result<ConnectionRecord, StoreError> {
        Ok(self
            .store
            .get(id)
            .await?
            .ok_or(StoreError::NotFound)?
            .record)
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
        let mut stored = self.store.get(id).await?.ok_or(StoreError::NotFound)?;
        let expected = stored.record.version;
        change(&mut stored.record);
        stored.record.version = expected + 1;
        stored.record.update_time = OffsetDateTime::now_utc();
        let record = stored.record.clone();
        self.store.replace(stored, expected).await?;
        Ok(record)
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
        self.store
            .replace(
                StoredConnection {
                    record: record.clone(),
                    sealed,
                },
                expected,
            )
            .await?;
        Ok(record)
    }

    /// Deletes a connection and its sealed credential.
    pub async fn delete(&self, id: uuid::Uuid) -> Result<(), StoreError> {
        self.store.delete(id).await
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
