//! airlock-e2e: the shared harness for Airlock's cross-crate tests. Certificates come from the
//! real PKI code (`airlockctl::pki`), generated once per test binary; servers run in-process on
//! `127.0.0.1:0`.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use airlock_shared::{
    SecretBytes,
    authz::AccessObserver,
    identity::SpiffeId,
    policy::RolePolicy,
    server::{ServeOptions, serve},
    shutdown::Shutdown,
    tls::{self, TlsPem},
};
use airlockctl::pki::{Ca, DevPki, Leaf, LeafSpec};

/// Certificates for tests: the development PKI plus deliberately bad identities.
pub struct TestPki {
    /// Directory holding the written development PKI (`ca.pem`, `admin.pem`, ...).
    pub dir: PathBuf,
    /// The development PKI.
    pub dev: DevPki,
    /// A second, unrelated CA.
    pub other_ca: Ca,
    /// An admin identity signed by the other CA.
    pub foreign_admin: Leaf,
    /// An admin identity whose certificate expired yesterday.
    pub expired_admin: Leaf,
    /// A certificate with two SPIFFE URI SANs.
    pub two_uris: Leaf,
    /// A certificate with no URI SAN.
    pub no_uri: Leaf,
    /// A certificate whose only URI SAN is not a SPIFFE ID.
    pub https_uri: Leaf,
}

/// The shared test PKI, generated on first use.
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| generate().unwrap_or_else(|e| panic!("test PKI generation failed: {e}")))
}

fn generate() -> anyhow::Result<TestPki> {
    let dir = tempfile::Builder::new()
        .prefix("airlock-e2e-pki")
        .tempdir()?
        .keep();
    let dev = DevPki::generate("airlock.local", 2)?;
    dev.write(&dir, false)?;
    let other_ca = Ca::generate("airlock.local")?;
    let admin_id = "spiffe://airlock.local/admin/operator";
    let foreign_admin = other_ca.issue(&LeafSpec::new("admin", admin_id))?;
    let mut expired = LeafSpec::new("admin", admin_id);
    expired.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    expired.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let expired_admin = dev.ca.issue(&expired)?;
    let mut two = LeafSpec::new("admin", admin_id);
    two.uris.push("spiffe://airlock.local/admin/second".into());
    let two_uris = dev.ca.issue(&two)?;
    let mut none = LeafSpec::new("admin", admin_id);
    none.uris.clear();
    none.dns = vec!["admin.airlock.local".into()];
    let no_uri = dev.ca.issue(&none)?;
    let https_uri = dev.ca.issue(&LeafSpec::new(
        "admin",
        "https://airlock.local/admin/operator",
    ))?;
    Ok(TestPki {
        dir,
        dev,
        other_ca,
        foreign_admin,
        expired_admin,
        two_uris,
        no_uri,
        https_uri,
    })
}

impl TestPki {
    /// The PEM files of a named identity from the development PKI.
    pub fn files(&self, name: &str) -> tls::TlsFiles {
        airlockctl::identity::IdentityArgs::from_dir(&self.dir, name)
            .files()
            .unwrap_or_else(|e| panic!("identity {name}: {e}"))
    }

    /// A client configuration presenting identity `name`.
    pub fn client(&self, name: &str) -> Arc<rustls::ClientConfig> {
        tls::client_config(&self.files(name)).unwrap_or_else(|e| panic!("client {name}: {e}"))
    }

    /// A client configuration trusting the development CA and presenting `leaf`.
    pub fn client_with(&self, leaf: &Leaf) -> Arc<rustls::ClientConfig> {
        let pem = TlsPem {
            ca: self.dev.ca.cert_pem().as_bytes().to_vec(),
            cert: leaf.cert_pem.as_bytes().to_vec(),
            key: SecretBytes::copy_from(leaf.key_pem.expose_secret().as_bytes()),
        };
        tls::client_config_from_pem(&pem).unwrap_or_else(|e| panic!("client config: {e}"))
    }

    /// A client configuration trusting the development CA with no certificate.
    pub fn anonymous(&self) -> Arc<rustls::ClientConfig> {
        tls::anonymous_client_config(self.dev.ca.cert_pem().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The default role policy written with the PKI.
    pub fn policy(&self) -> Arc<RolePolicy> {
        Arc::new(RolePolicy::load(&self.dir.join("policy.toml")).unwrap_or_else(|e| panic!("{e}")))
    }
}

/// Records what the server refused, so tests can assert refusals were observed (the proxy
/// audits them through the same hook).
#[derive(Debug, Default)]
pub struct RecordingObserver {
    /// `caller method` for each policy denial.
    pub denials: Mutex<Vec<String>>,
    /// Reason of each failed handshake.
    pub handshakes: Mutex<Vec<String>>,
}

impl AccessObserver for RecordingObserver {
    fn denied(
        &self,
        caller: &SpiffeId,
        _roles: &[String],
        method: &str,
        _peer: Option<SocketAddr>,
    ) -> futures::future::BoxFuture<'static, ()> {
        self.denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{caller} {method}"));
        Box::pin(async {})
    }

    fn handshake_failed(&self, _peer: SocketAddr, reason: &str) {
        self.handshakes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reason.to_owned());
    }
}

impl RecordingObserver {
    /// Waits (up to 5 s) until at least `n` handshake failures were recorded, and returns them.
    pub async fn wait_handshakes(&self, n: usize) -> Vec<String> {
        for _ in 0..500 {
            let seen = self
                .handshakes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.handshakes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// An in-process mTLS gRPC server (the proxy identity) for tests.
pub struct TestServer {
    /// `https://localhost:PORT`.
    pub addr: String,
    /// What it refused.
    pub observer: Arc<RecordingObserver>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), airlock_shared::server::ServeError>>,
}

impl TestServer {
    /// Starts `routes` with the development PKI's proxy identity and default policy.
    pub async fn start(routes: tonic::service::RoutesBuilder, reflection: bool) -> Self {
        let pki = pki();
        let tls = tls::server_config(&pki.files("proxy")).unwrap_or_else(|e| panic!("{e}"));
        let observer = Arc::new(RecordingObserver::default());
        let mut opts = ServeOptions::new(tls, pki.policy());
        opts.observer = observer.clone();
        opts.reflection = reflection;
        opts.grace = Duration::from_secs(5);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = format!(
            "https://localhost:{}",
            listener.local_addr().map(|a| a.port()).unwrap_or_default()
        );
        let shutdown = Shutdown::new();
        let task = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { serve(listener, routes, opts, async move { shutdown.wait().await }).await }
        });
        Self {
            addr,
            observer,
            shutdown,
            task,
        }
    }

    /// A channel to this server with `config`.
    pub async fn channel(
        &self,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<tonic::transport::Channel, tls::ConnectError> {
        tls::connect(&self.addr, config).await
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.shutdown.trigger();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("server failed: {e}"),
            Err(e) => panic!("server task failed: {e}"),
        }
    }
}
