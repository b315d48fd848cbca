//! airlock-proxy: the privileged credential proxy. It holds the master key, the sealed
//! credential store, the token cache, the session-signing key and the audit log; it manages
//! connections, acquires Entra ID tokens, mints session handles and trades them for tokens.
//!
//! # Layout
//! - [`config`] — the TOML configuration (paths only for secrets).
//! - [`hardening`] — no core dumps, no ptrace (`RLIMIT_CORE` 0, `PR_SET_DUMPABLE` 0).
//! - [`seal`] — AES-256-GCM sealing under the master key; the master key file.
//! - [`store`] — the connection store trait, its SQLite backend, and the [`store::Vault`].
//! - [`pem`] — certificate PEM normalisation and parsing (reference §6).
//! - [`tokens`] — Entra ID client (secret and assertion), error mapping, the token cache.
//! - [`admin`] — the ConnectionAdmin gRPC service, validation, TestConnection.
//! - [`audit`] — the tamper-evident audit log (writer, event names, observer, AuditHash).
//! - [`sessions`] — session handles: format, the one verifier, SessionBroker.
//! - [`broker`] — TokenBroker: AcquireToken.
//! - [`keys`] — the sealed keys: session signing, audit fingerprints, audit checkpoints.
//!
//! Entry points: [`init`] (`airlock-proxy init`), [`open`] (everything but the listener, for
//! tests and the demo), [`run`] / [`serve`] (`airlock-proxy serve`).

pub mod admin;
pub mod audit;
pub mod broker;
pub mod config;
pub mod hardening;
pub mod keys;
pub mod pem;
pub mod seal;
pub mod sessions;
pub mod store;
pub mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use airlock_proto::audit_service_server::AuditServiceServer;
use airlock_proto::connection_admin_service_server::ConnectionAdminServiceServer;
use airlock_proto::session_broker_service_server::SessionBrokerServiceServer;
use airlock_proto::token_broker_service_server::TokenBrokerServiceServer;
use airlock_shared::audit::{Actor, AuditEvent, Outcome};
use airlock_shared::policy::RolePolicy;
use airlock_shared::server::{ServeOptions, serve as serve_mtls};
use tokio::net::TcpListener;

pub use config::ProxyConfig;

use audit::{AuditLog, names};
use seal::MasterKey;
use sessions::{Revocations, SessionBroker, SessionVerifier};
use store::{SqliteStore, Vault};
use tokens::{CachePolicy, EntraClient, EntraSource, TokenCache};

/// Why the proxy could not initialise or start. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Master key problem.
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    /// Store problem.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// TLS files.
    #[error(transparent)]
    Tls(#[from] airlock_shared::tls::TlsError),
    /// Role policy file.
    #[error("role policy: {0}")]
    Policy(String),
    /// Outbound HTTPS client.
    #[error("outbound HTTPS client: {0}")]
    Http(String),
    /// Listener.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error(transparent)]
    Serve(#[from] airlock_shared::server::ServeError),
    /// Hardening failed.
    #[error(transparent)]
    Hardening(#[from] hardening::HardeningError),
    /// The audit log could not be opened or written.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// A stored key is unusable.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// A file named in the config could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// What `init` created.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The master key file.
    pub master_key_file: std::path::PathBuf,
    /// The store file.
    pub store: std::path::PathBuf,
}

/// `airlock-proxy init`: creates the master key file (mode 0600), the store and the sealed
/// keys (session signing, audit fingerprints, audit checkpoints). Refuses if either file
/// exists.
pub async fn init(config: &ProxyConfig) -> Result<InitReport, StartError> {
    let key_path = &config.store.master_key_file;
    if key_path.exists() {
        return Err(seal::SealError::Exists {
            path: key_path.display().to_string(),
        }
        .into());
    }
    if config.store.path.exists() {
        return Err(store::StoreError::Exists {
            path: config.store.path.display().to_string(),
        }
        .into());
    }
    MasterKey::create_file(key_path)?;
    let key = Arc::new(MasterKey::load(key_path)?);
    let sqlite = SqliteStore::create(&config.store.path, &key)?;
    let vault = Vault::new(Arc::new(sqlite), key);
    keys::load_or_create(&vault).await?;
    Ok(InitReport {
        master_key_file: key_path.clone(),
        store: config.store.path.clone(),
    })
}

/// The proxy's services, built from the config, without a listener. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// The store with the master key.
    pub vault: Vault,
    /// The token cache.
    pub tokens: Arc<TokenCache>,
    /// The ConnectionAdmin service.
    pub admin: admin::ConnectionAdmin,
    /// The SessionBroker service.
    pub sessions: SessionBroker,
    /// The one handle verifier (token broker, planned relay).
    pub verifier: SessionVerifier,
    /// The TokenBroker service.
    pub broker: broker::TokenBroker,
    /// The audit log.
    pub audit: AuditLog,
    writer: Arc<parking_lot::Mutex<Option<audit::writer::WriterHandle>>>,
    /// Whether [`serve`] wrote `proxy.started`: only then does [`Proxy::close`] write
    /// `proxy.stopped`, so the log never holds a stop without its start.
    started: Arc<AtomicBool>,
}

impl Proxy {
    /// Appends `proxy.stopped` if `proxy.started` was written, stops the audit writer after
    /// everything queued (it writes a final checkpoint), and joins it. Later requests fail
    /// with AUDIT_UNAVAILABLE.
    pub async fn close(&self, actor: Actor) {
        if self.started.swap(false, Ordering::SeqCst) {
            let ev = AuditEvent::new(names::PROXY_STOPPED, actor, Outcome::Allowed);
            if let Err(e) = self.audit.append(ev).await {
                tracing::error!(error = %e, "could not audit proxy.stopped");
            }
        }
        self.audit.close().await;
        let writer = self.writer.lock().take();
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

fn http_client(config: &ProxyConfig) -> Result<reqwest::Client, StartError> {
    let extra_ca = match &config.entra.extra_ca_file {
        Some(p) => Some(std::fs::read(p).map_err(|source| StartError::Read {
            path: p.display().to_string(),
            source,
        })?),
        None => None,
    };
    let timeout = Duration::from_secs(config.entra.http_timeout_secs);
    tokens::entra::http_client(extra_ca.as_deref(), timeout).map_err(StartError::Http)
}

/// Opens the master key, the store (refusing wrong key / corruption / newer schema), the
/// sealed keys and the audit log (refusing an unwritable or edited log), and builds the
/// services. Everything that can fail is done before the audit log is opened, so an `Err`
/// leaves no audit writer running. Close the returned proxy with [`Proxy::close`] (or hand it
/// to [`serve`], which does).
pub async fn open(config: &ProxyConfig) -> Result<Proxy, StartError> {
    open_with_sinks(config, None).await
}

/// [`open`], writing the audit log through `sinks` instead of `audit.log` (and stdout) when
/// given; the chain continues from the log in `config.audit.dir`. For fault-injection tests.
pub async fn open_with_sinks(
    config: &ProxyConfig,
    sinks: Option<Vec<Box<dyn audit::sink::Sink>>>,
) -> Result<Proxy, StartError> {
    let key = Arc::new(MasterKey::load(&config.store.master_key_file)?);
    let sqlite =
        SqliteStore::open(&config.store.path, &key)?.with_lock_wait(config.audit.write_deadline());
    let vault = Vault::new(Arc::new(sqlite), key);
    let keys = keys::load_or_create(&vault).await?;
    let http = http_client(config)?;
    let revocations = Revocations::load(vault.clone()).await?;
    // Nothing below the audit log's opening can fail: an error never strands its writer.
    let (audit, writer) = match sinks {
        None => AuditLog::open(
            &config.audit_config(),
            &keys.fingerprint,
            Some(keys.checkpoint.clone()),
        )?,
        Some(sinks) => AuditLog::start(
            sinks,
            audit::recover::chain_end(&config.audit_dir())?,
            None,
            config.audit.timing(),
            &keys.fingerprint,
        ),
    };
    let source = EntraSource::new(vault.clone(), EntraClient::new(http.clone()));
    let policy = CachePolicy {
        max_wait: Duration::from_secs(config.entra.max_retry_wait_secs),
        ..CachePolicy::default()
    };
    let tokens = Arc::new(TokenCache::new(Arc::new(source), policy));
    let admin = admin::ConnectionAdmin::new(vault.clone(), tokens.clone(), http)
        .with_events(Arc::new(audit.clone()))
        .with_revocations(revocations.clone());
    let s = &config.sessions;
    let verifier = SessionVerifier::new(
        sessions::handle::public_key(&keys.session),
        revocations.clone(),
        vault.clone(),
        Duration::from_secs(s.clock_skew_secs),
    );
    let ttl = sessions::service::TtlPolicy {
        default: Duration::from_secs(s.default_ttl_secs),
        max: Duration::from_secs(s.max_ttl_secs),
    };
    let sessions = SessionBroker::new(keys.session, vault.clone(), revocations, audit.clone(), ttl);
    let broker = broker::TokenBroker::new(verifier.clone(), tokens.clone(), audit.clone());
    Ok(Proxy {
        vault,
        tokens,
        admin,
        sessions,
        verifier,
        broker,
        audit,
        writer: Arc::new(parking_lot::Mutex::new(Some(writer))),
        started: Arc::new(AtomicBool::new(false)),
    })
}

/// `airlock-proxy serve --check-config`: opens the store and its keys and checks that the
/// audit directory is writable, without opening the audit log (a running proxy owns it).
pub async fn check(config: &ProxyConfig) -> Result<(), StartError> {
    let key = Arc::new(MasterKey::load(&config.store.master_key_file)?);
    let sqlite = SqliteStore::open(&config.store.path, &key)?;
    keys::load_or_create(&Vault::new(Arc::new(sqlite), key)).await?;
    http_client(config)?;
    let dir = &config.audit_dir();
    let probe = if dir.exists() {
        dir.as_path()
    } else {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        }
    };
    nix::unistd::access(probe, nix::unistd::AccessFlags::W_OK).map_err(|e| {
        audit::AuditError::Open {
            dir: dir.clone(),
            why: format!("{} is not writable ({e})", probe.display()),
        }
    })?;
    Ok(())
}

/// The proxy's own identity for its `proxy.*` events (the SPIFFE ID of its certificate).
fn own_actor(config: &ProxyConfig) -> Actor {
    let spiffe_id = std::fs::read(&config.tls.cert).ok().and_then(|pem| {
        let der = rustls_pemfile::certs(&mut &pem[..]).next()?.ok()?;
        airlock_shared::identity::SpiffeId::from_certificate(&der)
            .ok()
            .map(|id| id.to_string())
    });
    Actor {
        spiffe_id,
        role: Some("proxy".into()),
        peer: Some(config.listen.to_string()),
    }
}

/// The TLS server configuration and the role policy, read and checked (the files a serving
/// proxy needs besides its store and audit log).
fn serve_options(config: &ProxyConfig) -> Result<ServeOptions, StartError> {
    let tls = airlock_shared::tls::server_config(&config.tls)?;
    let policy =
        RolePolicy::load(&config.policy_file).map_err(|e| StartError::Policy(e.to_string()))?;
    let mut opts = ServeOptions::new(tls, Arc::new(policy));
    opts.reflection = config.reflection;
    opts.grace = config.grace();
    Ok(opts)
}

/// Serves the proxy's gRPC API on `listener` over mTLS with the role policy, health service
/// and graceful drain, until `shutdown` completes. Writes `proxy.started` first (refusing to
/// serve if it cannot) and `proxy.stopped` last, then joins the audit writer. On every error
/// (bad TLS or policy files, `proxy.started` not written) the audit writer is closed too,
/// without a `proxy.stopped`: the log never holds a stop without its start.
pub async fn serve(
    config: &ProxyConfig,
    proxy: Proxy,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    match serve_options(config) {
        Ok(opts) => serve_with(config, proxy, listener, opts, shutdown).await,
        Err(e) => {
            proxy.close(own_actor(config)).await;
            Err(e)
        }
    }
}

/// [`serve`] with the TLS configuration and policy already loaded.
async fn serve_with(
    config: &ProxyConfig,
    proxy: Proxy,
    listener: TcpListener,
    mut opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let me = own_actor(config);
    let started = AuditEvent::new(names::PROXY_STARTED, me.clone(), Outcome::Allowed);
    if let Err(e) = proxy.audit.append(started).await {
        proxy.close(me).await;
        return Err(e.into());
    }
    proxy.started.store(true, Ordering::SeqCst);
    opts.observer = Arc::new(audit::record::AuditObserver::new(proxy.audit.clone()));
    let mut routes = tonic::service::RoutesBuilder::default();
    routes
        .add_service(ConnectionAdminServiceServer::new(proxy.admin.clone()))
        .add_service(SessionBrokerServiceServer::new(proxy.sessions.clone()))
        .add_service(TokenBrokerServiceServer::new(proxy.broker.clone()))
        .add_service(AuditServiceServer::new(
            audit::service::AuditHashService::new(proxy.audit.clone()),
        ));
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "airlock-proxy serving");
    let result = serve_mtls(listener, routes, opts, shutdown).await;
    proxy.close(me).await;
    tracing::info!("airlock-proxy stopped");
    Ok(result?)
}

/// `airlock-proxy serve`: hardens the process, reads the TLS files and the role policy, binds
/// `config.listen`, then opens the store and the audit log and serves until `shutdown`
/// completes. Everything that can fail before serving (bad files, a port in use) fails before
/// the audit log is opened, so a failed start writes nothing to it.
pub async fn run(
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    hardening::harden_process()?;
    let opts = serve_options(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let proxy = open(&config).await?;
    serve_with(&config, proxy, listener, opts, shutdown).await
}
