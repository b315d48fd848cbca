//! A throwaway mTLS PKI for the crate tests (TEST ONLY): a CA, the proxy's server certificate
//! and client certificates with SPIFFE IDs, written as PEM files.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use airlock_shared::tls::TlsFiles;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

pub struct TestPki {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    pub ca_path: PathBuf,
}

impl TestPki {
    pub fn new(dir: &Path) -> Self {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "TEST ONLY Airlock CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, cert.pem()).unwrap();
        Self {
            dir: dir.to_owned(),
            issuer: Issuer::new(params, key),
            ca_path,
        }
    }

    /// A leaf with `spiffe_id`; `server` adds localhost/127.0.0.1 SANs and serverAuth.
    pub fn leaf(&self, name: &str, spiffe_id: &str, server: bool) -> TlsFiles {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
        params
            .subject_alt_names
            .push(SanType::URI(spiffe_id.try_into().unwrap()));
        if server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
            params
                .subject_alt_names
                .push(SanType::DnsName("localhost".try_into().unwrap()));
            params
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = self.dir.join(format!("{name}.pem"));
        let key_path = self.dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        TlsFiles {
            ca: self.ca_path.clone(),
            cert: cert_path,
            key: key_path,
        }
    }
}
