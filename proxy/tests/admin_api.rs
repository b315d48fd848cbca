//! ConnectionAdmin through its gRPC trait: paging, validation and PEM errors as callers see
//! them (code, field, remedy), warnings, and metadata-only responses.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use airlock_proto as pb;
use airlock_shared::{AirlockError, ErrorCode};
use common::*;
use pb::connection_admin_service_server::ConnectionAdminService as _;

fn err(s: tonic::Status) -> AirlockError {
    AirlockError::from_status(&s).unwrap()
}

#[tokio::test]
async fn list_pages_oldest_first() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.create_id(h.secret_request(SECRET_APP, SECRET)).await);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let req = pb::ListConnectionsRequest {
            page_size: 2,
            page_token: token,
        };
        let page = h
            .admin
            .list_connections(tonic::Request::new(req))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.connections.into_iter().map(|c| c.connection_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids);
    let bad = pb::ListConnectionsRequest {
        page_size: 5000,
        page_token: String::new(),
    };
    let e = err(h
        .admin
        .list_connections(tonic::Request::new(bad))
        .await
        .unwrap_err());
    assert_eq!(e.metadata()["field"], "page_size");
}

#[tokio::test]
async fn every_invalid_field_is_named() {
    let h = Harness::start().await;
    type Edit = fn(&mut pb::CreateConnectionRequest);
    let cases: [(&str, Edit); 8] = [
        ("tenant_id", |r| r.tenant_id = "organizations".into()),
        ("app_id", |r| r.app_id = "my-app".into()),
        ("organization", |r| r.organization = "contoso".into()),
        ("instance_name", |r| r.instance_name = "x".repeat(200)),
        ("credential", |r| r.credential = None),
        ("credential.client_secret", |r| {
            r.credential = Some(pb::Credential {
                kind: Some(pb::credential::Kind::ClientSecret(String::new())),
            })
        }),
        ("environment.authority_host", |r| {
            r.environment = Some(pb::Environment {
                authority_host: "http://insecure.example".into(),
                exchange_host: String::new(),
            })
        }),
        ("environment.exchange_host", |r| {
            r.environment = Some(pb::Environment {
                authority_host: String::new(),
                exchange_host: "https://x.example/path".into(),
            })
        }),
    ];
    for (field, edit) in cases {
        let mut req = h.secret_request(SECRET_APP, SECRET);
        edit(&mut req);
        let st = h.create(req).await.unwrap_err();
        assert_eq!(st.code(), tonic::Code::InvalidArgument, "{field}");
        let e = err(st);
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(e.metadata()["field"], field);
        assert!(!e.remediation().is_empty());
    }
}

#[tokio::test]
async fn pem_errors_reach_the_caller_with_their_remedy() {
    let h = Harness::start().await;
    let cases = [
        (
            include_str!("fixtures/pem/cert-only.pem"),
            "PEM must contain a private key",
            "cat cert.pem key.pem",
        ),
        (
            include_str!("fixtures/pem/encrypted.pem"),
            "encrypted",
            "openssl pkey",
        ),
        (include_str!("fixtures/pem/ec-pkcs8.pem"), "RSA", "rsa:2048"),
        (
            include_str!("fixtures/pem/mismatch.pem"),
            "does not match",
            "modulus",
        ),
        (include_str!("fixtures/pem/rsa1024.pem"), "2048", "4096"),
    ];
    for (pem, message, remedy) in cases {
        let st = h
            .create(h.cert_request(pem.into(), pb::AssertionAlgorithm::Ps256))
            .await
            .unwrap_err();
        let e = err(st);
        assert_eq!(e.code(), ErrorCode::PemInvalid, "{message}");
        assert!(e.detail().contains(message), "{}", e.detail());
        assert!(e.remediation().contains(remedy), "{}", e.remediation());
    }
    // accepted forms through the service, including a chain and PKCS#1
    for pem in [
        include_str!("fixtures/pem/chain.pem"),
        include_str!("fixtures/pem/pkcs1.pem"),
        include_str!("fixtures/pem/bag-attributes.pem"),
    ] {
        let resp = h
            .create(h.cert_request(pem.into(), pb::AssertionAlgorithm::Rs256))
            .await
            .unwrap();
        assert!(resp.warnings.is_empty());
    }
}

#[tokio::test]
async fn expired_certificate_is_credential_expired() {
    use airlock_proxy::admin::convert::AdminError;
    use airlock_proxy::pem::PemError;
    let e = AdminError::Pem(PemError::Expired("2020-01-01T00:00:00Z".into())).to_airlock();
    assert_eq!(e.code(), ErrorCode::CredentialExpired);
    assert!(e.remediation().contains("rotate"));
}

#[tokio::test]
async fn responses_carry_metadata_only() {
    let h = Harness::start().await;
    let pem = sim_combined_pem();
    let resp = h
        .create(h.cert_request(pem.clone(), pb::AssertionAlgorithm::Ps256))
        .await
        .unwrap();
    let c = resp.connection.unwrap();
    let info = c.certificate.clone().unwrap();
    assert_eq!(info.sha1_thumbprint, info.sha1_thumbprint.to_uppercase());
    assert!(info.not_before.is_some() && info.not_after.is_some());
    assert!(
        c.create_time.is_some() && c.update_time.is_some() && c.credential_rotate_time.is_some()
    );
    assert_eq!(c.version, 1);
    let got = h
        .admin
        .get_connection(tonic::Request::new(pb::GetConnectionRequest {
            connection_id: c.connection_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.connection.unwrap(), c);
    let key_line = pem
        .lines()
        .skip_while(|l| !l.contains("BEGIN PRIVATE KEY"))
        .nth(1)
        .unwrap();
    assert!(!format!("{c:?}").contains(key_line));
    let del = h
        .admin
        .delete_connection(tonic::Request::new(pb::DeleteConnectionRequest {
            connection_id: c.connection_id.clone(),
        }))
        .await
        .unwrap();
    assert_eq!(del.into_inner().revoked_sessions, 0);
    let st = h
        .admin
        .delete_connection(tonic::Request::new(pb::DeleteConnectionRequest {
            connection_id: c.connection_id,
        }))
        .await
        .unwrap_err();
    assert_eq!(err(st).code(), ErrorCode::ConnectionNotFound);
}

#[derive(Default)]
struct Recorder {
    events: parking_lot::Mutex<Vec<airlock_proxy::admin::events::AdminEvent>>,
    fail: bool,
}

impl airlock_proxy::admin::events::AdminEvents for Recorder {
    fn record(
        &self,
        e: airlock_proxy::admin::events::AdminEvent,
    ) -> futures::future::BoxFuture<'_, Result<(), AirlockError>> {
        Box::pin(async move {
            if self.fail {
                return Err(AirlockError::bare(ErrorCode::AuditUnavailable));
            }
            self.events.lock().push(e);
            Ok(())
        })
    }
}

#[tokio::test]
async fn one_event_per_decision_and_fail_closed() {
    use airlock_proxy::admin::events::Outcome;
    let h = Harness::start().await;
    let rec = std::sync::Arc::new(Recorder::default());
    let admin = h.admin.clone().with_events(rec.clone());
    let ok = admin
        .create_connection(tonic::Request::new(h.secret_request(SECRET_APP, SECRET)))
        .await
        .unwrap();
    let id = ok.into_inner().connection.unwrap().connection_id;
    let mut bad = h.secret_request(SECRET_APP, SECRET);
    bad.app_id = "nope".into();
    admin
        .create_connection(tonic::Request::new(bad))
        .await
        .unwrap_err();
    let t = pb::TestConnectionRequest {
        connection_id: id.clone(),
    };
    assert!(
        admin
            .test_connection(tonic::Request::new(t))
            .await
            .unwrap()
            .into_inner()
            .ok
    );
    admin
        .update_connection(tonic::Request::new(pb::UpdateConnectionRequest {
            connection_id: id.clone(),
            instance_name: Some("renamed".into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    admin
        .rotate_credential(tonic::Request::new(pb::RotateCredentialRequest {
            connection_id: id.clone(),
            credential: h.secret_request(SECRET_APP, "TEST-ONLY-rotated").credential,
        }))
        .await
        .unwrap();
    admin
        .delete_connection(tonic::Request::new(pb::DeleteConnectionRequest {
            connection_id: id.clone(),
        }))
        .await
        .unwrap();
    let events = rec.events.lock().clone();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.event, e.outcome, e.reason))
        .collect();
    assert_eq!(
        summary,
        [
            ("connection.create", Outcome::Allowed, None),
            (
                "connection.create",
                Outcome::Denied,
                Some(ErrorCode::InvalidArgument)
            ),
            ("connection.test", Outcome::Allowed, None),
            ("connection.update", Outcome::Allowed, None),
            ("connection.rotate", Outcome::Allowed, None),
            ("connection.delete", Outcome::Allowed, None),
        ]
    );
    for e in &events[2..] {
        assert_eq!(e.connection_id.unwrap().to_string(), id, "{}", e.event);
    }
    assert_eq!(
        events[5].revoked_sessions,
        Some(0),
        "the delete says how many it revoked"
    );

    let failing = h.admin.clone().with_events(std::sync::Arc::new(Recorder {
        fail: true,
        ..Default::default()
    }));
    let st = failing
        .create_connection(tonic::Request::new(h.secret_request(SECRET_APP, SECRET)))
        .await
        .unwrap_err();
    assert_eq!(err(st).code(), ErrorCode::AuditUnavailable);
    // A test changes nothing, but its diagnosis is not answered unaudited either.
    let st = failing
        .test_connection(tonic::Request::new(pb::TestConnectionRequest {
            connection_id: id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err(st).code(), ErrorCode::AuditUnavailable);
    // Nothing happened unaudited: no connection was created, and an existing one is neither
    // renamed, rotated nor deleted when its event cannot be recorded.
    assert!(h.vault.list(0, 10).await.unwrap().is_empty());
    let kept = h.create_id(h.secret_request(SECRET_APP, SECRET)).await;
    let update = pb::UpdateConnectionRequest {
        connection_id: kept.clone(),
        instance_name: Some("renamed".into()),
        ..Default::default()
    };
    let st = failing
        .update_connection(tonic::Request::new(update))
        .await
        .unwrap_err();
    assert_eq!(err(st).code(), ErrorCode::AuditUnavailable);
    let rotate = pb::RotateCredentialRequest {
        connection_id: kept.clone(),
        credential: h.secret_request(SECRET_APP, "TEST-ONLY-other").credential,
    };
    let st = failing
        .rotate_credential(tonic::Request::new(rotate))
        .await
        .unwrap_err();
    assert_eq!(err(st).code(), ErrorCode::AuditUnavailable);
    let delete = pb::DeleteConnectionRequest {
        connection_id: kept.clone(),
    };
    let st = failing
        .delete_connection(tonic::Request::new(delete))
        .await
        .unwrap_err();
    assert_eq!(err(st).code(), ErrorCode::AuditUnavailable);
    let id = uuid::Uuid::parse_str(&kept).unwrap();
    let record = h.vault.get(id).await.unwrap();
    assert_eq!(
        (record.instance_name.as_str(), record.version),
        ("Contoso (sim)", 1)
    );
    let (_, cred) = h.vault.open(id).await.unwrap();
    assert!(
        matches!(cred, airlock_proxy::store::Credential::ClientSecret(s) if s.expose_secret() == SECRET)
    );
}

/// A TestConnection that Entra ID throttles (429) is diagnosed THROTTLED and recorded like
/// every other upstream failure (`token.error`): outcome `error`, not `denied`.
#[tokio::test]
async fn throttled_test_connection_is_recorded_as_error() {
    use airlock_proxy::admin::events::Outcome;
    let h = Harness::start().await;
    let rec = std::sync::Arc::new(Recorder::default());
    let admin = h.admin.clone().with_events(rec.clone());
    let id = h.create_id(h.secret_request(SECRET_APP, SECRET)).await;
    // One 429 with a Retry-After too long to wait out in a call: the diagnosis is THROTTLED.
    h.sim.control().set_faults(airlock_sim::Faults {
        entra_fail_next: vec![429],
        retry_after_secs: 60,
        ..Default::default()
    });
    let t = pb::TestConnectionRequest {
        connection_id: id.clone(),
    };
    let resp = admin
        .test_connection(tonic::Request::new(t))
        .await
        .unwrap()
        .into_inner();
    assert!(!resp.ok);
    assert_eq!(code_of(&resp), ErrorCode::Throttled);
    let events = rec.events.lock().clone();
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event,
                e.outcome,
                e.reason,
                e.connection_id.map(|c| c.to_string()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(
            "connection.test",
            Outcome::Error,
            Some(ErrorCode::Throttled),
            Some(id)
        )]
    );
}
