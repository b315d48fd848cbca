//! airlock-proxy: the privileged credential proxy. It holds the master key, the sealed
//! credential store and the token cache; it manages connections and acquires Entra ID tokens.
//!
//! # Layout
//! - [`config`] — the TOML configuration (paths only for secrets).
//! - [`hardening`] — no core dumps, no ptrace (`RLIMIT_CORE` 0, `PR_SET_DUMPABLE` 0).
//! - [`seal`] — AES-256-GCM sealing under the master key; the master key file.
//! - [`store`] — the connection store trait, its SQLite backend, and the [`store::Vault`].
//! - [`pem`] — certificate PEM normalisation and parsing (reference §6).
//! - [`tokens`] — Entra ID client (secret and assertion), error mapping, the token cache.
//! - [`admin`] — the ConnectionAdmin gRPC service, validation, TestConnection.
//! - [`audit`] — the tamper-evident audit log writer (group commit, rotation, checkpoints).
//!
//! Entry points: [`init`] (`airlock-proxy init`), [`open`] (everything but the listener, for
//! tests and the demo), [`run`] / [`serve`] (`airlock-proxy serve`).

pub mod admin;
pub mod audit;
pub mod config;
pub mod hardening;
pub mod pem;
pub mod seal;
pub mod store;
pub mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use airlock_proto::connection_admin_service_server::ConnectionAdminServiceServer;
use airlock_shared::policy::RolePolicy;
use airlock_shared::server::{ServeOptions, serve as serve_mtls};
use tokio::net::TcpListener;

pub use config::ProxyConfig;

use seal::MasterKey;
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
/// session-signing key. Refuses if either file exists.
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
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| seal::SealError::Random)?;
    let pkcs8 = airlock_shared::SecretBytes::copy_from(pkcs8.as_ref());
    vault
        .put_secret_value(store::vault::SESSION_SIGNING_KEY, pkcs8.expose_secret())
        .await?;
    Ok(InitReport {
        master_key_file: key_path.clone(),
        store: config.store.path.clone(),
    })
}

/// The proxy's services, built from the config, without a listener.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// The store with the master key.
    pub vault: Vault,
    /// The token cache (part 2's token broker reads from it).
    pub tokens: Arc<TokenCache>,
    /// The ConnectionAdmin service.
    pub admin: admin::ConnectionAdmin,
}

/// Opens the master key and the store (refusing wrong key / corruption / newer schema) and
/// builds the services.
pub fn open(config: &ProxyConfig) -> Result<Proxy, StartError> {
    let key = Arc::new(MasterKey::load(&config.store.master_key_file)?);
    let sqlite = SqliteStore::open(&config.store.path, &key)?;
    let vault = Vault::new(Arc::new(sqlite), key);
    let extra_ca = match &config.entra.extra_ca_file {
        Some(p) => Some(std::fs::read(p).map_err(|source| StartError::Read {
            path: p.display().to_string(),
            source,
        })?),
        None => None,
    };
    let timeout = Duration::from_secs(config.entra.http_timeout_secs);
    let http =
        tokens::entra::http_client(extra_ca.as_deref(), timeout).map_err(StartError::Http)?;
    let source = EntraSource::new(vault.clone(), EntraClient::new(http.clone()));
    let policy = CachePolicy {
        max_wait: Duration::from_secs(config.entra.max_retry_wait_secs),
        ..CachePolicy::default()
    };
    let tokens = Arc::new(TokenCache::new(Arc::new(source), policy));
    let admin = admin::ConnectionAdmin::new(vault.clone(), tokens.clone(), http);
    Ok(Proxy {
        vault,
        tokens,
        admin,
    })
}

/// Serves the proxy's gRPC API on `listener` over mTLS with the role policy, health service
/// and graceful drain, until `shutdown` completes.
pub async fn serve(
    config: &ProxyConfig,
    proxy: Proxy,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let tls = airlock_shared::tls::server_config(&config.tls)?;
    let policy =
        RolePolicy::load(&config.policy_file).map_err(|e| StartError::Policy(e.to_string()))?;
    let mut opts = ServeOptions::new(tls, Arc::new(policy));
    opts.reflection = config.reflection;
    opts.grace = config.grace();
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(ConnectionAdminServiceServer::new(proxy.admin));
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "airlock-proxy serving");
    serve_mtls(listener, routes, opts, shutdown).await?;
    tracing::info!("airlock-proxy stopped");
    Ok(())
}

/// `airlock-proxy serve`: hardens the process, opens the store, binds `config.listen` and
/// serves until `shutdown` completes.
pub async fn run(
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    hardening::harden_process()?;
    let proxy = open(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    serve(&config, proxy, listener, shutdown).await
}
