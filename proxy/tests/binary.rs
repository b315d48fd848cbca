//! The thin binary: `init` creates files and refuses to overwrite; `serve --check-config`
//! accepts a good config and exits 64 on a bad one.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_airlock-proxy"));
    c.env("AIRLOCK_LOG_FORMAT", "human");
    c
}

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let pki = common::pki::TestPki::new(dir);
    let tls = pki.leaf("proxy", "spiffe://airlock.local/proxy/p1", true);
    std::fs::write(
        dir.join("policy.toml"),
        airlock_shared::policy::default_policy_toml("airlock.local"),
    )
    .unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\npolicy_file = \"{d}/policy.toml\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[store]\npath = \"{d}/proxy.db\"\nmaster_key_file = \"{d}/master.key\"\n",
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display(),
        d = dir.display()
    );
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn init_then_check_config_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let out = bin().args(["init", "--config"]).arg(&cfg).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(dir.path().join("master.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .len(),
        32
    );

    let again = bin().args(["init", "--config"]).arg(&cfg).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    let check = bin()
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    std::fs::set_permissions(
        dir.path().join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let loose = bin()
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(loose.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&loose.stderr).contains("chmod 600"));
}

#[test]
fn bad_config_exits_64_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("policy.toml", "nope.toml")
        + "surprise = true\n";
    std::fs::write(&cfg, text).unwrap();
    let out = bin()
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("surprise") && err.contains("policy_file"),
        "{err}"
    );
}
