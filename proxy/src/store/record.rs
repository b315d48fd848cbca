//! What the store keeps about a connection in clear: never a secret.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How the proxy authenticates to Entra ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// Client secret.
    ClientSecret,
    /// Certificate with an RSA key (client assertion).
    Certificate,
}

/// The client assertion's signature algorithm and thumbprint header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AssertionAlg {
    /// RSASSA-PSS SHA-256 with `x5t#S256` (default).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with `x5t`.
    Rs256,
}

/// The public facts about a stored certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateMeta {
    /// The certificate DER (public), base64 in the stored JSON.
    #[serde(with = "der_b64")]
    pub der: Vec<u8>,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// SHA-1 thumbprint, upper-case hex.
    pub sha1_thumbprint: String,
    /// SHA-256 thumbprint, upper-case hex.
    pub sha256_thumbprint: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Serial number, upper-case hex.
    pub serial_number: String,
    /// RSA modulus bits.
    pub key_bits: u32,
    /// Assertion algorithm in use.
    pub algorithm: AssertionAlg,
}

/// A connection's metadata, as stored in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Server-assigned ID.
    pub id: uuid::Uuid,
    /// Friendly name (may be empty).
    pub instance_name: String,
    /// Tenant GUID or domain.
    pub tenant_id: String,
    /// App (client) ID.
    pub app_id: uuid::Uuid,
    /// Tenant domain.
    pub organization: String,
    /// Auth method.
    pub auth: AuthKind,
    /// Entra authority, `https://host` without a path.
    pub authority_host: String,
    /// Exchange host, `https://host` without a path.
    pub exchange_host: String,
    /// Certificate facts, for certificate connections.
    pub certificate: Option<CertificateMeta>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    /// Last credential change.
    #[serde(with = "time::serde::rfc3339")]
    pub credential_rotate_time: OffsetDateTime,
    /// Record version, +1 on every change, starting at 1.
    pub version: u64,
    /// The record version at which the credential was sealed (part of its associated data).
    pub credential_version: u64,
}

impl ConnectionRecord {
    /// The v2 token endpoint URL: also the client assertion's `aud`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host, self.tenant_id
        )
    }

    /// The token scope: `{exchange_host}/.default` for Microsoft's Exchange hosts (global and
    /// sovereign clouds). Any other host (the simulator, a test relay) is not an Entra resource
    /// URI, so the global Exchange resource `https://outlook.office365.com/.default` is asked for.
    pub fn scope(&self) -> String {
        let host = self.exchange_host.trim_start_matches("https://");
        let microsoft = [
            ".office365.com",
            ".office.com",
            ".office365.us",
            ".outlook.cn",
        ]
        .iter()
        .any(|suffix| host.ends_with(suffix));
        if microsoft {
            format!("{}/.default", self.exchange_host)
        } else {
            "https://outlook.office365.com/.default".to_owned()
        }
    }
}

/// A connection as a backend holds it: metadata plus the sealed credential.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredConnection {
    /// Metadata.
    pub record: ConnectionRecord,
    /// `MasterKey::seal` output for the credential.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for StoredConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredConnection")
            .field("record", &self.record)
            .field(
                "sealed",
                &format_args!("[{} sealed bytes]", self.sealed.len()),
            )
            .finish()
    }
}

mod der_b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}
