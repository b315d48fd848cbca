//! Both auth methods end to end against airlock-sim, and every diagnosis TestConnection gives.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use airlock_proto as pb;
use airlock_shared::ErrorCode;
use common::*;

#[tokio::test]
async fn client_secret_end_to_end() {
    let h = Harness::start().await;
    let id = h.create_id(h.secret_request(SECRET_APP, SECRET)).await;
    let r = h.test(&id).await;
    assert!(r.ok, "{:?}", r.error);
    assert_eq!(
        r.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["token", "exchange"]
    );
    assert!(!r.exchange_organization.is_empty());
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let tok = h.tokens.get(uuid).await.unwrap();
    let claims = h
        .sim
        .control()
        .verify_token(tok.value.expose_secret())
        .unwrap();
    assert_eq!(claims.appid, SECRET_APP);
}

async fn certificate_end_to_end(alg: pb::AssertionAlgorithm) {
    let h = Harness::start().await;
    let resp = h
        .create(h.cert_request(sim_combined_pem(), alg))
        .await
        .unwrap();
    let conn = resp.connection.unwrap();
    assert_eq!(conn.auth_method, pb::AuthMethod::Certificate as i32);
    let info = conn.certificate.unwrap();
    assert_eq!(info.sha1_thumbprint.len(), 40);
    assert_eq!(info.sha256_thumbprint.len(), 64);
    assert_eq!(info.key_bits, 2048);
    assert_eq!(
        info.assertion_algorithm,
        if alg == pb::AssertionAlgorithm::Rs256 {
            2
        } else {
            1
        }
    );
    let r = h.test(&conn.connection_id).await;
    assert!(r.ok, "{:?}", r.error);
}

#[tokio::test]
async fn certificate_ps256_end_to_end() {
    certificate_end_to_end(pb::AssertionAlgorithm::Unspecified).await;
}

#[tokio::test]
async fn certificate_rs256_end_to_end() {
    certificate_end_to_end(pb::AssertionAlgorithm::Rs256).await;
}

async fn diagnose(h: &Harness, req: pb::CreateConnectionRequest) -> pb::TestConnectionResponse {
    let id = h.create_id(req).await;
    let r = h.test(&id).await;
    assert!(!r.ok);
    r
}

#[tokio::test]
async fn wrong_secret_is_credential_invalid_with_the_seed_remedy() {
    let h = Harness::start().await;
    let r = diagnose(&h, h.secret_request(SECRET_APP, "TEST-ONLY-wrong")).await;
    assert_eq!(code_of(&r), ErrorCode::CredentialInvalid);
    let e = r.error.unwrap();
    assert!(e.message.contains("AADSTS7000215"), "{}", e.message);
    assert!(e.remediation.contains("Generate a new secret"));
    assert_eq!(e.metadata["aadsts_codes"], "7000215");
    assert!(e.metadata.contains_key("trace_id") && e.metadata.contains_key("correlation_id"));
    assert_eq!(
        r.steps.len(),
        1,
        "the exchange step does not run after a failed token step"
    );
    assert_eq!(h.token_requests(SECRET_APP), 1, "401 is not retried");
}

#[tokio::test]
async fn unknown_app_unknown_tenant_expired_and_disabled() {
    let h = Harness::start().await;
    let r = diagnose(
        &h,
        h.secret_request("11111111-2222-4333-8444-0000000000ff", SECRET),
    )
    .await;
    assert_eq!(code_of(&r), ErrorCode::AppNotFound);
    assert!(
        r.error
            .unwrap()
            .remediation
            .contains("Application (client) ID")
    );

    let mut req = h.secret_request(SECRET_APP, SECRET);
    req.tenant_id = "00000000-1111-4222-8333-444444444444".into();
    assert_eq!(code_of(&diagnose(&h, req).await), ErrorCode::TenantNotFound);

    let r = diagnose(&h, h.secret_request(SECRET_APP, EXPIRED_SECRET)).await;
    assert_eq!(code_of(&r), ErrorCode::CredentialExpired);

    let r = diagnose(&h, h.secret_request(DISABLED_APP, DISABLED_SECRET)).await;
    assert_eq!(code_of(&r), ErrorCode::AppNotFound);
    assert!(r.error.unwrap().metadata["aadsts_codes"].contains("7000112"));
}

#[tokio::test]
async fn unregistered_certificate_is_certificate_not_registered() {
    let h = Harness::start().await;
    let r = diagnose(
        &h,
        h.cert_request(unregistered_pem(), pb::AssertionAlgorithm::Ps256),
    )
    .await;
    assert_eq!(code_of(&r), ErrorCode::CertificateNotRegistered);
    assert!(r.error.unwrap().remediation.contains("Upload"));
}

#[tokio::test]
async fn unregistered_service_principal_and_missing_roles() {
    let h = Harness::start().await;
    let r = diagnose(&h, h.secret_request(UNREGISTERED_APP, UNREGISTERED_SECRET)).await;
    assert_eq!(code_of(&r), ErrorCode::SpNotRegistered);
    assert_eq!(r.steps.len(), 2);
    assert!(r.steps[0].ok && !r.steps[1].ok);
    let e = r.error.unwrap();
    assert!(e.remediation.contains("wait up to 30 minutes"));
    assert!(e.retryable);

    let r = diagnose(&h, h.secret_request(NOROLE_APP, NOROLE_SECRET)).await;
    assert_eq!(code_of(&r), ErrorCode::RoleMissing);
    assert!(
        r.error
            .unwrap()
            .remediation
            .contains("Exchange Administrator")
    );

    let r = diagnose(&h, h.secret_request(NOCONSENT_APP, NOCONSENT_SECRET)).await;
    assert_eq!(code_of(&r), ErrorCode::RoleMissing);
    assert!(r.error.unwrap().remediation.contains("admin consent"));
}

#[tokio::test]
async fn entra_outage_and_throttling() {
    let h = Harness::start().await;
    let id = h.create_id(h.secret_request(SECRET_APP, SECRET)).await;
    h.sim.control().set_faults(airlock_sim::Faults {
        entra_fail_next: vec![503],
        retry_after_secs: 0,
        ..Default::default()
    });
    let r = h.test(&id).await;
    assert!(r.ok, "one 503 is retried: {:?}", r.error);
    assert_eq!(h.token_requests(SECRET_APP), 2);

    h.sim.control().set_faults(airlock_sim::Faults {
        entra_fail_next: vec![429],
        retry_after_secs: 60,
        ..Default::default()
    });
    let r = h.test(&id).await;
    assert_eq!(code_of(&r), ErrorCode::Throttled);
    let delay = r.error.unwrap().retry_delay.unwrap();
    assert_eq!(delay.seconds, 60, "Retry-After is passed on");
    assert_eq!(
        h.token_requests(SECRET_APP),
        3,
        "a 60 s Retry-After is not waited out in a call"
    );
}
