//! The `airlockctl` binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::{fs, os::unix::fs::PermissionsExt as _, process::Command};

fn airlockctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_airlockctl"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn pki_init_writes_once_and_refuses_the_second_time_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let out_s = out.to_str().unwrap();
    let first = airlockctl(&[
        "pki",
        "init",
        "--out",
        out_s,
        "--workers",
        "3",
        "--trust-domain",
        "corp.example",
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for name in [
        "ca",
        "proxy",
        "worker-1",
        "worker-2",
        "worker-3",
        "orchestrator",
        "admin",
    ] {
        let key = fs::metadata(out.join(format!("{name}.key"))).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600, "{name}.key");
        assert!(out.join(format!("{name}.pem")).exists());
    }
    let snapshot: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();

    let second = airlockctl(&["pki", "init", "--out", out_s]);
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("refusing to overwrite") && stderr.contains("--force"),
        "{stderr}"
    );
    let after: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(snapshot, after);

    let forced = airlockctl(&["pki", "init", "--out", out_s, "--force"]);
    assert!(forced.status.success());
}

#[test]
fn bad_arguments_exit_nonzero_with_a_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let bad = airlockctl(&["pki", "init", "--out", out, "--trust-domain", "Bad Domain"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lower-case"));
    let none = airlockctl(&["health", "--server", "https://localhost:1"]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("--tls-dir"));
}

#[test]
fn demo_runs_end_to_end() {
    let run = airlockctl(&["demo"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for expected in [
        "OK: Exchange organization",
        "CREDENTIAL_INVALID",
        "SP_NOT_REGISTERED",
        "DisplayName \"Adele Vance\"",
        "worker-2 presenting worker-1's handle → PermissionDenied DENIED_BY_POLICY",
        "HANDLE_INVALID",
        "HANDLE_REVOKED",
        "audit log: OK",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The demo never prints a secret.
    for secret in ["TEST-ONLY~sim+secret", "PRIVATE KEY", "eyJ"] {
        assert!(
            !stdout.contains(secret),
            "the demo printed secret material ({secret:?})"
        );
    }
}
