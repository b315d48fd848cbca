//! The system under test, in this process: a development PKI (from `airlockctl::pki`), the
//! simulator, and the real proxy serving over mTLS on 127.0.0.1 with its audit log; one
//! connection, one session handle, and worker channels.

use std::path::Path;

use airlock_proto as pb;
use airlock_proto::connection_admin_service_client::ConnectionAdminServiceClient;
use airlock_proto::session_broker_service_client::SessionBrokerServiceClient;
use airlock_proxy::audit::{AuditConfig, FsyncPolicy};
use airlock_proxy::config::{EntraConfig, ProxyConfig, StoreConfig};
use airlock_shared::shutdown::Shutdown;
use airlock_shared::tls::TlsFiles;
use anyhow::Context as _;
use tonic::transport::Channel;

/// A running proxy with what the load needs.
pub struct Bench {
    _dir: tempfile::TempDir,
    _sim: airlock_sim::SimServer,
    audit_dir: std::path::PathBuf,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), airlock_proxy::StartError>>,
    /// Worker channels (mTLS, HTTP/2).
    pub channels: Vec<Channel>,
    /// A handle for the connection (kept in memory only, never printed).
    pub handle: String,
}

fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    }
}

async fn channel(dir: &Path, name: &str, port: u16) -> anyhow::Result<Channel> {
    let cfg = airlock_shared::tls::client_config(&files(dir, name))?;
    Ok(airlock_shared::tls::connect(&format!("https://localhost:{port}"), cfg).await?)
}

impl Bench {
    /// Starts everything and prepares one connection and one handle.
    pub async fn start(
        fsync: FsyncPolicy,
        commit_delay_us: u64,
        channels: usize,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("airlock-bench").tempdir()?;
        let d = dir.path();
        let pki = airlockctl::pki::DevPki::generate("airlock.local", 1)?;
        pki.write(d, false)?;
        let sim = airlock_sim::SimServer::start(airlock_sim::Fixture::contoso()).await?;
        std::fs::write(d.join("sim-ca.pem"), sim.ca_cert_pem())?;
        let config = ProxyConfig {
            listen: "127.0.0.1:0".parse()?,
            policy_file: d.join("policy.toml"),
            tls: files(d, "proxy"),
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
            audit: AuditConfig {
                dir: d.join("audit"),
                fsync,
                commit_delay_us,
                ..Default::default()
            },
        };
        airlock_proxy::init(&config).await?;
        let proxy = airlock_proxy::open(&config).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shutdown = Shutdown::new();
        let (s, cfg) = (shutdown.clone(), config.clone());
        let task = tokio::spawn(async move {
            airlock_proxy::serve(&cfg, proxy, listener, async move { s.wait().await }).await
        });
        let handle = prepare(d, port, &sim).await?;
        let mut worker_channels = Vec::new();
        for _ in 0..channels {
            worker_channels.push(channel(d, "worker-1", port).await?);
        }
        Ok(Self {
            audit_dir: config.audit.dir.clone(),
            _dir: dir,
            _sim: sim,
            shutdown,
            task,
            channels: worker_channels,
            handle,
        })
    }

    /// Stops the proxy; returns the number of audit records written.
    pub async fn stop(self) -> anyhow::Result<u64> {
        self.shutdown.trigger();
        drop(self.channels);
        self.task.await??;
        let files = airlock_shared::audit::files::log_files(&self.audit_dir)?;
        let summary = airlock_shared::audit::chain::verify_files(&files, &Default::default())
            .map_err(|f| anyhow::anyhow!("audit chain: {f}"))?;
        Ok(summary.records)
    }
}

/// Creates a client-secret connection to the simulator and mints a one-hour handle.
async fn prepare(d: &Path, port: u16, sim: &airlock_sim::SimServer) -> anyhow::Result<String> {
    use airlock_sim::contoso;
    let mut admin = ConnectionAdminServiceClient::new(channel(d, "admin", port).await?);
    let req = pb::CreateConnectionRequest {
        instance_name: "bench".into(),
        tenant_id: contoso::TENANT_ID.into(),
        app_id: contoso::SECRET_APP_ID.into(),
        organization: contoso::DOMAIN.into(),
        credential: Some(pb::Credential {
            kind: Some(pb::credential::Kind::ClientSecret(
                contoso::SECRET_APP_SECRET.into(),
            )),
        }),
        environment: Some(pb::Environment {
            authority_host: sim.authority(),
            exchange_host: sim.exchange(),
        }),
    };
    let conn = admin.create_connection(req).await?.into_inner();
    let id = conn.connection.context("no connection")?.connection_id;
    let mut orch = SessionBrokerServiceClient::new(channel(d, "orchestrator", port).await?);
    let mint = pb::MintSessionRequest {
        connection_id: id,
        job_id: "bench".into(),
        allowed_cmdlets: vec!["Get-Mailbox".into()],
        ttl: Some(pb_duration(3600)),
        worker_spiffe_id: String::new(),
    };
    Ok(orch.mint_session(mint).await?.into_inner().handle)
}

fn pb_duration(secs: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: secs,
        nanos: 0,
    }
}
