//! The development PKI: one CA and a leaf certificate + key for every Airlock identity, each
//! carrying its SPIFFE ID (`spiffe://<trust-domain>/<role>/<name>`) as its only URI SAN, plus a
//! default role policy.
//!
//! Files are written atomically (temporary file + rename), keys with mode 0600, and nothing is
//! written at all when any target already exists, unless `force` is set. Keys are ECDSA P-256.

use std::{
    fs,
    io::{self, Write as _},
    net::{IpAddr, Ipv4Addr},
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use airlock_shared::{SecretString, identity::valid_trust_domain, policy::default_policy_toml};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// Default trust domain.
pub const DEFAULT_TRUST_DOMAIN: &str = "airlock.local";
/// Most workers `pki init` will issue certificates for.
pub const MAX_WORKERS: u32 = 64;

/// Why PKI generation or writing failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The trust domain is not usable in a SPIFFE ID.
    #[error(
        "invalid trust domain {0:?}: use lower-case letters, digits, '.', '-' and '_' (e.g. airlock.local)"
    )]
    TrustDomain(String),
    /// Too many or too few workers.
    #[error("--workers must be between 1 and {MAX_WORKERS}, got {0}")]
    Workers(u32),
    /// rcgen failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// Files already exist and `force` was not given.
    #[error(
        "refusing to overwrite existing files (nothing was written): {}\n  remedy: choose another --out directory, or pass --force to replace them",
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Exists(Vec<PathBuf>),
    /// Writing failed.
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, io::Error),
}

/// A generated certificate and its private key.
pub struct Leaf {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key, PKCS#8 PEM.
    pub key_pem: SecretString,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf")
            .field("key_pem", &self.key_pem)
            .finish_non_exhaustive()
    }
}

/// What a leaf certificate should contain.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject common name.
    pub common_name: String,
    /// URI SANs (normally exactly one SPIFFE ID).
    pub uris: Vec<String>,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// Usable as a TLS server certificate.
    pub server: bool,
    /// Usable as a TLS client certificate.
    pub client: bool,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl LeafSpec {
    /// A client (and optionally server) certificate for `spiffe_id`, valid for a year.
    pub fn new(common_name: &str, spiffe_id: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            common_name: common_name.to_owned(),
            uris: vec![spiffe_id.to_owned()],
            dns: vec![],
            ips: vec![],
            server: false,
            client: true,
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(365),
        }
    }

    /// Adds server use with SANs `localhost`, `127.0.0.1`, `::1` and `extra_dns`.
    pub fn serving(mut self, extra_dns: &[&str]) -> Self {
        self.server = true;
        self.dns = ["localhost"]
            .iter()
            .chain(extra_dns)
            .map(|s| (*s).to_owned())
            .collect();
        self.ips = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ];
        self
    }
}

/// A certificate authority that signs leaves.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: SecretString,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("key_pem", &self.key_pem)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// A new self-signed CA named after the trust domain, valid for 10 years.
    pub fn generate(trust_domain: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("Airlock development CA ({trust_domain})"),
        );
        dn.push(DnType::OrganizationName, "Airlock");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let key_pem = SecretString::new(key.serialize_pem());
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM.
    pub fn key_pem(&self) -> &SecretString {
        &self.key_pem
    }

    /// Issues a leaf certificate.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Leaf, PkiError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, spec.common_name.as_str());
        dn.push(DnType::OrganizationName, "Airlock");
        params.distinguished_name = dn;
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if spec.server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if spec.client {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        for uri in &spec.uris {
            params
                .subject_alt_names
                .push(SanType::URI(uri.as_str().try_into()?));
        }
        for dns in &spec.dns {
            params
                .subject_alt_names
                .push(SanType::DnsName(dns.as_str().try_into()?));
        }
        params
            .subject_alt_names
            .extend(spec.ips.iter().copied().map(SanType::IpAddress));
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: SecretString::new(key.serialize_pem()),
        })
    }
}

/// One identity of the development PKI.
#[derive(Debug)]
pub struct Identity {
    /// File stem (`proxy`, `worker-1`, `orchestrator`, `admin`).
    pub name: String,
    /// Its SPIFFE ID.
    pub spiffe_id: String,
    /// Its certificate and key.
    pub leaf: Leaf,
}

/// A complete development PKI, in memory.
#[derive(Debug)]
pub struct DevPki {
    /// The CA.
    pub ca: Ca,
    /// The identities, in file order.
    pub identities: Vec<Identity>,
    /// The default role policy text.
    pub policy_toml: String,
}

impl DevPki {
    /// Generates the CA and the identities: `proxy` (server), `worker-1..=workers` (server and
    /// client), `orchestrator` and `admin` (client).
    pub fn generate(trust_domain: &str, workers: u32) -> Result<Self, PkiError> {
        if !valid_trust_domain(trust_domain) {
            return Err(PkiError::TrustDomain(trust_domain.to_owned()));
        }
        if !(1..=MAX_WORKERS).contains(&workers) {
            return Err(PkiError::Workers(workers));
        }
        let ca = Ca::generate(trust_domain)?;
        let id = |role: &str, name: &str| format!("spiffe://{trust_domain}/{role}/{name}");
        let mut specs = vec![(
            "proxy".to_owned(),
            LeafSpec::new("airlock-proxy", &id("proxy", "main")).serving(&["airlock-proxy"]),
        )];
        specs[0].1.client = false;
        for n in 1..=workers {
            let name = format!("worker-{n}");
            let spec = LeafSpec::new(&name, &id("worker", &name))
                .serving(&[name.as_str(), "airlock-worker"]);
            specs.push((name, spec));
        }
        specs.push((
            "orchestrator".to_owned(),
            LeafSpec::new("orchestrator", &id("orchestrator", "main")),
        ));
        specs.push((
            "admin".to_owned(),
            LeafSpec::new("admin", &id("admin", "operator")),
        ));
        let identities = specs
            .into_iter()
            .map(|(name, spec)| {
                Ok(Identity {
                    spiffe_id: spec.uris[0].clone(),
                    leaf: ca.issue(&spec)?,
                    name,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        Ok(Self {
            ca,
            identities,
            policy_toml: default_policy_toml(trust_domain),
        })
    }

    /// Writes the PKI into `dir` (created if missing): `ca.pem`, `ca.key`, `<name>.pem`,
    /// `<name>.key` per identity, `policy.toml`. Refuses, writing nothing, if any of these files
    /// exists and `force` is false. Returns the written paths.
    pub fn write(&self, dir: &Path, force: bool) -> Result<Vec<PathBuf>, PkiError> {
        let mut files: Vec<(PathBuf, &str, bool)> = vec![
            (dir.join("ca.pem"), self.ca.cert_pem(), false),
            (dir.join("ca.key"), self.ca.key_pem().expose_secret(), true),
        ];
        for identity in &self.identities {
            files.push((
                dir.join(format!("{}.pem", identity.name)),
                &identity.leaf.cert_pem,
                false,
            ));
            files.push((
                dir.join(format!("{}.key", identity.name)),
                identity.leaf.key_pem.expose_secret(),
                true,
            ));
        }
        files.push((dir.join("policy.toml"), &self.policy_toml, false));
        let existing: Vec<PathBuf> = files
            .iter()
            .filter(|(p, ..)| p.exists())
            .map(|(p, ..)| p.clone())
            .collect();
        if !existing.is_empty() && !force {
            return Err(PkiError::Exists(existing));
        }
        fs::create_dir_all(dir).map_err(|e| PkiError::Io(dir.to_owned(), e))?;
        for (path, contents, secret) in &files {
            write_atomic(
                path,
                contents.as_bytes(),
                if *secret { 0o600 } else { 0o644 },
            )
            .map_err(|e| PkiError::Io(path.clone(), e))?;
        }
        Ok(files.into_iter().map(|(p, ..)| p).collect())
    }
}

/// Writes `contents` to a temporary file created with `mode` next to `path`, syncs it, and
/// renames it into place, so a reader never sees a partial file and a key is never readable
/// by others, not even briefly.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
