//! Invariant 1: secrets and keys never reach the store file, the logs or any Debug output;
//! and a process killed in the middle of writes leaves only whole records.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use airlock_proto as pb;
use airlock_proxy::seal::MasterKey;
use airlock_proxy::store::{Credential, SqliteStore, Vault};
use airlock_shared::{SecretBytes, SecretString};
use base64::Engine as _;
use common::*;

/// The byte strings that must never appear: the secret, the private key (DER and its base64
/// lines) and every access token handed out.
fn needles(pem: &str, tokens: &[String]) -> Vec<Vec<u8>> {
    let mut out = vec![SECRET.as_bytes().to_vec(), b"sim+secret/Value".to_vec()];
    let key_b64: String = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .unwrap()
        .split("-----END")
        .next()
        .unwrap()
        .lines()
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&key_b64)
        .unwrap();
    out.extend(der.chunks(32).take(20).map(<[u8]>::to_vec));
    out.extend(key_b64.as_bytes().chunks(40).take(10).map(<[u8]>::to_vec));
    out.extend(tokens.iter().map(|t| t.as_bytes().to_vec()));
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn store_file_and_logs_never_hold_secrets_keys_or_tokens() {
    let h = Harness::start().await;
    let pem = sim_combined_pem();
    let sid = h.create_id(h.secret_request(SECRET_APP, SECRET)).await;
    let cid = h
        .create_id(h.cert_request(pem.clone(), pb::AssertionAlgorithm::Ps256))
        .await;
    let mut tokens = Vec::new();
    for id in [&sid, &cid] {
        assert!(h.test(id).await.ok);
        let t = h
            .tokens
            .get(uuid::Uuid::parse_str(id).unwrap())
            .await
            .unwrap();
        tokens.push(t.value.expose_secret().to_owned());
    }
    // also a failing request, whose error path logs
    let wrong = h
        .create_id(h.secret_request(SECRET_APP, "TEST-ONLY-wrong-secret-value"))
        .await;
    assert!(!h.test(&wrong).await.ok);

    let needles = needles(&pem, &tokens);
    for entry in std::fs::read_dir(h.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for n in &needles {
            assert!(
                !contains(&bytes, n),
                "{} holds secret material",
                path.display()
            );
        }
        assert!(!contains(&bytes, b"TEST-ONLY-wrong-secret-value"));
    }
    let logs = captured_logs().lock().clone();
    assert!(!logs.is_empty(), "the test captured the log");
    for n in &needles {
        assert!(!contains(&logs, n), "the log holds secret material");
    }
    assert!(!contains(&logs, b"TEST-ONLY-wrong-secret-value"));
}

#[tokio::test]
async fn debug_output_is_redacted() {
    let h = Harness::start().await;
    let pem = sim_combined_pem();
    let req = h.cert_request(pem.clone(), pb::AssertionAlgorithm::Ps256);
    let sreq = h.secret_request(SECRET_APP, SECRET);
    let parsed =
        airlock_proxy::pem::parse(&pem, Default::default(), time::OffsetDateTime::now_utc())
            .unwrap();
    let id = h.create_id(h.secret_request(SECRET_APP, SECRET)).await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let (record, cred) = h.vault.open(uuid).await.unwrap();
    let token = h.tokens.get(uuid).await.unwrap();
    let key = MasterKey::from_bytes(&SecretBytes::new(vec![7; 32])).unwrap();
    let printed = format!(
        "{req:?} {sreq:?} {parsed:?} {record:?} {cred:?} {token:?} {key:?} {:?} {:?} {:?}",
        h.vault,
        h.admin,
        Credential::ClientSecret(SecretString::new(SECRET.into())),
    );
    for n in needles(&pem, &[token.value.expose_secret().to_owned()]) {
        assert!(!contains(printed.as_bytes(), &n));
    }
    assert!(!printed.contains("[7, 7, 7"));
}

const CHILD_ENV: &str = "AIRLOCK_PROXY_TEST_WRITER_DB";

fn key() -> Arc<MasterKey> {
    Arc::new(MasterKey::from_bytes(&SecretBytes::new(vec![9; 32])).unwrap())
}

/// Child side of `killed_writer_leaves_whole_records`: writes until killed.
#[tokio::test]
async fn writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let vault = Vault::new(
        Arc::new(SqliteStore::open(path.as_ref(), &key()).unwrap()),
        key(),
    );
    let rows = vault.list(0, 1000).await.unwrap();
    let ids: Vec<_> = rows.iter().map(|(_, r)| r.id).collect();
    let mut n = 0u64;
    loop {
        n += 1;
        let id = ids[(n as usize) % ids.len()];
        let secret = format!("TEST-ONLY-rotated-{n}-{}", "x".repeat((n % 500) as usize));
        vault
            .rotate(
                id,
                &Credential::ClientSecret(SecretString::new(secret)),
                |_| {},
            )
            .await
            .unwrap();
        let mut rec = common_record();
        rec.instance_name = format!("child-{n}");
        vault
            .create(
                rec,
                &Credential::ClientSecret(SecretString::new("TEST-ONLY-new".into())),
            )
            .await
            .unwrap();
    }
}

fn common_record() -> airlock_proxy::store::ConnectionRecord {
    let now = time::OffsetDateTime::now_utc();
    airlock_proxy::store::ConnectionRecord {
        id: uuid::Uuid::new_v4(),
        instance_name: String::new(),
        tenant_id: TENANT.into(),
        app_id: uuid::Uuid::parse_str(SECRET_APP).unwrap(),
        organization: "contoso.onmicrosoft.com".into(),
        auth: airlock_proxy::store::AuthKind::ClientSecret,
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

#[tokio::test]
async fn killed_writer_leaves_whole_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.db");
    {
        let vault = Vault::new(Arc::new(SqliteStore::create(&path, &key()).unwrap()), key());
        for _ in 0..5 {
            vault
                .create(
                    common_record(),
                    &Credential::ClientSecret(SecretString::new("TEST-ONLY-0".into())),
                )
                .await
                .unwrap();
        }
    }
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        child.kill().unwrap(); // SIGKILL, mid-write
        child.wait().unwrap();
        let vault = Vault::new(Arc::new(SqliteStore::open(&path, &key()).unwrap()), key());
        let rows = vault.list(0, 100_000).await.unwrap();
        assert!(
            rows.len() > 5 + round as usize,
            "the child wrote before it was killed"
        );
        for (_, rec) in rows {
            let (r, cred) = vault.open(rec.id).await.unwrap();
            assert!(r.credential_version <= r.version);
            assert!(
                matches!(cred, Credential::ClientSecret(s) if s.expose_secret().starts_with("TEST-ONLY-"))
            );
        }
    }
}
