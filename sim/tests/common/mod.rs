//! Shared test harness: start a simulator, a reqwest client trusting its CA (rustls + ring),
//! the contoso IDs, and a client-assertion signer (ring).
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::sync::Arc;

use airlock_sim::{Fixture, SimServer};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

pub const TENANT: &str = "8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const SECRET_APP: &str = "11111111-2222-4333-8444-000000000001";
pub const SECRET: &str = "TEST-ONLY~sim+secret/Value=42";
pub const SECRET_ID: &str = "5e0c1a9b-0000-4000-8000-000000000001";
pub const EXPIRED_SECRET: &str = "TEST-ONLY~expired+secret";
pub const CERT_APP: &str = "11111111-2222-4333-8444-000000000002";
pub const UNREGISTERED_APP: &str = "11111111-2222-4333-8444-000000000003";
pub const UNREGISTERED_SECRET: &str = "TEST-ONLY-unregistered-secret";
pub const NOROLE_APP: &str = "11111111-2222-4333-8444-000000000004";
pub const NOROLE_SECRET: &str = "TEST-ONLY-norole-secret";
pub const RECIPIENTS_APP: &str = "11111111-2222-4333-8444-000000000005";
pub const RECIPIENTS_SECRET: &str = "TEST-ONLY-recipients-secret";
pub const DISABLED_APP: &str = "11111111-2222-4333-8444-000000000006";
pub const DISABLED_SECRET: &str = "TEST-ONLY-disabled-secret";
pub const NOCONSENT_APP: &str = "11111111-2222-4333-8444-000000000007";
pub const NOCONSENT_SECRET: &str = "TEST-ONLY-noconsent-secret";
pub const SCOPE: &str = "https://outlook.office365.com/.default";

pub fn uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap()
}

/// A running simulator and a client that trusts it.
pub struct Sim {
    pub server: SimServer,
    pub client: reqwest::Client,
}

pub fn client_for(ca_pem: &str, h2: bool) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

pub async fn sim() -> Sim {
    sim_with(Fixture::contoso()).await
}

pub async fn sim_with(fixture: Fixture) -> Sim {
    let server = SimServer::start(fixture).await.unwrap();
    let client = client_for(server.ca_cert_pem(), false);
    Sim { server, client }
}

impl Sim {
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.server.authority())
    }

    pub fn invoke_url(&self, tenant: &str) -> String {
        format!(
            "{}/adminapi/beta/{tenant}/InvokeCommand",
            self.server.exchange()
        )
    }

    /// POST an already-encoded form body.
    pub async fn post_raw(
        &self,
        tenant: &str,
        body: String,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .client
            .post(self.token_url(tenant))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    /// POST form fields, properly encoded.
    pub async fn post_form(&self, tenant: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let (s, _, v) = self.post_raw(tenant, body).await;
        (s, v)
    }

    pub async fn secret_token(&self, app: &str, secret: &str) -> String {
        let (s, v) = self
            .post_form(
                TENANT,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", app),
                    ("client_secret", secret),
                    ("scope", SCOPE),
                ],
            )
            .await;
        assert_eq!(s, 200, "token request failed: {}", v["error"]);
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn cert_token(&self) -> String {
        let jwt = Assertion::new(&self.token_url(TENANT)).sign();
        let (s, v) = self
            .post_form(TENANT, &assertion_form(CERT_APP, &jwt))
            .await;
        assert_eq!(s, 200, "token request failed: {}", v["error"]);
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn token(&self) -> String {
        self.server.control().issue_token(uuid(SECRET_APP)).unwrap()
    }

    /// InvokeCommand with a token, a cmdlet and parameters.
    pub async fn invoke_with(
        &self,
        token: &str,
        tenant: &str,
        cmdlet: &str,
        params: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});
        let r = self
            .client
            .post(self.invoke_url(tenant))
            .bearer_auth(token)
            .header(
                "X-AnchorMailbox",
                format!("APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{TENANT}"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// InvokeCommand as the full-access secret app.
    pub async fn invoke(&self, cmdlet: &str, params: Value) -> (u16, Value) {
        let t = self.token().await;
        let (s, _, v) = self.invoke_with(&t, TENANT, cmdlet, params).await;
        (s, v)
    }

    /// InvokeCommand that must succeed; returns `value`.
    pub async fn ok(&self, cmdlet: &str, params: Value) -> Vec<Value> {
        let (s, v) = self.invoke(cmdlet, params).await;
        assert_eq!(s, 200, "{cmdlet} failed: {v}");
        v["value"].as_array().unwrap().clone()
    }

    pub fn dir(&self) -> airlock_sim::DirectorySnapshot {
        self.server.control().directory(TENANT).unwrap()
    }
}

pub fn assertion_form<'a>(client_id: &'a str, jwt: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", jwt),
        ("scope", SCOPE),
    ]
}

const CERT_PEM: &str = include_str!("../../fixtures/certs/cert.pem");
const KEY_PEM: &str = include_str!("../../fixtures/certs/key.pem");

pub fn cert_der() -> Vec<u8> {
    CertificateDer::from_pem_slice(CERT_PEM.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

pub fn x5t() -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &cert_der(),
    ))
}

pub fn x5t_s256() -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &cert_der()))
}

pub fn x5t_s256_standard() -> String {
    STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, &cert_der()))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client assertion under construction (defaults: PS256 + x5t#S256, valid now).
pub struct Assertion {
    pub header: Value,
    pub claims: Value,
    pub pss: bool,
}

impl Assertion {
    pub fn new(aud: &str) -> Assertion {
        let n = now();
        Assertion {
            header: json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256()}),
            claims: json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP, "jti": uuid::Uuid::new_v4().to_string(), "nbf": n, "exp": n + 600}),
            pss: true,
        }
    }

    pub fn rs256(mut self) -> Assertion {
        self.header = json!({"alg": "RS256", "typ": "JWT", "x5t": x5t()});
        self.pss = false;
        self
    }

    pub fn sign(&self) -> String {
        let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).unwrap();
        let pair = RsaKeyPair::from_pkcs8(key.secret_der()).unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(self.header.to_string()),
            URL_SAFE_NO_PAD.encode(self.claims.to_string())
        );
        let mut sig = vec![0; pair.public().modulus_len()];
        let alg: &'static dyn ring::signature::RsaEncoding = if self.pss {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        pair.sign(alg, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// Check the full AADSTS error shape and return the code.
pub fn assert_aad_error(
    status: u16,
    v: &Value,
    want_status: u16,
    want_error: &str,
    want_code: u64,
) {
    assert_eq!(status, want_status, "status for {}", v["error"]);
    assert_eq!(v["error"], want_error);
    assert_eq!(v["error_codes"], json!([want_code]));
    let d = v["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("AADSTS{want_code}: ")), "{d}");
    assert!(
        d.contains("\r\nTrace ID: ")
            && d.contains("\r\nCorrelation ID: ")
            && d.contains("\r\nTimestamp: ")
    );
    let ts = v["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z'));
    uuid::Uuid::parse_str(v["trace_id"].as_str().unwrap()).unwrap();
    uuid::Uuid::parse_str(v["correlation_id"].as_str().unwrap()).unwrap();
    assert_eq!(
        v["error_uri"],
        format!("https://login.microsoftonline.com/error?code={want_code}")
    );
}
