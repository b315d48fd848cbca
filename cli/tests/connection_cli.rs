//! `airlockctl connection …` against a real proxy (in this process) and the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::{path::Path, process::Command};

use airlock_shared::shutdown::Shutdown;
use airlock_sim::{Fixture, SimServer, contoso};
use airlockctl::{demo::start_proxy, pki::DevPki};

fn airlockctl(dir: &Path, addr: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlockctl"))
        .args(args)
        .env("AIRLOCK_SERVER", addr)
        .env("AIRLOCK_TLS_DIR", dir.join("pki"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_lifecycle_from_the_command_line() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    DevPki::generate("airlock.local", 1)
        .unwrap()
        .write(&dir.join("pki"), false)
        .unwrap();
    let sim = SimServer::start(Fixture::contoso()).await.unwrap();
    std::fs::write(dir.join("sim-ca.pem"), sim.ca_cert_pem()).unwrap();
    let shutdown = Shutdown::new();
    let (addr, task) = start_proxy(dir, &shutdown).await.unwrap();
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, format!("{}\n", contoso::SECRET_APP_SECRET)).unwrap();
    let (authority, exchange) = (sim.authority(), sim.exchange());
    let run = |args: &[&str]| airlockctl(dir, &addr, args);

    let (ok, out, err) = tokio::task::block_in_place(|| {
        run(&[
            "connection",
            "create",
            "--json",
            "--tenant",
            contoso::TENANT_ID,
            "--app",
            contoso::SECRET_APP_ID,
            "--organization",
            contoso::DOMAIN,
            "--name",
            "cli test",
            "--client-secret-file",
            secret.to_str().unwrap(),
            "--authority-host",
            &authority,
            "--exchange-host",
            &exchange,
        ])
    });
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = created["connection_id"].as_str().unwrap().to_owned();
    assert_eq!(created["auth_method"], "CLIENT_SECRET");
    assert!(
        !out.contains(contoso::SECRET_APP_SECRET),
        "the secret came back"
    );

    let (ok, out, _) = tokio::task::block_in_place(|| run(&["connection", "list"]));
    assert!(ok && out.contains(&id) && out.contains("cli test"), "{out}");
    let (ok, out, err) = tokio::task::block_in_place(|| run(&["connection", "test", &id]));
    assert!(ok, "{out}{err}");
    assert!(out.contains("OK: Exchange organization"), "{out}");

    let pem = contoso::combined_pem_path();
    let (ok, out, err) = tokio::task::block_in_place(|| {
        run(&[
            "connection",
            "rotate",
            &id,
            "--certificate-file",
            pem.to_str().unwrap(),
            "--assertion",
            "rs256",
        ])
    });
    assert!(ok, "{err}");
    assert!(
        out.contains("CERTIFICATE") && out.contains("RS256") && out.contains("sha1:"),
        "{out}"
    );
    assert!(!out.contains("PRIVATE KEY"));
    // That certificate is registered on another app registration: the test says so, with the
    // remedy, as JSON for scripts, and exits non-zero.
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["connection", "test", "--json", &id]));
    assert!(!ok);
    let test: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(test["ok"], false);
    assert_eq!(test["error"]["code"], "CERTIFICATE_NOT_REGISTERED");
    assert!(
        test["error"]["remediation"]
            .as_str()
            .unwrap()
            .contains("Upload certificate"),
        "{out}"
    );

    // A wrong secret: the test fails with the code and the seed's remedy, and the exit code says so.
    std::fs::write(&secret, "TEST-ONLY~wrong").unwrap();
    let (ok, _, err) = tokio::task::block_in_place(|| {
        run(&[
            "connection",
            "rotate",
            &id,
            "--client-secret-file",
            secret.to_str().unwrap(),
        ])
    });
    assert!(ok, "{err}");
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["connection", "test", &id]));
    assert!(!ok);
    assert!(
        out.contains("CREDENTIAL_INVALID") && out.contains("Generate a new secret"),
        "{out}"
    );

    let (ok, out, _) =
        tokio::task::block_in_place(|| run(&["connection", "update", &id, "--name", "renamed"]));
    assert!(ok && out.contains("renamed"), "{out}");
    let (ok, out, _) = tokio::task::block_in_place(|| run(&["connection", "delete", &id]));
    assert!(ok && out.contains("deleted"), "{out}");
    let (ok, _, err) = tokio::task::block_in_place(|| run(&["connection", "get", &id]));
    assert!(
        !ok && err.contains("CONNECTION_NOT_FOUND") && err.contains("remedy"),
        "{err}"
    );

    // Bad input: a missing secret file and an invalid app ID, each with a clear message.
    let (ok, _, err) = tokio::task::block_in_place(|| {
        run(&[
            "connection",
            "create",
            "--tenant",
            contoso::TENANT_ID,
            "--app",
            contoso::SECRET_APP_ID,
            "--organization",
            contoso::DOMAIN,
            "--client-secret-file",
            "/nonexistent/secret",
        ])
    });
    assert!(
        !ok && err.contains("cannot read /nonexistent/secret"),
        "{err}"
    );
    std::fs::write(&secret, "x").unwrap();
    let (ok, _, err) = tokio::task::block_in_place(|| {
        run(&[
            "connection",
            "create",
            "--tenant",
            contoso::TENANT_ID,
            "--app",
            "not-a-guid",
            "--organization",
            contoso::DOMAIN,
            "--client-secret-file",
            secret.to_str().unwrap(),
        ])
    });
    assert!(
        !ok && err.contains("INVALID_ARGUMENT") && err.contains("app"),
        "{err}"
    );

    shutdown.trigger();
    task.await.unwrap().unwrap();
    sim.shutdown().await;
}
