//! `airlockctl health`: asks a server's `grpc.health.v1.Health/Check` over mTLS.

use std::sync::Arc;

use airlock_shared::AirlockError;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The serving status of `service` ("" for the whole server) at `server`.
pub async fn check(
    server: &str,
    tls: Arc<rustls::ClientConfig>,
    service: &str,
) -> anyhow::Result<ServingStatus> {
    let channel = airlock_shared::tls::connect(server, tls).await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|status| match AirlockError::from_status(&status) {
            Some(err) => anyhow::anyhow!("{err}\n  remedy: {}", err.remediation()),
            None => anyhow::anyhow!("health check failed: {}", transport_reason(&status)),
        })?;
    Ok(response.into_inner().status())
}

/// The deepest cause of a transport failure (for example the TLS alert a server sent), which
/// says more than tonic's "operation was canceled".
fn transport_reason(status: &tonic::Status) -> String {
    let mut reason = format!("{} ({:?})", status.message(), status.code());
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        reason = err.to_string();
        source = err.source();
    }
    reason
}
