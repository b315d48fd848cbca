//! Shared harness for the crate tests: a simulator, a fresh store, and the proxy's services
//! wired against them. TEST ONLY values throughout.
#![allow(dead_code, reason = "each test file uses a subset")]

pub mod pki;
pub mod server;

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use airlock_proto as pb;
use airlock_proxy::admin::ConnectionAdmin;
use airlock_proxy::seal::MasterKey;
use airlock_proxy::store::{SqliteStore, Vault};
use airlock_proxy::tokens::{
    CachePolicy, EntraClient, EntraSource, TokenCache, entra::http_client,
};
use airlock_shared::SecretBytes;
use airlock_sim::{Fixture, SimServer};

pub const TENANT: &str = "8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70";
pub const SECRET_APP: &str = "11111111-2222-4333-8444-000000000001";
pub const SECRET: &str = "TEST-ONLY~sim+secret/Value=42";
pub const EXPIRED_SECRET: &str = "TEST-ONLY~expired+secret";
pub const CERT_APP: &str = "11111111-2222-4333-8444-000000000002";
pub const UNREGISTERED_APP: &str = "11111111-2222-4333-8444-000000000003";
pub const UNREGISTERED_SECRET: &str = "TEST-ONLY-unregistered-secret";
pub const NOROLE_APP: &str = "11111111-2222-4333-8444-000000000004";
pub const NOROLE_SECRET: &str = "TEST-ONLY-norole-secret";
pub const DISABLED_APP: &str = "11111111-2222-4333-8444-000000000006";
pub const DISABLED_SECRET: &str = "TEST-ONLY-disabled-secret";
pub const NOCONSENT_APP: &str = "11111111-2222-4333-8444-000000000007";
pub const NOCONSENT_SECRET: &str = "TEST-ONLY-noconsent-secret";

/// The simulator's registered certificate + key (sim/fixtures/certs, TEST ONLY).
pub fn sim_combined_pem() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sim/fixtures/certs/combined.pem"
    ))
    .unwrap()
}

/// A certificate the simulator does not know (proxy/tests/fixtures/pem, TEST ONLY).
pub fn unregistered_pem() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pem/combined.pem"
    ))
    .unwrap()
}

/// Everything the tests log, for the "never logged" checks.
pub fn captured_logs() -> Arc<parking_lot::Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<parking_lot::Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
    .clone()
}

#[derive(Clone)]
struct Capture(Arc<parking_lot::Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Harness {
    pub sim: SimServer,
    pub dir: tempfile::TempDir,
    pub vault: Vault,
    pub tokens: Arc<TokenCache>,
    pub admin: ConnectionAdmin,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(CachePolicy::default()).await
    }

    pub async fn start_with(policy: CachePolicy) -> Self {
        captured_logs();
        let sim = SimServer::start(Fixture::contoso()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(MasterKey::from_bytes(&SecretBytes::new(vec![42; 32])).unwrap());
        let store = SqliteStore::create(&dir.path().join("proxy.db"), &key).unwrap();
        let vault = Vault::new(Arc::new(store), key);
        let http =
            http_client(Some(sim.ca_cert_pem().as_bytes()), Duration::from_secs(10)).unwrap();
        let source = EntraSource::new(vault.clone(), EntraClient::new(http.clone()));
        let tokens = Arc::new(TokenCache::new(Arc::new(source), policy));
        let admin = ConnectionAdmin::new(vault.clone(), tokens.clone(), http);
        Self {
            sim,
            dir,
            vault,
            tokens,
            admin,
        }
    }

    pub fn environment(&self) -> Option<pb::Environment> {
        Some(pb::Environment {
            authority_host: self.sim.authority(),
            exchange_host: self.sim.exchange(),
        })
    }

    pub fn secret_request(&self, app: &str, secret: &str) -> pb::CreateConnectionRequest {
        pb::CreateConnectionRequest {
            instance_name: "Contoso (sim)".into(),
            tenant_id: TENANT.into(),
            app_id: app.into(),
            organization: "contoso.onmicrosoft.com".into(),
            credential: Some(pb::Credential {
                kind: Some(pb::credential::Kind::ClientSecret(secret.into())),
            }),
            environment: self.environment(),
        }
    }

    pub fn cert_request(
        &self,
        pem: String,
        alg: pb::AssertionAlgorithm,
    ) -> pb::CreateConnectionRequest {
        let cert = pb::CertificateCredential {
            pem,
            assertion_algorithm: alg as i32,
        };
        pb::CreateConnectionRequest {
            credential: Some(pb::Credential {
                kind: Some(pb::credential::Kind::Certificate(cert)),
            }),
            ..self.secret_request(CERT_APP, "unused")
        }
    }

    /// Creates a connection through the gRPC trait; returns its ID.
    pub async fn create(
        &self,
        req: pb::CreateConnectionRequest,
    ) -> Result<pb::CreateConnectionResponse, tonic::Status> {
        use pb::connection_admin_service_server::ConnectionAdminService as _;
        self.admin
            .create_connection(tonic::Request::new(req))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn create_id(&self, req: pb::CreateConnectionRequest) -> String {
        self.create(req)
            .await
            .unwrap()
            .connection
            .unwrap()
            .connection_id
    }

    pub async fn test(&self, id: &str) -> pb::TestConnectionResponse {
        use pb::connection_admin_service_server::ConnectionAdminService as _;
        let req = pb::TestConnectionRequest {
            connection_id: id.into(),
        };
        self.admin
            .test_connection(tonic::Request::new(req))
            .await
            .unwrap()
            .into_inner()
    }

    pub fn token_requests(&self, app: &str) -> u64 {
        self.sim.control().counters().tokens_total(app)
    }
}

/// The catalogue code of a diagnosis.
pub fn code_of(resp: &pb::TestConnectionResponse) -> airlock_shared::ErrorCode {
    let e = resp.error.as_ref().expect("a failed test carries an error");
    airlock_shared::ErrorCode::try_from(e.code).unwrap()
}
