//! mTLS configuration with rustls and the ring provider.
//!
//! - [`server_config`]: requires a client certificate that chains to the configured CA **and**
//!   carries exactly one SPIFFE ID ([`SpiffeClientVerifier`]); anything else fails the handshake.
//! - [`client_config`]: trusts the configured CA and presents the caller's certificate.
//! - [`connect`]: a tonic [`Channel`] over that client configuration.
//!
//! Both configurations are built from PEM file paths ([`TlsFiles`]) or from PEM bytes
//! ([`TlsPem`], for tests and embedded use). ALPN is `h2`.

use std::{fmt, io, path::PathBuf, sync::Arc};

use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
    client::danger::HandshakeSignatureValid,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject},
    server::{
        WebPkiClientVerifier,
        danger::{ClientCertVerified, ClientCertVerifier},
    },
};
use serde::Deserialize;

use crate::identity::SpiffeId;

/// Paths of the PEM files of one mTLS identity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TlsFiles {
    /// The CA certificate(s) that peers must chain to.
    pub ca: PathBuf,
    /// This program's certificate (chain), leaf first.
    pub cert: PathBuf,
    /// This program's private key (PKCS#8, SEC1 or PKCS#1). Should be mode 0600.
    pub key: PathBuf,
}

/// The same material as [`TlsFiles`], already read.
pub struct TlsPem {
    /// CA certificate(s), PEM.
    pub ca: Vec<u8>,
    /// Certificate chain, PEM.
    pub cert: Vec<u8>,
    /// Private key, PEM. Zeroized on drop.
    pub key: crate::SecretBytes,
}

impl fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPem")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    Read {
        /// Which file (CA, certificate, key).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A PEM section was malformed or missing.
    #[error("{what}: {problem}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
    /// rustls refused the material (for example a key that does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsFiles {
    /// Reads the three files.
    pub fn read(&self) -> Result<TlsPem, TlsError> {
        let read = |what, path: &PathBuf| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                what,
                path: path.clone(),
                source,
            })
        };
        Ok(TlsPem {
            ca: read("CA certificate", &self.ca)?,
            cert: read("certificate", &self.cert)?,
            key: crate::SecretBytes::new(read("private key", &self.key)?),
        })
    }
}

/// The ring crypto provider every Airlock TLS configuration uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(what: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            problem: format!("malformed PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            problem: "no BEGIN CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

fn key(pem: &crate::SecretBytes) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.expose_secret()).map_err(|e| TlsError::Pem {
        what: "private key",
        problem: format!("no usable unencrypted private key ({e}); expected BEGIN PRIVATE KEY, BEGIN EC PRIVATE KEY or BEGIN RSA PRIVATE KEY"),
    })
}

fn roots(pem: &[u8]) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certs("CA certificate", pem)? {
        store.add(cert)?;
    }
    Ok(Arc::new(store))
}

/// A server configuration that requires a client certificate from the CA with exactly one
/// SPIFFE ID.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_from_pem(&files.read()?)
}

/// [`server_config`] from PEM bytes.
pub fn server_config_from_pem(pem: &TlsPem) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let inner = WebPkiClientVerifier::builder_with_provider(roots(&pem.ca)?, provider.clone())
        .build()
        .map_err(|e| TlsError::Pem {
            what: "CA certificate",
            problem: e.to_string(),
        })?;
    let verifier = Arc::new(SpiffeClientVerifier { inner });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs("certificate", &pem.cert)?, key(&pem.key)?)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA and presenting the caller's certificate.
pub fn client_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    client_config_from_pem(&files.read()?)
}

/// [`client_config`] from PEM bytes.
pub fn client_config_from_pem(pem: &TlsPem) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(&pem.ca)?)
        .with_client_auth_cert(certs("certificate", &pem.cert)?, key(&pem.key)?)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts the CA but presents no certificate (used by tests to
/// prove such clients are refused).
pub fn anonymous_client_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Wraps the webpki client verifier: after the chain, validity and signature checks pass, the
/// leaf must also carry exactly one SPIFFE ID.
#[derive(Debug)]
pub struct SpiffeClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        SpiffeId::from_certificate(end_entity).map_err(|e| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                Arc::new(e),
            )))
        })?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Opens a tonic channel to `uri` (`https://host:port`) over mTLS with `config`. The server
/// certificate must be valid for `host`. Connects now; see [`connect_lazy`].
pub async fn connect(
    uri: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<tonic::transport::Channel, ConnectError> {
    let (endpoint, connector) = endpoint(uri, config)?;
    Ok(endpoint.connect_with_connector(connector).await?)
}

/// Like [`connect`], but connects on first use (and reconnects after failures).
pub fn connect_lazy(
    uri: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<tonic::transport::Channel, ConnectError> {
    let (endpoint, connector) = endpoint(uri, config)?;
    Ok(endpoint.connect_with_connector_lazy(connector))
}

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URI is not `https://host:port`.
    #[error("invalid server address {0:?}: expected https://host:port")]
    BadUri(String),
    /// The transport failed (TCP, TLS or HTTP/2).
    #[error("cannot connect: {0}")]
    Transport(#[from] tonic::transport::Error),
}

type Connector = tower::util::BoxCloneSyncService<
    http::Uri,
    hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<crate::coalesce::CoalescingStream>>,
    io::Error,
>;

fn endpoint(
    uri: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<(tonic::transport::Endpoint, Connector), ConnectError> {
    let bad = || ConnectError::BadUri(uri.chars().take(256).collect());
    let parsed: http::Uri = uri.parse().map_err(|_| bad())?;
    if parsed.scheme_str() != Some("https") {
        return Err(bad());
    }
    let host = parsed
        .host()
        .ok_or_else(bad)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_u16().unwrap_or(443);
    let server_name = ServerName::try_from(host.clone()).map_err(|_| bad())?;
    let endpoint = tonic::transport::Endpoint::from_shared(uri.to_owned())
        .map_err(|_| bad())?
        .connect_timeout(std::time::Duration::from_secs(10))
        .tcp_nodelay(true);
    let connector = tower::service_fn(move |_: http::Uri| {
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let (host, server_name) = (host.clone(), server_name.clone());
        async move {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            // Coalescing below TLS: each request's frames leave in one system call.
            let tcp = crate::coalesce::CoalescingStream::new(tcp);
            let tls = connector.connect(server_name, tcp).await?;
            Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    Ok((endpoint, tower::util::BoxCloneSyncService::new(connector)))
}
