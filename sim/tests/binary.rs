//! The `airlock-sim` binary: ready file, CA file, serving, SIGTERM, bad fixture exit code.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_airlock-sim");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/contoso.toml");

#[tokio::test]
async fn binary_writes_ready_file_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let mut child = Command::new(BIN)
        .args([
            "--fixture",
            FIXTURE,
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
        ])
        .arg(&ready)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "no ready file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let info: Value =
        serde_json::from_str(std::fs::read_to_string(&ready).unwrap().trim()).unwrap();
    assert_eq!(info["pid"], child.id());
    let authority = info["authority"].as_str().unwrap();
    assert!(authority.starts_with("https://127.0.0.1:"));
    assert_eq!(info["exchange"], authority);
    let ca = std::fs::read_to_string(info["ca_cert"].as_str().unwrap()).unwrap();
    let client = client_for(&ca, false);
    let r = client
        .get(format!(
            "{authority}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{authority}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "{code:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(line, info);
}

#[test]
fn bad_fixture_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[tenant]]\nid = \"not-a-guid\"\n").unwrap();
    let status = Command::new(BIN)
        .args(["--fixture"])
        .arg(&bad)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(64));
}
