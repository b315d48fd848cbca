//! `airlockctl demo`: the one-command walk-through. It writes a development PKI, starts an
//! mTLS gRPC server in-process on 127.0.0.1 (ephemeral port) with the default role policy, and
//! shows what each identity may and may not do: health checks as admin, orchestrator and
//! worker; a worker refused an admin-only method with DENIED_BY_POLICY; a client without a
//! certificate refused during the handshake.

use std::{io::Write, path::PathBuf, sync::Arc};

use airlock_shared::{
    AirlockError,
    policy::RolePolicy,
    server::{ServeOptions, serve},
    shutdown::Shutdown,
    tls,
};
use anyhow::Context as _;

use crate::{identity::IdentityArgs, pki::DevPki};

/// Demo options.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where to write the PKI; a fresh temporary directory when unset.
    pub dir: Option<PathBuf>,
}

/// Runs the demo, narrating to `out`. Fails on the first step that does not behave as
/// Airlock promises.
pub async fn run(opts: &DemoOptions, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let temp;
    let dir = match &opts.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path().to_owned()
        }
    };
    let pki = DevPki::generate(crate::pki::DEFAULT_TRUST_DOMAIN, 1)?;
    pki.write(&dir, opts.dir.is_some())?;
    writeln!(out, "[1/4] development PKI written to {}", dir.display())?;
    for identity in &pki.identities {
        writeln!(out, "      {:<13} {}", identity.name, identity.spiffe_id)?;
    }

    let policy = Arc::new(RolePolicy::load(&dir.join("policy.toml"))?);
    let server_tls = tls::server_config(&IdentityArgs::from_dir(&dir, "proxy").files()?)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = format!("https://localhost:{}", listener.local_addr()?.port());
    let shutdown = Shutdown::new();
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        let opts = ServeOptions::new(server_tls, policy);
        async move {
            serve(
                listener,
                tonic::service::RoutesBuilder::default(),
                opts,
                async move { shutdown.wait().await },
            )
            .await
        }
    });
    writeln!(
        out,
        "[2/4] mTLS gRPC server listening on {addr} (role policy: {})",
        dir.join("policy.toml").display()
    )?;

    for name in ["admin", "orchestrator", "worker-1"] {
        let client = tls::client_config(&IdentityArgs::from_dir(&dir, name).files()?)?;
        let status = crate::health::check(&addr, client, "").await?;
        writeln!(
            out,
            "[3/4] health check as {name:<12} → {}",
            status.as_str_name()
        )?;
    }

    let worker = tls::client_config(&IdentityArgs::from_dir(&dir, "worker-1").files()?)?;
    let denied = list_connections(&addr, worker).await?;
    writeln!(
        out,
        "[4/4] worker-1 calling ConnectionAdminService/ListConnections → {denied}"
    )?;
    let anonymous = tls::anonymous_client_config(pki.ca.cert_pem().as_bytes())?;
    match crate::health::check(&addr, anonymous, "").await {
        Ok(status) => anyhow::bail!("a client without a certificate got through ({status:?})"),
        Err(e) => writeln!(
            out,
            "      client without a certificate → refused ({})",
            first_line(&e.to_string())
        )?,
    }

    shutdown.trigger();
    server.await??;
    writeln!(
        out,
        "done: every call was authenticated by mTLS and authorized by the role policy"
    )?;
    Ok(())
}

async fn list_connections(addr: &str, tls: Arc<rustls::ClientConfig>) -> anyhow::Result<String> {
    use airlock_proto::connection_admin_service_client::ConnectionAdminServiceClient;
    let channel = tls::connect(addr, tls).await?;
    match ConnectionAdminServiceClient::new(channel)
        .list_connections(airlock_proto::ListConnectionsRequest::default())
        .await
    {
        Ok(_) => anyhow::bail!("the role policy let a worker call an admin method"),
        Err(status) => {
            let err = AirlockError::from_status(&status)
                .context("refusal without an Airlock error code")?;
            anyhow::ensure!(
                err.code() == airlock_proto::ErrorCode::DeniedByPolicy,
                "unexpected refusal: {err}"
            );
            Ok(format!(
                "{:?} {} ({})",
                status.code(),
                err.code().reason(),
                err.detail()
            ))
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
