use super::*;
use crate::store::{AuthKind, Credential, Vault};
use airlock_shared::{SecretBytes, SecretString};
use time::OffsetDateTime;

const SECRET: &str = "TEST-ONLY~store+secret/Value=77";

fn key(b: u8) -> MasterKey {
    MasterKey::from_bytes(&SecretBytes::new(vec![b; 32])).unwrap()
}

pub(crate) fn record() -> ConnectionRecord {
    let now = OffsetDateTime::now_utc();
    ConnectionRecord {
        id: uuid::Uuid::new_v4(),
        instance_name: "Contoso".into(),
        tenant_id: "8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70".into(),
        app_id: uuid::Uuid::new_v4(),
        organization: "contoso.onmicrosoft.com".into(),
        auth: AuthKind::ClientSecret,
        authority_host: "https://login.microsoftonline.com".into(),
        exchange_host: "https://outlook.office365.com".into(),
        certificate: None,
        create_time: now,
        update_time: now,
        credential_rotate_time: now,
        version: 1,
        credential_version: 1,
    }
}

fn vault(store: SqliteStore, k: MasterKey) -> Vault {
    Vault::new(Arc::new(store), Arc::new(k))
}

#[tokio::test]
async fn crud_round_trip_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let v = vault(SqliteStore::create(&path, &key(1)).unwrap(), key(1));
    let rec = record();
    let id = rec.id;
    v.create(
        rec,
        &Credential::ClientSecret(SecretString::new(SECRET.into())),
    )
    .await
    .unwrap();
    let (got, cred) = v.open(id).await.unwrap();
    assert_eq!(got.version, 1);
    assert!(matches!(cred, Credential::ClientSecret(s) if s.expose_secret() == SECRET));

    let updated = v
        .update(id, |r| r.instance_name = "renamed".into())
        .await
        .unwrap();
    assert_eq!((updated.version, updated.credential_version), (2, 1));
    assert!(
        v.open(id).await.is_ok(),
        "metadata change keeps the credential openable"
    );

    let rotated = v
        .rotate(
            id,
            &Credential::ClientSecret(SecretString::new("TEST-ONLY-new".into())),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!((rotated.version, rotated.credential_version), (3, 3));
    let (_, cred) = v.open(id).await.unwrap();
    assert!(matches!(cred, Credential::ClientSecret(s) if s.expose_secret() == "TEST-ONLY-new"));

    assert_eq!(v.list(0, 10).await.unwrap().len(), 1);
    v.delete(id).await.unwrap();
    assert!(matches!(v.get(id).await, Err(StoreError::NotFound)));
    assert!(matches!(v.delete(id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn stale_version_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::create(&dir.path().join("s.db"), &key(1)).unwrap();
    let rec = record();
    store
        .insert(
            StoredConnection {
                record: rec.clone(),
                sealed: vec![1; 40],
            },
            crate::store::no_gate(),
        )
        .await
        .unwrap();
    let mut next = rec.clone();
    next.version = 2;
    store
        .replace(
            StoredConnection {
                record: next.clone(),
                sealed: vec![1; 40],
            },
            1,
            crate::store::no_gate(),
        )
        .await
        .unwrap();
    let again = store
        .replace(
            StoredConnection {
                record: next,
                sealed: vec![1; 40],
            },
            1,
            crate::store::no_gate(),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)));
}

#[test]
fn wrong_key_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(SqliteStore::create(&path, &key(1)).unwrap());
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path, &key(2)).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("master key"));
    assert!(SqliteStore::open(&path, &key(1)).is_ok());
    assert_eq!(before.len(), std::fs::read(&path).unwrap().len());
}

#[test]
fn corrupted_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    std::fs::write(
        &path,
        b"this is not a database, it is garbage text".repeat(200),
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path, &key(1)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("restore it from a backup"));
    assert_eq!(
        before,
        std::fs::read(&path).unwrap(),
        "never repaired or overwritten"
    );
}

#[test]
fn damaged_pages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let s = SqliteStore::create(&path, &key(1)).unwrap();
        let c = s.conn.lock();
        c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    for b in bytes.iter_mut().skip(100).take(4000) {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = SqliteStore::open(&path, &key(1)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let s = SqliteStore::create(&path, &key(1)).unwrap();
        s.conn
            .lock()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = SqliteStore::open(&path, &key(1)).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    assert!(err.to_string().contains("newer"));
}

#[test]
fn missing_and_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    assert!(matches!(
        SqliteStore::open(&path, &key(1)),
        Err(StoreError::Missing { .. })
    ));
    drop(SqliteStore::create(&path, &key(1)).unwrap());
    assert!(matches!(
        SqliteStore::create(&path, &key(1)),
        Err(StoreError::Exists { .. })
    ));
}

#[tokio::test]
async fn store_file_never_contains_the_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let v = vault(SqliteStore::create(&path, &key(3)).unwrap(), key(3));
    let rec = record();
    v.create(
        rec,
        &Credential::ClientSecret(SecretString::new(SECRET.into())),
    )
    .await
    .unwrap();
    v.put_secret_value("session_signing_key", b"TEST-ONLY-SIGNING-KEY")
        .await
        .unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in [SECRET.as_bytes(), b"TEST-ONLY-SIGNING-KEY"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
}

/// A store whose next `get` after [`HeldReads::hold_next`] holds its answer until the test
/// releases it: a read that began before a write and finishes after it.
struct HeldReads {
    inner: SqliteStore,
    hold_next: std::sync::atomic::AtomicBool,
    read_done: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl ConnectionStore for HeldReads {
    fn insert(&self, conn: StoredConnection, gate: Gate) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.insert(conn, gate)
    }
    fn get(&self, id: uuid::Uuid) -> BoxFuture<'_, Result<Option<StoredConnection>, StoreError>> {
        Box::pin(async move {
            let read = self.inner.get(id).await;
            if self
                .hold_next
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                self.read_done.notify_one();
                self.release.notified().await;
            }
            read
        })
    }
    fn list(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredConnection)>, StoreError>> {
        self.inner.list(after, limit)
    }
    fn replace(
        &self,
        conn: StoredConnection,
        expected_version: u64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.replace(conn, expected_version, gate)
    }
    fn delete(
        &self,
        id: uuid::Uuid,
        live_from: i64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.delete(id, live_from, gate)
    }
    fn insert_session(&self, row: SessionRow) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.insert_session(row)
    }
    fn revoke_session(
        &self,
        id: uuid::Uuid,
        live_from: i64,
        gate: Gate,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.revoke_session(id, live_from, gate)
    }
    fn revoked_sessions(
        &self,
        live_from: i64,
    ) -> BoxFuture<'_, Result<Vec<uuid::Uuid>, StoreError>> {
        self.inner.revoked_sessions(live_from)
    }
    fn get_value(&self, name: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.inner.get_value(name)
    }
    fn put_value(&self, name: &str, sealed: Vec<u8>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.put_value(name, sealed)
    }
}

/// A metadata read that began before a delete (or update) and finished after it answers its
/// own caller, but is not cached: later reads see the delete (the token broker and MintSession
/// read through this cache, so a stale entry outlived the delete until the next write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_racing_a_write_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(HeldReads {
        inner: SqliteStore::create(&dir.path().join("store.db"), &key(1)).unwrap(),
        hold_next: false.into(),
        read_done: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let v = Vault::new(store.clone(), Arc::new(key(1)));
    let secret = Credential::ClientSecret(SecretString::new(SECRET.into()));
    for write in ["update", "delete"] {
        let r = v.create(record(), &secret).await.unwrap();
        store
            .hold_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let reader = {
            let v = v.clone();
            tokio::spawn(async move { v.get_shared(r.id).await })
        };
        store.read_done.notified().await;
        match write {
            "update" => {
                v.update(r.id, |r| r.instance_name = "renamed".into())
                    .await
                    .unwrap();
            }
            _ => v.delete(r.id).await.unwrap(),
        }
        store.release.notify_one();
        let stale = reader.await.unwrap().unwrap();
        assert_eq!(
            stale.version, 1,
            "{write}: the racing read saw the old record"
        );
        let now = v.get_shared(r.id).await;
        match write {
            "update" => assert_eq!(now.unwrap().instance_name, "renamed", "{write}"),
            _ => assert!(matches!(now, Err(StoreError::NotFound)), "{write}"),
        }
    }
}
