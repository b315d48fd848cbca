//! The token cache against the simulator's counters: single flight on a cold cache, rotation
//! drops the cached token.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use airlock_proto as pb;
use common::*;
use pb::connection_admin_service_server::ConnectionAdminService as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_requests_make_one_entra_request() {
    let h = Harness::start().await;
    let id =
        uuid::Uuid::parse_str(&h.create_id(h.secret_request(SECRET_APP, SECRET)).await).unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let t = h.tokens.clone();
            tokio::spawn(async move { t.get(id).await.map(|tok| tok.expires_at) })
        })
        .collect();
    let mut expiries = Vec::new();
    for t in tasks {
        expiries.push(t.await.unwrap().unwrap());
    }
    expiries.dedup();
    assert_eq!(expiries.len(), 1, "everyone got the same token");
    assert_eq!(h.token_requests(SECRET_APP), 1, "exactly one Entra request");
}

#[tokio::test]
async fn rotation_drops_the_cached_token() {
    let h = Harness::start().await;
    let conn = h
        .create_id(h.secret_request(SECRET_APP, "TEST-ONLY-wrong"))
        .await;
    let id = uuid::Uuid::parse_str(&conn).unwrap();
    assert!(h.tokens.get(id).await.is_err());
    let cred = pb::Credential {
        kind: Some(pb::credential::Kind::ClientSecret(SECRET.into())),
    };
    let resp = h
        .admin
        .rotate_credential(tonic::Request::new(pb::RotateCredentialRequest {
            connection_id: conn.clone(),
            credential: Some(cred),
        }))
        .await
        .unwrap()
        .into_inner();
    let c = resp.connection.unwrap();
    assert_eq!(c.version, 2);
    assert!(c.credential_rotate_time.is_some());
    let first = h.tokens.get(id).await.unwrap();
    assert_eq!(h.token_requests(SECRET_APP), 2);
    // rotate to the certificate method: the cached token is dropped again
    let cert = pb::CertificateCredential {
        pem: sim_combined_pem(),
        assertion_algorithm: 0,
    };
    let cred = pb::Credential {
        kind: Some(pb::credential::Kind::Certificate(cert)),
    };
    let mut req = pb::RotateCredentialRequest {
        connection_id: conn.clone(),
        credential: Some(cred),
    };
    // the secret app has no certificate registered: the new token request fails, proving it ran
    h.admin
        .rotate_credential(tonic::Request::new(req.clone()))
        .await
        .unwrap();
    let err = h.tokens.get(id).await.unwrap_err();
    assert_eq!(
        err.code(),
        airlock_shared::ErrorCode::CertificateNotRegistered
    );
    drop(first);
    req.connection_id = uuid::Uuid::new_v4().to_string();
    let status = h
        .admin
        .rotate_credential(tonic::Request::new(req))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
}
