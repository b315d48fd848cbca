//! Caller identity: the SPIFFE ID in a verified client certificate.
//!
//! An Airlock certificate carries exactly one URI SAN, and it is a SPIFFE ID
//! (`spiffe://<trust-domain>/<role>/<name>`). A certificate with no URI SAN, several URI SANs,
//! or a URI that is not a well-formed SPIFFE ID identifies nobody and is refused during the TLS
//! handshake.

use std::{fmt, net::SocketAddr};

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer as _};

/// Longest SPIFFE ID accepted (the SPIFFE spec's limit).
pub const MAX_SPIFFE_ID_LEN: usize = 2048;

/// Why a certificate or string is not a usable SPIFFE identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The certificate DER could not be parsed.
    #[error("certificate cannot be parsed: {0}")]
    BadCertificate(String),
    /// The certificate has no URI SAN.
    #[error("certificate has no URI SAN; an Airlock identity needs exactly one spiffe:// URI SAN")]
    NoUriSan,
    /// The certificate has more than one URI SAN.
    #[error(
        "certificate has {0} URI SANs; an Airlock identity needs exactly one spiffe:// URI SAN"
    )]
    SeveralUriSans(usize),
    /// The URI is not a well-formed SPIFFE ID.
    #[error("{0:?} is not a SPIFFE ID: {1}")]
    Malformed(String, &'static str),
}

/// A validated SPIFFE ID such as `spiffe://airlock.local/worker/worker-1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId(String);

impl SpiffeId {
    /// Parses and validates a SPIFFE ID: scheme `spiffe`, a trust domain of lower-case letters,
    /// digits, `.`, `-` and `_`, a path of one or more non-empty segments of letters, digits,
    /// `.`, `-` and `_` (no `.`/`..` segments), no port, user info, query or fragment.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let bad = |why| IdentityError::Malformed(truncate(s), why);
        if s.len() > MAX_SPIFFE_ID_LEN {
            return Err(bad("longer than 2048 bytes"));
        }
        let rest = s
            .strip_prefix("spiffe://")
            .ok_or_else(|| bad("scheme must be spiffe://"))?;
        let (domain, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("a path after the trust domain is required"))?;
        if domain.is_empty() {
            return Err(bad("trust domain is empty"));
        }
        if !domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        {
            return Err(bad(
                "trust domain may only hold a-z 0-9 . - _ (no port, user info or upper case)",
            ));
        }
        for segment in path.split('/') {
            if segment.is_empty() {
                return Err(bad("path segments must not be empty"));
            }
            if segment == "." || segment == ".." {
                return Err(bad("path segments must not be . or .."));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            {
                return Err(bad("path may only hold a-z A-Z 0-9 . - _ and /"));
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// Extracts the SPIFFE ID from a certificate's DER: exactly one URI SAN, which must be a
    /// valid SPIFFE ID.
    pub fn from_certificate(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        let san = cert
            .subject_alternative_name()
            .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        let uris: Vec<&str> = san
            .map(|ext| ext.value.general_names.iter())
            .into_iter()
            .flatten()
            .filter_map(|name| match name {
                GeneralName::URI(uri) => Some(*uri),
                _ => None,
            })
            .collect();
        match uris.as_slice() {
            [] => Err(IdentityError::NoUriSan),
            [one] => Self::parse(one),
            several => Err(IdentityError::SeveralUriSans(several.len())),
        }
    }

    /// The whole ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trust domain, e.g. `airlock.local`.
    pub fn trust_domain(&self) -> &str {
        self.0["spiffe://".len()..]
            .split('/')
            .next()
            .unwrap_or_default()
    }

    /// The path segments after the trust domain, e.g. `["worker", "worker-1"]`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0["spiffe://".len()..].split('/').skip(1)
    }
}

/// Whether `domain` is a valid SPIFFE trust domain: non-empty, at most 255 bytes, only lower-case
/// letters, digits, `.`, `-` and `_`.
pub fn valid_trust_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 255
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
}

fn truncate(s: &str) -> String {
    s.chars().take(128).collect()
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiffeId({})", self.0)
    }
}

/// What the server knows about a connection after the mTLS handshake. Inserted by the server
/// into every request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The SPIFFE ID from the verified client certificate.
    pub spiffe_id: SpiffeId,
    /// The peer's socket address.
    pub peer_addr: Option<SocketAddr>,
}

/// An authorized caller: its identity and the role the policy gave it. The authorization
/// layer inserts it into the extensions of every request it lets through, so handlers read it
/// with [`CallerIdentity::of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The SPIFFE ID from the verified client certificate.
    pub spiffe_id: SpiffeId,
    /// The role that allowed this call (`admin`, `orchestrator`, `worker`, ...).
    pub role: String,
    /// The peer's socket address.
    pub peer_addr: Option<SocketAddr>,
}

impl CallerIdentity {
    /// The caller of a tonic request, when it came through the authorization layer.
    pub fn of<T>(request: &tonic::Request<T>) -> Option<&CallerIdentity> {
        request.extensions().get::<CallerIdentity>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_ids() {
        let id = SpiffeId::parse("spiffe://airlock.local/worker/worker-1").unwrap();
        assert_eq!(id.trust_domain(), "airlock.local");
        assert_eq!(id.segments().collect::<Vec<_>>(), ["worker", "worker-1"]);
        assert_eq!(id.to_string(), "spiffe://airlock.local/worker/worker-1");
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "https://airlock.local/worker/w1",
            "spiffe://airlock.local",
            "spiffe://airlock.local/",
            "spiffe:///worker/w1",
            "spiffe://Airlock.local/worker/w1",
            "spiffe://airlock.local:8443/worker/w1",
            "spiffe://user@airlock.local/worker/w1",
            "spiffe://airlock.local/worker//w1",
            "spiffe://airlock.local/worker/../admin",
            "spiffe://airlock.local/worker/w1?x=1",
            "spiffe://airlock.local/worker/w1#frag",
            "spiffe://airlock.local/worker/w 1",
        ] {
            assert!(SpiffeId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("spiffe://airlock.local/{}", "a".repeat(MAX_SPIFFE_ID_LEN));
        assert!(
            matches!(SpiffeId::parse(&long), Err(IdentityError::Malformed(s, _)) if s.len() <= 128)
        );
    }

    #[test]
    fn garbage_der_is_a_bad_certificate() {
        assert!(matches!(
            SpiffeId::from_certificate(b"not a certificate"),
            Err(IdentityError::BadCertificate(_))
        ));
    }
}
