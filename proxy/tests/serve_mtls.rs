//! The real server: init, open, serve over mTLS with the role policy; ConnectionAdmin over the
//! wire with the admin certificate; other roles refused; validation errors as the client sees
//! them; graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;

use airlock_proto as pb;
use airlock_proto::connection_admin_service_client::ConnectionAdminServiceClient;
use airlock_proxy::config::{EntraConfig, ProxyConfig, StoreConfig};
use airlock_shared::{AirlockError, ErrorCode};
use common::pki::TestPki;
use common::*;

struct Running {
    addr: std::net::SocketAddr,
    pki: TestPki,
    shutdown: airlock_shared::shutdown::Shutdown,
    task: tokio::task::JoinHandle<Result<(), airlock_proxy::StartError>>,
    _sim: airlock_sim::SimServer,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = airlock_sim::SimServer::start(airlock_sim::Fixture::contoso())
        .await
        .unwrap();
    std::fs::write(d.join("sim-ca.pem"), sim.ca_cert_pem()).unwrap();
    let pki = TestPki::new(d);
    let tls = pki.leaf("proxy", "spiffe://airlock.local/proxy/p1", true);
    std::fs::write(
        d.join("policy.toml"),
        airlock_shared::policy::default_policy_toml("airlock.local"),
    )
    .unwrap();
    let config = ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        policy_file: d.join("policy.toml"),
        tls,
        store: StoreConfig {
            path: d.join("proxy.db"),
            master_key_file: d.join("master.key"),
        },
        entra: EntraConfig {
            extra_ca_file: Some(d.join("sim-ca.pem")),
            ..EntraConfig::default()
        },
        reflection: false,
        grace_secs: 5,
        sessions: Default::default(),
        audit: airlock_proxy::config::AuditConfig {
            dir: d.join("audit"),
            ..Default::default()
        },
    };
    airlock_proxy::init(&config).await.unwrap();
    let again = airlock_proxy::init(&config).await.unwrap_err();
    assert!(
        again.to_string().contains("refusing to overwrite"),
        "{again}"
    );
    let proxy = airlock_proxy::open(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = airlock_shared::shutdown::Shutdown::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move {
        airlock_proxy::serve(&config, proxy, listener, async move { s.wait().await }).await
    });
    Running {
        addr,
        pki,
        shutdown,
        task,
        _sim: sim,
        _dir: dir,
    }
}

async fn client(
    r: &Running,
    spiffe: &str,
) -> ConnectionAdminServiceClient<tonic::transport::Channel> {
    let files = r.pki.leaf(&spiffe.replace(['/', ':'], "_"), spiffe, false);
    let cfg = airlock_shared::tls::client_config(&files).unwrap();
    let ch = airlock_shared::tls::connect(&format!("https://localhost:{}", r.addr.port()), cfg)
        .await
        .unwrap();
    ConnectionAdminServiceClient::new(ch)
}

fn code(s: &tonic::Status) -> ErrorCode {
    AirlockError::from_status(s)
        .expect("an Airlock error")
        .code()
}

#[tokio::test]
async fn admin_api_over_mtls() {
    let r = start().await;
    let sim_env = Some(pb::Environment {
        authority_host: r._sim.authority(),
        exchange_host: r._sim.exchange(),
    });
    let mut admin = client(&r, "spiffe://airlock.local/admin/alice").await;
    let req = pb::CreateConnectionRequest {
        instance_name: "Contoso".into(),
        tenant_id: TENANT.into(),
        app_id: SECRET_APP.into(),
        organization: "contoso.onmicrosoft.com".into(),
        credential: Some(pb::Credential {
            kind: Some(pb::credential::Kind::ClientSecret(SECRET.into())),
        }),
        environment: sim_env,
    };
    let conn = admin
        .create_connection(req.clone())
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap();
    let id = conn.connection_id.clone();
    let test = admin
        .test_connection(pb::TestConnectionRequest {
            connection_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(test.ok, "{:?}", test.error);
    let list = admin
        .list_connections(pb::ListConnectionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.connections.len(), 1);
    let upd = pb::UpdateConnectionRequest {
        connection_id: id.clone(),
        instance_name: Some("Renamed".into()),
        ..Default::default()
    };
    assert_eq!(
        admin
            .update_connection(upd)
            .await
            .unwrap()
            .into_inner()
            .connection
            .unwrap()
            .instance_name,
        "Renamed"
    );

    let mut bad = req.clone();
    bad.tenant_id = "common".into();
    let st = admin.create_connection(bad).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        AirlockError::from_status(&st).unwrap().metadata()["field"],
        "tenant_id"
    );

    let mut nokey = req.clone();
    let cert = pb::CertificateCredential {
        pem: include_str!("fixtures/pem/cert-only.pem").into(),
        assertion_algorithm: 0,
    };
    nokey.credential = Some(pb::Credential {
        kind: Some(pb::credential::Kind::Certificate(cert)),
    });
    let st = admin.create_connection(nokey).await.unwrap_err();
    assert_eq!(code(&st), ErrorCode::PemInvalid);
    assert_eq!(st.message(), "PEM must contain a private key");
    assert!(
        AirlockError::from_status(&st)
            .unwrap()
            .remediation()
            .contains("cat cert.pem key.pem > combined.pem")
    );

    let mut worker = client(&r, "spiffe://airlock.local/worker/w1").await;
    let st = worker
        .list_connections(pb::ListConnectionsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::PermissionDenied);

    admin
        .delete_connection(pb::DeleteConnectionRequest {
            connection_id: id.clone(),
        })
        .await
        .unwrap();
    let st = admin
        .get_connection(pb::GetConnectionRequest { connection_id: id })
        .await
        .unwrap_err();
    assert_eq!(code(&st), ErrorCode::ConnectionNotFound);

    r.shutdown.trigger();
    tokio::time::timeout(std::time::Duration::from_secs(10), r.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let _ = Arc::new(());
}
