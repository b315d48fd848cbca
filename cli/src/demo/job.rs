//! The demo's job stage: an orchestrator mints a job-scoped session handle, a worker trades it
//! for an access token and calls Exchange with it, and every misuse of the handle is refused.

use std::{io::Write, path::Path, sync::Arc};

use airlock_proto::{
    AcquireTokenRequest, AcquireTokenResponse, ErrorCode, MintSessionRequest, RevokeSessionRequest,
    session_broker_service_client::SessionBrokerServiceClient,
    token_broker_service_client::TokenBrokerServiceClient,
};
use airlock_shared::{AirlockError, SecretString, tls};
use anyhow::Context as _;
use serde_json::json;
use tonic::transport::Channel;

use crate::identity::IdentityArgs;

/// The mailbox the demo job reads.
const MAILBOX: &str = "adelev@contoso.onmicrosoft.com";
/// The demo job's ID.
pub const JOB_ID: &str = "demo-job-1";

async fn channel(dir: &Path, addr: &str, name: &str) -> anyhow::Result<Channel> {
    let config = tls::client_config(&IdentityArgs::from_dir(dir.join("pki"), name).files()?)?;
    Ok(tls::connect(addr, config).await?)
}

async fn acquire(
    dir: &Path,
    addr: &str,
    worker: &str,
    handle: &str,
) -> Result<AcquireTokenResponse, tonic::Status> {
    let channel = channel(dir, addr, worker)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    TokenBrokerServiceClient::new(channel)
        .acquire_token(AcquireTokenRequest {
            handle: handle.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn refusal(status: &tonic::Status) -> String {
    match AirlockError::from_status(status) {
        Some(err) => format!("{:?} {}", status.code(), err.code().reason()),
        None => format!("{:?} {}", status.code(), status.message()),
    }
}

fn expect_refused(
    result: Result<AcquireTokenResponse, tonic::Status>,
    want: ErrorCode,
    what: &str,
) -> anyhow::Result<String> {
    match result {
        Ok(_) => anyhow::bail!("{what}: a token was issued"),
        Err(status) => {
            let code = AirlockError::from_status(&status).map(|e| e.code());
            anyhow::ensure!(
                code == Some(want),
                "{what}: expected {}, got {}",
                want.reason(),
                refusal(&status)
            );
            Ok(refusal(&status))
        }
    }
}

/// Runs the stage against the connection `connection_id`.
pub async fn run(
    dir: &Path,
    addr: &str,
    connection_id: &str,
    sim_ca: &str,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let mut broker = SessionBrokerServiceClient::new(channel(dir, addr, "orchestrator").await?);
    let minted = broker
        .mint_session(MintSessionRequest {
            connection_id: connection_id.to_owned(),
            job_id: JOB_ID.to_owned(),
            allowed_cmdlets: vec!["Get-Mailbox".into()],
            ttl: Some(prost_types::Duration {
                seconds: 300,
                nanos: 0,
            }),
            worker_spiffe_id: "spiffe://airlock.local/worker/worker-1".into(),
        })
        .await
        .map_err(crate::connection::explain)?
        .into_inner();
    let handle = SecretString::new(minted.handle);
    writeln!(
        out,
        "[6/8] orchestrator mints a session for job {JOB_ID}: cmdlets [Get-Mailbox], 5 minutes, only worker-1"
    )?;
    writeln!(
        out,
        "      session {} (handle: a {}-byte Ed25519-signed JWS, never printed)",
        minted.session_id,
        handle.len()
    )?;

    let granted = acquire(dir, addr, "worker-1", handle.expose_secret())
        .await
        .map_err(crate::connection::explain)?;
    writeln!(
        out,
        "[7/8] worker-1 trades the handle for an access token: tenant {}, {}, cmdlets {:?}, expires {}",
        granted.tenant_id,
        granted.organization,
        granted.allowed_cmdlets,
        crate::connection::ts(&granted.expire_time)
    )?;
    let mailbox = get_mailbox(&granted, sim_ca).await?;
    writeln!(
        out,
        "      worker-1 runs Get-Mailbox {MAILBOX} over InvokeCommand → {mailbox}"
    )?;

    let stolen = expect_refused(
        acquire(dir, addr, "worker-2", handle.expose_secret()).await,
        ErrorCode::DeniedByPolicy,
        "another worker",
    )?;
    writeln!(
        out,
        "      worker-2 presenting worker-1's handle → {stolen}"
    )?;
    let tampered = tamper(handle.expose_secret());
    let forged = expect_refused(
        acquire(dir, addr, "worker-1", &tampered).await,
        ErrorCode::HandleInvalid,
        "tampered handle",
    )?;
    writeln!(out, "      a handle with an edited payload → {forged}")?;
    broker
        .revoke_session(RevokeSessionRequest {
            session_id: minted.session_id.clone(),
        })
        .await
        .map_err(crate::connection::explain)?;
    let revoked = expect_refused(
        acquire(dir, addr, "worker-1", handle.expose_secret()).await,
        ErrorCode::HandleRevoked,
        "revoked handle",
    )?;
    writeln!(
        out,
        "      orchestrator revokes the session; worker-1 tries again → {revoked}"
    )?;
    Ok(())
}

/// Swaps the payload's job ID for another one, keeping the signature.
fn tamper(handle: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = handle.split('.').map(str::to_owned).collect();
    if let Some(payload) = parts.get_mut(1) {
        let decoded = engine.decode(payload.as_bytes()).unwrap_or_default();
        let edited = String::from_utf8_lossy(&decoded).replace(JOB_ID, "demo-job-2");
        *payload = engine.encode(edited.as_bytes());
    }
    parts.join(".")
}

/// What the worker does with its token: one InvokeCommand call, as the rest executor will.
async fn get_mailbox(granted: &AcquireTokenResponse, sim_ca: &str) -> anyhow::Result<String> {
    let client = http_client(sim_ca)?;
    let url = format!(
        "{}/adminapi/beta/{}/InvokeCommand",
        granted.exchange_endpoint.trim_end_matches('/'),
        granted.tenant_id
    );
    let body =
        json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": MAILBOX}}});
    let response = client
        .post(url)
        .bearer_auth(&granted.access_token)
        .header(
            "X-AnchorMailbox",
            format!(
                "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{}",
                granted.tenant_id
            ),
        )
        .json(&body)
        .send()
        .await
        .context("InvokeCommand failed")?;
    anyhow::ensure!(
        response.status().is_success(),
        "InvokeCommand answered {}",
        response.status()
    );
    let value: serde_json::Value = response.json().await?;
    let first = value["value"]
        .get(0)
        .context("Get-Mailbox returned no object")?;
    Ok(format!(
        "DisplayName {:?}, RecipientTypeDetails {}",
        first["DisplayName"].as_str().unwrap_or_default(),
        first["RecipientTypeDetails"].as_str().unwrap_or_default()
    ))
}

fn http_client(ca_pem: &str) -> anyhow::Result<reqwest::Client> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()?)
}
