//! The connection store: metadata in clear, each credential sealed under the master key.
//!
//! [`ConnectionStore`] is the backend interface (SQLite today, see [`sqlite`]; a PostgreSQL
//! backend for highly available proxies can implement the same trait). Backends only ever see
//! sealed blobs; [`vault::Vault`] seals and opens them.

pub mod credential;
pub mod record;
pub mod sqlite;
pub mod vault;

use airlock_shared::{AirlockError, ErrorCode};

use std::future::Future;
use std::pin::Pin;

pub use credential::{Credential, KeyFormat};
pub use record::{AssertionAlg, AuthKind, CertificateMeta, ConnectionRecord, StoredConnection};
pub use sqlite::SqliteStore;
pub use vault::Vault;

/// A boxed, sendable future: keeps [`ConnectionStore`] usable as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs inside a write's transaction, after the write and before the commit, with the number
/// of sessions the write revoked (deletes) or 0. An error rolls the write back. The proxy's
/// gate appends the audit event, so a change is committed only once it is audited.
pub type Gate =
    Box<dyn FnOnce(u64) -> futures::future::BoxFuture<'static, Result<(), AirlockError>> + Send>;

/// A gate that lets every write commit (in-process use and tests).
pub fn no_gate() -> Gate {
    Box::new(|_| Box::pin(async { Ok(()) }))
}

/// A minted session as the store keeps it (for revocation; never the handle itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Session ID.
    pub id: uuid::Uuid,
    /// Its connection.
    pub connection_id: uuid::Uuid,
    /// Its job.
    pub job_id: String,
    /// When the handle expires (Unix seconds); the row may be purged after that.
    pub expire_time: i64,
}

/// Why a store operation failed. Messages say which problem it is and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a store, or is damaged.
    #[error(
        "the store file {path} is corrupted or not an Airlock store ({detail}); restore it from a backup. Airlock never repairs or overwrites it"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// What SQLite reported.
        detail: String,
    },
    /// The store was written by a newer Airlock.
    #[error(
        "the store file {path} has schema version {found}, newer than this proxy supports ({supported}); run the newer airlock-proxy, or restore a backup made by this version"
    )]
    NewerSchema {
        /// The file.
        path: String,
        /// Schema version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The master key does not open the store's key check.
    #[error(
        "the master key does not match the store {path}: use the master key file this store was created with (see `master_key_file` in the config)"
    )]
    WrongKey {
        /// The file.
        path: String,
    },
    /// The file does not exist (serve needs `airlock-proxy init` first).
    #[error(
        "the store file {path} does not exist; create it with `airlock-proxy init --config FILE`"
    )]
    Missing {
        /// The file.
        path: String,
    },
    /// `init` found an existing store.
    #[error("the store file {path} already exists; refusing to overwrite it")]
    Exists {
        /// The file.
        path: String,
    },
    /// No connection with this ID.
    #[error("connection not found")]
    NotFound,
    /// The record changed since it was read (optimistic concurrency).
    #[error("the connection was changed concurrently; retry")]
    Conflict,
    /// A sealed value did not open.
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// A stored metadata document is unreadable.
    #[error("stored metadata is unreadable: {0}")]
    Decode(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Db(String),
    /// The write's gate refused the commit (its audit event could not be written); nothing
    /// was changed.
    #[error("not committed: {}", .0.detail())]
    Gate(AirlockError),
    /// The store stayed locked longer than the wait bound: other changes hold it while their
    /// audit events are written (a blocked audit log) or the disk is stalled. Nothing was read
    /// or changed.
    #[error(
        "the credential store is busy: other changes are waiting for their audit events; retry shortly"
    )]
    Busy,
}

impl StoreError {
    /// The one mapping to the catalogue: the gate's own error, CONNECTION_NOT_FOUND, TRANSIENT
    /// (with a remedy) for what a retry can fix, and INTERNAL for the rest. An INTERNAL answer
    /// carries no store detail (paths, SQLite messages); that detail is logged here.
    pub fn to_airlock(&self) -> AirlockError {
        match self {
            Self::Gate(e) => e.clone(),
            Self::NotFound => AirlockError::bare(ErrorCode::ConnectionNotFound),
            Self::Busy => AirlockError::new(ErrorCode::Transient, self.to_string()).with_remediation(
                "Retry. If it persists, check that the proxy can write its audit log (other calls fail with AUDIT_UNAVAILABLE).",
            ),
            Self::Conflict => AirlockError::new(
                ErrorCode::Transient,
                "the connection was changed concurrently",
            )
            .with_remediation("Read the connection again and retry the change."),
            other => {
                tracing::error!(error = %other, "store failure");
                AirlockError::new(
                    ErrorCode::Internal,
                    "the credential store failed; see the proxy log",
                )
            }
        }
    }
}

/// Storage backend for connections and sealed store-wide values.
///
/// Implementations must make each write atomic (a crash leaves the old or the new record) and
/// must never rewrite a store they cannot fully read.
pub trait ConnectionStore: Send + Sync + 'static {
    /// Inserts a new connection, committing only if `gate` succeeds.
    fn insert(&self, conn: StoredConnection, gate: Gate) -> BoxFuture<'_, Result<(), StoreError>>;
    /// One connection with its sealed credential.
    fn get(&self, id: uuid::Uuid) -> BoxFuture<'_, Result<Option<StoredConnection>, StoreError>>;
    /// Up to `limit` connections created after position `after` (0 = from the start), oldest
    /// first, with the position of each.
    fn list(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredConnection)>, StoreError>>;
    /// Replaces a connection if its stored version is still `expected_version`, committing only
    /// if `gate` succeeds.
    fn replace(
        &self,
        conn: StoredConnection,
        expected_version: u64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Deletes a connection and revokes its live sessions (those expiring at or after
    /// `live_from`, Unix seconds), committing only if `gate` succeeds; returns how many
    /// sessions it revoked. `NotFound` if there was none.
    fn delete(
        &self,
        id: uuid::Uuid,
        live_from: i64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Records a minted session.
    fn insert_session(&self, row: SessionRow) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Revokes a live session (expiring at or after `live_from`), committing only if `gate`
    /// succeeds; false if it was unknown, no longer live or already revoked (the gate still
    /// runs).
    fn revoke_session(
        &self,
        id: uuid::Uuid,
        live_from: i64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Revoked sessions expiring at or after `live_from`; forgets sessions that expired before
    /// it.
    fn revoked_sessions(
        &self,
        live_from: i64,
    ) -> BoxFuture<'_, Result<Vec<uuid::Uuid>, StoreError>>;
    /// A sealed store-wide value (for example the session-signing key).
    fn get_value(&self, name: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>>;
    /// Writes a sealed store-wide value.
    fn put_value(&self, name: &str, sealed: Vec<u8>) -> BoxFuture<'_, Result<(), StoreError>>;
}
