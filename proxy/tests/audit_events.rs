//! Events the other suites do not reach: Entra errors during acquisition (`token.error`),
//! failed mTLS handshakes (`tls.handshake_failed`), and ConnectionAdmin events carrying the
//! caller's identity over the wire.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Duration;

use airlock_proto as pb;
use airlock_shared::ErrorCode;
use common::pki::TestPki;
use common::server::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_errors_and_refused_handshakes_are_audited() {
    let env = Env::new(|_| {}).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    // A connection whose secret Entra reports as expired.
    let mut req = env_request(&env);
    req.credential = Some(pb::Credential {
        kind: Some(pb::credential::Kind::ClientSecret(
            common::EXPIRED_SECRET.into(),
        )),
    });
    let id = admin
        .create_connection(req)
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap()
        .connection_id;
    let s = orch
        .mint_session(mint(&id, "job-e", ""))
        .await
        .unwrap()
        .into_inner();
    let err = w1
        .acquire_token(pb::AcquireTokenRequest { handle: s.handle })
        .await
        .unwrap_err();
    assert_eq!(code(&err), ErrorCode::CredentialExpired);

    // A client certificate from another CA: refused at the handshake, audited in the background.
    let other = tempfile::tempdir().unwrap();
    let foreign = TestPki::new(other.path()).leaf("intruder", ADMIN, false);
    let mut files = foreign;
    files.ca = env.pki.ca_path.clone();
    let cfg = airlock_shared::tls::client_config(&files).unwrap();
    let url = format!("https://localhost:{}", run.addr.port());
    let refused = match airlock_shared::tls::connect(&url, cfg).await {
        Err(_) => true,
        Ok(ch) => pb::connection_admin_service_client::ConnectionAdminServiceClient::new(ch)
            .list_connections(pb::ListConnectionsRequest::default())
            .await
            .is_err(),
    };
    assert!(refused);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop((admin, orch, w1));
    run.stop().await.unwrap();

    let records = env.records();
    let e = records.iter().find(|r| r.event == "token.error").unwrap();
    assert_eq!(e.reason.as_deref(), Some("CREDENTIAL_EXPIRED"));
    assert_eq!(e.outcome, airlock_shared::audit::Outcome::Error);
    assert_eq!(e.connection_id.as_deref(), Some(id.as_str()));
    assert_eq!(e.details["aadsts_codes"], "7000222");
    let h = records
        .iter()
        .find(|r| r.event == "tls.handshake_failed")
        .unwrap();
    assert!(h.actor.peer.is_some() && h.actor.spiffe_id.is_none());
    assert!(!h.details["why"].is_empty());
    let create = records
        .iter()
        .find(|r| r.event == "connection.create")
        .unwrap();
    assert_eq!(create.actor.spiffe_id.as_deref(), Some(ADMIN));
    assert_eq!(create.actor.role.as_deref(), Some("admin"));
    assert_eq!(create.connection_id.as_deref(), Some(id.as_str()));
    env.verify();
}

fn env_request(env: &Env) -> pb::CreateConnectionRequest {
    pb::CreateConnectionRequest {
        instance_name: "expired".into(),
        tenant_id: common::TENANT.into(),
        app_id: common::SECRET_APP.into(),
        organization: "contoso.onmicrosoft.com".into(),
        credential: None,
        environment: Some(pb::Environment {
            authority_host: env.sim.authority(),
            exchange_host: env.sim.exchange(),
        }),
    }
}

/// A store made before the audit keys existed gets them on first open, and keeps them.
#[tokio::test]
async fn missing_audit_keys_are_created_once() {
    let env = Env::new(|_| {}).await;
    let db = rusqlite::Connection::open(&env.config.store.path).unwrap();
    let removed = db
        .execute("DELETE FROM store_values WHERE name LIKE 'audit_%'", [])
        .unwrap();
    assert_eq!(removed, 2);
    drop(db);
    let first = airlock_proxy::open(&env.config).await.unwrap();
    let fp = first.audit.fingerprint(b"TEST-ONLY value");
    first.close(Default::default()).await;
    let second = airlock_proxy::open(&env.config).await.unwrap();
    assert_eq!(second.audit.fingerprint(b"TEST-ONLY value"), fp);
    second.close(Default::default()).await;
    assert!(env.audit_dir().join("audit-checkpoint.pub").is_file());
}

/// The handle's and the token's fingerprints are computed once and kept with the verified handle
/// and the cached token: every `token.issued` event, first or repeated, still carries exactly
/// what `AuditHash` gives for the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_acquisitions_carry_the_fingerprints_audit_hash_gives() {
    let env = Env::new(|_| {}).await;
    let run = env.serve().await;
    let mut admin = env.admin(&run).await;
    let mut orch = env.orchestrator(&run).await;
    let mut w1 = env.worker(&run, W1).await;
    let id = env.connection(&mut admin).await;
    let mut handles = vec![];
    for job in ["job-a", "job-b"] {
        let minted = orch.mint_session(mint(&id, job, "")).await.unwrap();
        handles.push(minted.into_inner().handle);
    }
    let mut token = String::new();
    for handle in [&handles[0], &handles[0], &handles[1], &handles[0]] {
        let got = w1
            .acquire_token(pb::AcquireTokenRequest {
                handle: handle.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            token.is_empty() || token == got.access_token,
            "one cached token"
        );
        token = got.access_token;
    }
    let mut auditor = env.auditor(&run).await;
    let mut fingerprints = vec![];
    for value in [handles[0].clone(), handles[1].clone(), token] {
        let answer = auditor.audit_hash(pb::AuditHashRequest { value }).await;
        fingerprints.push(answer.unwrap().into_inner().fingerprint);
    }
    let [fp_a, fp_b, fp_token] = <[String; 3]>::try_from(fingerprints).unwrap();
    drop((admin, orch, w1, auditor));
    run.stop().await.unwrap();
    let issued: Vec<_> = env
        .records()
        .into_iter()
        .filter(|r| r.event == "token.issued")
        .collect();
    let handle_fps: Vec<&str> = issued
        .iter()
        .map(|r| r.fingerprints["handle"].as_str())
        .collect();
    assert_eq!(handle_fps, [&fp_a, &fp_a, &fp_b, &fp_a]);
    assert!(issued.iter().all(|r| r.fingerprints["token"] == fp_token));
    assert_ne!(fp_a, fp_b);
    env.verify();
}
