//! mTLS + role policy, end to end over real TLS on 127.0.0.1 with certificates from the PKI
//! code (invariant 8: every listener requires mTLS; a caller's role comes from the single
//! SPIFFE URI SAN of its client certificate through the policy file; anything else is denied).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use airlock_e2e::{TestServer, pki};
use airlock_proto::{
    ErrorCode, ListConnectionsRequest, ListConnectionsResponse,
    connection_admin_service_client::ConnectionAdminServiceClient,
    connection_admin_service_server::{ConnectionAdminService, ConnectionAdminServiceServer},
};
use airlock_shared::{AirlockError, identity::CallerIdentity, policy::RolePolicy};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A server-side test double: answers ListConnections with the caller identity the
/// authorization layer attached, so the test sees exactly who the server thinks called.
struct WhoAmI;

#[tonic::async_trait]
impl ConnectionAdminService for WhoAmI {
    async fn list_connections(
        &self,
        req: Request<ListConnectionsRequest>,
    ) -> Result<Response<ListConnectionsResponse>, Status> {
        let caller =
            CallerIdentity::of(&req).ok_or_else(|| Status::internal("no caller identity"))?;
        Ok(Response::new(ListConnectionsResponse {
            connections: vec![],
            next_page_token: format!("{} {}", caller.role, caller.spiffe_id),
        }))
    }
    async fn create_connection(
        &self,
        _: Request<airlock_proto::CreateConnectionRequest>,
    ) -> Result<Response<airlock_proto::CreateConnectionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
    async fn update_connection(
        &self,
        _: Request<airlock_proto::UpdateConnectionRequest>,
    ) -> Result<Response<airlock_proto::UpdateConnectionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
    async fn rotate_credential(
        &self,
        _: Request<airlock_proto::RotateCredentialRequest>,
    ) -> Result<Response<airlock_proto::RotateCredentialResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
    async fn get_connection(
        &self,
        _: Request<airlock_proto::GetConnectionRequest>,
    ) -> Result<Response<airlock_proto::GetConnectionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
    async fn delete_connection(
        &self,
        _: Request<airlock_proto::DeleteConnectionRequest>,
    ) -> Result<Response<airlock_proto::DeleteConnectionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
    async fn test_connection(
        &self,
        _: Request<airlock_proto::TestConnectionRequest>,
    ) -> Result<Response<airlock_proto::TestConnectionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
}

async fn server() -> TestServer {
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(ConnectionAdminServiceServer::new(WhoAmI));
    TestServer::start(routes, true).await
}

async fn list_as(
    server: &TestServer,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<String, Status> {
    let channel = server
        .channel(config)
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let resp = ConnectionAdminServiceClient::new(channel)
        .list_connections(ListConnectionsRequest::default())
        .await?;
    Ok(resp.into_inner().next_page_token)
}

#[tokio::test]
async fn admin_may_call_an_admin_only_method() {
    let server = server().await;
    let who = list_as(&server, pki().client("admin")).await.unwrap();
    assert_eq!(who, "admin spiffe://airlock.local/admin/operator");
    assert!(server.observer.denials.lock().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn worker_and_orchestrator_are_denied_by_policy_with_their_id() {
    let server = server().await;
    for (name, id) in [
        ("worker-1", "spiffe://airlock.local/worker/worker-1"),
        ("orchestrator", "spiffe://airlock.local/orchestrator/main"),
    ] {
        let status = list_as(&server, pki().client(name)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{name}");
        let err = AirlockError::from_status(&status).expect("Airlock error details");
        assert_eq!(err.code(), ErrorCode::DeniedByPolicy);
        assert_eq!(err.metadata().get("caller").map(String::as_str), Some(id));
        assert_eq!(
            err.metadata().get("method").map(String::as_str),
            Some("airlock.v1.ConnectionAdminService/ListConnections")
        );
        assert!(status.message().contains(id));
    }
    assert_eq!(
        server.observer.denials.lock().unwrap().len(),
        2,
        "each denial reaches the observer"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_role_may_check_health() {
    let server = server().await;
    for name in ["admin", "orchestrator", "worker-1", "worker-2"] {
        let channel = server.channel(pki().client(name)).await.unwrap();
        let resp = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(
            resp.into_inner().status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving
        );
    }
    server.stop().await;
}

/// A client that must not get through: the call fails and the server records a failed
/// handshake (the TLS layer refused it before any gRPC method was considered).
async fn assert_refused(
    server: &TestServer,
    config: std::sync::Arc<rustls::ClientConfig>,
    what: &str,
    expected_reason: &str,
) {
    let before = server.observer.handshakes.lock().unwrap().len();
    match list_as(server, config).await {
        Ok(who) => panic!("{what}: got through as {who}"),
        Err(status) => assert_ne!(status.code(), Code::Ok, "{what}"),
    }
    let seen = server.observer.wait_handshakes(before + 1).await;
    let reason = seen
        .get(before)
        .unwrap_or_else(|| panic!("{what}: no handshake failure recorded"));
    assert!(
        reason.contains(expected_reason),
        "{what}: reason {reason:?} lacks {expected_reason:?}"
    );
}

#[tokio::test]
async fn clients_without_a_valid_identity_cannot_get_through() {
    let server = server().await;
    let p = pki();
    assert_refused(&server, p.anonymous(), "no certificate", "certificate").await;
    // Same CA name, different key: webpki reports the forged chain as a bad signature.
    assert_refused(
        &server,
        p.client_with(&p.foreign_admin),
        "another CA",
        "invalid peer certificate",
    )
    .await;
    assert_refused(
        &server,
        p.client_with(&p.expired_admin),
        "expired",
        "certificate expired",
    )
    .await;
    assert_refused(
        &server,
        p.client_with(&p.two_uris),
        "two URI SANs",
        "2 URI SANs",
    )
    .await;
    assert_refused(
        &server,
        p.client_with(&p.no_uri),
        "no URI SAN",
        "no URI SAN",
    )
    .await;
    assert_refused(
        &server,
        p.client_with(&p.https_uri),
        "https URI SAN",
        "not a SPIFFE ID",
    )
    .await;
    // Nothing reached the policy layer.
    assert!(server.observer.denials.lock().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_api_for_admins_only() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = server().await;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let channel = server.channel(pki().client("admin")).await.unwrap();
    let mut stream = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request.clone()]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "airlock.v1.ConnectionAdminService",
        "airlock.v1.SessionBrokerService",
        "airlock.v1.TokenBrokerService",
        "airlock.v1.WorkerService",
        "airlock.v1.AuditService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let channel = server.channel(pki().client("worker-1")).await.unwrap();
    let status = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    server.stop().await;
}

#[test]
fn policy_files_with_syntax_errors_or_unknown_keys_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax.toml",
            "[roles.admin]\nidentities = [\"spiffe://airlock.local/admin/*\"\nmethods = []\n",
            "line 3",
        ),
        (
            "unknown.toml",
            "[roles.admin]\nidentities = [\"spiffe://airlock.local/admin/*\"]\nmethods = [\"a.B/*\"]\nallow_all = true\n",
            "line 4",
        ),
    ];
    for (file, text, line) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let msg = RolePolicy::load(&path).unwrap_err().to_string();
        assert!(msg.contains(line), "{file}: {msg}");
        assert!(
            msg.contains(file),
            "{file}: message does not name the file: {msg}"
        );
    }
}
