//! The embedded SQLite backend: one file, WAL, versioned migrations, every write one
//! transaction (so a crash leaves the old or the new record, never a torn one).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    BoxFuture, ConnectionRecord, ConnectionStore, Gate, SessionRow, StoreError, StoredConnection,
};
use crate::seal::{Aad, MasterKey};

/// Schema migrations; entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: connections and sealed store-wide values.
    "CREATE TABLE connections (
        pos INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        record TEXT NOT NULL,
        sealed BLOB NOT NULL
     );
     CREATE TABLE store_values (name TEXT PRIMARY KEY, sealed BLOB NOT NULL);",
    // 2: minted sessions, for revocation (kept until the handle would have expired).
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        connection_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        expire_time INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX sessions_by_connection ON sessions (connection_id);",
];

/// The newest schema version this build understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
const KEY_CHECK: &str = "key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"airlock master key check v1";

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    lock_wait: Duration,
}

/// How long a call waits for the store by default ([`SqliteStore::with_lock_wait`]).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(2);

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

impl SqliteStore {
    /// Creates a new store file and writes its master-key check. Refuses an existing file.
    pub fn create(path: &Path, key: &MasterKey) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if path.exists() {
            return Err(StoreError::Exists { path: shown });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(path, flags).map_err(db)?;
        let store = Self::prepare(conn, path)?;
        let check = key.seal(KEY_CHECK_PLAINTEXT, &Aad::store_value(KEY_CHECK))?;
        store.put_value_sync(KEY_CHECK, &check)?;
        Ok(store)
    }

    /// Opens an existing store: refuses a corrupted file, a newer schema or a wrong master key
    /// before writing anything, then applies pending migrations.
    pub fn open(path: &Path, key: &MasterKey) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(StoreError::Missing { path: shown });
        }
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: shown.clone(),
            detail: e.to_string(),
        };
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(&corrupt)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&corrupt)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: shown,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(&corrupt)?;
        if check != "ok" || found == 0 {
            let detail = if found == 0 {
                "no Airlock schema".to_owned()
            } else {
                check
            };
            return Err(StoreError::Corrupt {
                path: shown,
                detail,
            });
        }
        let store = Self::prepare(conn, path)?;
        let sealed = store
            .get_value_sync(KEY_CHECK)?
            .ok_or_else(|| StoreError::Corrupt {
                path: shown.clone(),
                detail: "the master-key check is missing".into(),
            })?;
        match key.open(&sealed, &Aad::store_value(KEY_CHECK)) {
            Ok(p) if p.expose_secret() == KEY_CHECK_PLAINTEXT => Ok(store),
            _ => Err(StoreError::WrongKey { path: shown }),
        }
    }

    fn prepare(mut conn: Connection, path: &Path) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        // Deleted rows (sealed, but still) are overwritten rather than left in free pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
            lock_wait: DEFAULT_LOCK_WAIT,
        })
    }

    /// Bounds how long a call waits for the store, which a change holds while its audit
    /// event is written: the proxy sets the audit write deadline, so with a blocked log each
    /// call fails ([`StoreError::Busy`]) within that deadline instead of waiting out every
    /// change queued before it.
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run<T, F>(&self, f: F) -> BoxFuture<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (conn, wait) = (Arc::clone(&self.conn), self.lock_wait);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = conn.try_lock_for(wait).ok_or(StoreError::Busy)?;
                f(&mut conn)
            })
            .await
            .map_err(|e| StoreError::Db(format!("store task failed: {e}")))?
        })
    }

    fn get_value_sync(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        get_value(&self.conn.lock(), name)
    }

    fn put_value_sync(&self, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        put_value(&self.conn.lock(), name, sealed)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

fn get_value(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    conn.query_row(
        "SELECT sealed FROM store_values WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .map_err(db)
}

fn put_value(conn: &Connection, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO store_values (name, sealed) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed",
        params![name, sealed],
    )
    .map_err(db)?;
    Ok(())
}

fn row_to_stored(record: String, sealed: Vec<u8>) -> Result<StoredConnection, StoreError> {
    let record: ConnectionRecord =
        serde_json::from_str(&record).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(StoredConnection { record, sealed })
}

fn encode(conn: &StoredConnection) -> Result<String, StoreError> {
    serde_json::to_string(&conn.record).map_err(|e| StoreError::Decode(e.to_string()))
}

/// Runs `gate` (the audit append) on this blocking thread, between the write and the commit.
pub(crate) fn pass(gate: Gate, count: u64) -> Result<(), StoreError> {
    tokio::runtime::Handle::current()
        .block_on(gate(count))
        .map_err(StoreError::Gate)
}

impl ConnectionStore for SqliteStore {
    fn insert(&self, conn: StoredConnection, gate: Gate) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |c| {
            let json = encode(&conn)?;
            let tx = c.transaction().map_err(db)?;
            tx.execute(
                "INSERT INTO connections (id, version, record, sealed) VALUES (?1, ?2, ?3, ?4)",
                params![
                    conn.record.id.to_string(),
                    conn.record.version as i64,
                    json,
                    conn.sealed
                ],
            )
            .map_err(db)?;
            pass(gate, 0)?;
            tx.commit().map_err(db)
        })
    }

    fn get(&self, id: uuid::Uuid) -> BoxFuture<'_, Result<Option<StoredConnection>, StoreError>> {
        self.run(move |c| {
            let row: Option<(String, Vec<u8>)> = c
                .query_row(
                    "SELECT record, sealed FROM connections WHERE id = ?1",
                    [id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?;
            row.map(|(r, s)| row_to_stored(r, s)).transpose()
        })
    }

    fn list(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredConnection)>, StoreError>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare("SELECT pos, record, sealed FROM connections WHERE pos > ?1 ORDER BY pos LIMIT ?2")
                .map_err(db)?;
            let rows = stmt
                .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db)?;
            let mut out = Vec::new();
            for row in rows {
                let (pos, record, sealed): (i64, String, Vec<u8>) = row.map_err(db)?;
                out.push((pos, row_to_stored(record, sealed)?));
            }
            Ok(out)
        })
    }

    fn replace(
        &self,
        conn: StoredConnection,
        expected_version: u64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |c| {
            let json = encode(&conn)?;
            let tx = c.transaction().map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE connections SET version = ?1, record = ?2, sealed = ?3 WHERE id = ?4 AND version = ?5",
                    params![conn.record.version as i64, json, conn.sealed, conn.record.id.to_string(), expected_version as i64],
                )
                .map_err(db)?;
            if n == 0 {
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM connections WHERE id = ?1", [conn.record.id.to_string()], |r| r.get(0))
                    .optional()
                    .map_err(db)?;
                return Err(if exists.is_some() { StoreError::Conflict } else { StoreError::NotFound });
            }
            pass(gate, 0)?;
            tx.commit().map_err(db)
        })
    }

    fn delete(
        &self,
        id: uuid::Uuid,
        live_from: i64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(move |c| sessions::delete_connection(c, id, live_from, gate))
    }

    fn insert_session(&self, row: SessionRow) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |c| sessions::insert(c, &row))
    }

    fn revoke_session(
        &self,
        id: uuid::Uuid,
        live_from: i64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |c| sessions::revoke(c, id, live_from, gate))
    }

    fn revoked_sessions(
        &self,
        live_from: i64,
    ) -> BoxFuture<'_, Result<Vec<uuid::Uuid>, StoreError>> {
        self.run(move |c| sessions::revoked(c, live_from))
    }

    fn get_value(&self, name: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        let name = name.to_owned();
        self.run(move |c| get_value(c, &name))
    }

    fn put_value(&self, name: &str, sealed: Vec<u8>) -> BoxFuture<'_, Result<(), StoreError>> {
        let name = name.to_owned();
        self.run(move |c| put_value(c, &name, &sealed))
    }
}

mod sessions;
#[cfg(test)]
mod tests;
