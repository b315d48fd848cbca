//! A real proxy over mTLS on 127.0.0.1:0 with its audit log, the simulator behind it, and
//! clients for each role. TEST ONLY keys and certificates.

use std::net::SocketAddr;
use std::path::PathBuf;

use airlock_proto as pb;
use airlock_proto::audit_service_client::AuditServiceClient;
use airlock_proto::connection_admin_service_client::ConnectionAdminServiceClient;
use airlock_proto::session_broker_service_client::SessionBrokerServiceClient;
use airlock_proto::token_broker_service_client::TokenBrokerServiceClient;
use airlock_proxy::audit::sink::Sink;
use airlock_proxy::config::{AuditConfig, EntraConfig, ProxyConfig, StoreConfig};
use airlock_proxy::{Proxy, StartError};
use airlock_shared::audit::AuditRecord;
use airlock_shared::audit::chain::{Anchors, Summary, verify_files};
use airlock_shared::{AirlockError, ErrorCode};
use tonic::transport::Channel;

use super::pki::TestPki;
use super::{SECRET, SECRET_APP, TENANT};

pub const ADMIN: &str = "spiffe://airlock.local/admin/alice";
pub const ORCH: &str = "spiffe://airlock.local/orchestrator/main";
pub const W1: &str = "spiffe://airlock.local/worker/w1";
pub const W2: &str = "spiffe://airlock.local/worker/w2";

/// Everything that outlives one server run: files, PKI, simulator, config.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sim: airlock_sim::SimServer,
    pub pki: TestPki,
    pub config: ProxyConfig,
}

/// One running server.
pub struct Running {
    pub addr: SocketAddr,
    pub proxy: Proxy,
    shutdown: airlock_shared::shutdown::Shutdown,
    pub task: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl Running {
    /// Stops the server and waits for it (proxy.stopped written, writer joined).
    pub async fn stop(self) -> Result<(), StartError> {
        self.shutdown.trigger();
        drop(self.proxy);
        self.task.await.unwrap()
    }
}

impl Env {
    /// Init'ed store and keys, audit in `dir/audit`; `tune` adjusts the config first.
    pub async fn new(tune: impl FnOnce(&mut ProxyConfig)) -> Self {
        super::captured_logs();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sim = airlock_sim::SimServer::start(airlock_sim::Fixture::contoso())
            .await
            .unwrap();
        std::fs::write(d.join("sim-ca.pem"), sim.ca_cert_pem()).unwrap();
        let pki = TestPki::new(d);
        let tls = pki.leaf("proxy", "spiffe://airlock.local/proxy/p1", true);
        let policy = airlock_shared::policy::default_policy_toml("airlock.local");
        std::fs::write(d.join("policy.toml"), policy).unwrap();
        let mut config = ProxyConfig {
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
            grace_secs: 2,
            sessions: Default::default(),
            audit: AuditConfig {
                dir: d.join("audit"),
                checkpoint_interval_secs: 0,
                ..Default::default()
            },
        };
        tune(&mut config);
        airlock_proxy::init(&config).await.unwrap();
        Self {
            dir,
            sim,
            pki,
            config,
        }
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.config.audit.dir.clone()
    }

    /// Opens and serves; `Err` if the proxy refuses to start.
    pub async fn try_serve(
        &self,
        sinks: Option<Vec<Box<dyn Sink>>>,
    ) -> Result<Running, StartError> {
        let proxy = airlock_proxy::open_with_sinks(&self.config, sinks).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = airlock_shared::shutdown::Shutdown::new();
        let (s, config, p) = (shutdown.clone(), self.config.clone(), proxy.clone());
        let task = tokio::spawn(async move {
            airlock_proxy::serve(&config, p, listener, async move { s.wait().await }).await
        });
        Ok(Running {
            addr,
            proxy,
            shutdown,
            task,
        })
    }

    pub async fn serve(&self) -> Running {
        self.try_serve(None).await.unwrap()
    }

    pub async fn channel(&self, r: &Running, spiffe: &str) -> Channel {
        let files = self
            .pki
            .leaf(&spiffe.replace(['/', ':'], "_"), spiffe, false);
        let cfg = airlock_shared::tls::client_config(&files).unwrap();
        let url = format!("https://localhost:{}", r.addr.port());
        airlock_shared::tls::connect(&url, cfg).await.unwrap()
    }

    pub async fn admin(&self, r: &Running) -> ConnectionAdminServiceClient<Channel> {
        ConnectionAdminServiceClient::new(self.channel(r, ADMIN).await)
    }

    pub async fn auditor(&self, r: &Running) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.channel(r, ADMIN).await)
    }

    pub async fn orchestrator(&self, r: &Running) -> SessionBrokerServiceClient<Channel> {
        SessionBrokerServiceClient::new(self.channel(r, ORCH).await)
    }

    pub async fn worker(&self, r: &Running, id: &str) -> TokenBrokerServiceClient<Channel> {
        TokenBrokerServiceClient::new(self.channel(r, id).await)
    }

    /// A client-secret connection to the simulator; returns its ID.
    pub async fn connection(&self, admin: &mut ConnectionAdminServiceClient<Channel>) -> String {
        self.connection_with(admin, SECRET_APP, SECRET).await
    }

    /// A client-secret connection for another simulator app; returns its ID.
    pub async fn connection_with(
        &self,
        admin: &mut ConnectionAdminServiceClient<Channel>,
        app: &str,
        secret: &str,
    ) -> String {
        let req = pb::CreateConnectionRequest {
            instance_name: "Contoso (sim)".into(),
            tenant_id: TENANT.into(),
            app_id: app.into(),
            organization: "contoso.onmicrosoft.com".into(),
            credential: Some(pb::Credential {
                kind: Some(pb::credential::Kind::ClientSecret(secret.into())),
            }),
            environment: Some(pb::Environment {
                authority_host: self.sim.authority(),
                exchange_host: self.sim.exchange(),
            }),
        };
        let resp = admin.create_connection(req).await.unwrap().into_inner();
        resp.connection.unwrap().connection_id
    }

    /// Every audit record, oldest first.
    pub fn records(&self) -> Vec<AuditRecord> {
        let files = airlock_shared::audit::files::log_files(&self.audit_dir()).unwrap();
        files
            .iter()
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                text.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<AuditRecord>>()
            })
            .collect()
    }

    /// The whole log text (for "never written" checks; never print it in a failure).
    pub fn log_text(&self) -> String {
        let files = airlock_shared::audit::files::log_files(&self.audit_dir()).unwrap();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }

    /// Verifies the chain; panics with the finding (which names a line, never a secret).
    pub fn verify(&self) -> Summary {
        let files = airlock_shared::audit::files::log_files(&self.audit_dir()).unwrap();
        verify_files(&files, &Anchors::default()).unwrap_or_else(|f| panic!("{f}"))
    }
}

/// A mint request for `connection` allowing Get-Mailbox.
pub fn mint(connection: &str, job: &str, worker: &str) -> pb::MintSessionRequest {
    pb::MintSessionRequest {
        connection_id: connection.into(),
        job_id: job.into(),
        allowed_cmdlets: vec!["Get-Mailbox".into()],
        ttl: None,
        worker_spiffe_id: worker.into(),
    }
}

/// The catalogue code of a refusal.
pub fn code(s: &tonic::Status) -> ErrorCode {
    AirlockError::from_status(s)
        .expect("an Airlock error")
        .code()
}
