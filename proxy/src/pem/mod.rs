//! Certificate PEM handling (reference §6): what users paste → an RSA key `ring` can sign
//! with, plus the matching certificate's public facts.
//!
//! [`parse`] accepts PKCS#8 and PKCS#1 RSA keys of 2048–4096 bits with one or more
//! certificates in any order, picks the certificate whose public key matches the key, checks
//! the validity window, and warns when it ends within 30 days.

pub mod blocks;

use ring::digest;
use ring::signature::RsaKeyPair;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::store::{AssertionAlg, CertificateMeta, Credential, KeyFormat};
use airlock_shared::SecretBytes;

/// Largest PEM accepted, in bytes.
pub const MAX_PEM_BYTES: usize = 64 * 1024;
/// Certificates ending sooner than this are accepted with a warning.
pub const EXPIRY_WARNING: Duration = Duration::days(30);

/// Why a PEM cannot be used. Each has its own remedy ([`PemError::remedy`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// No private key block: the seed's exact words.
    #[error("PEM must contain a private key")]
    NoPrivateKey,
    /// A key but no certificate.
    #[error("PEM must contain the certificate (BEGIN CERTIFICATE) as well as the private key")]
    NoCertificate,
    /// An encrypted key (PKCS#8 PBES2 or legacy DEK-Info).
    #[error("the private key is encrypted (password-protected); Airlock needs an unencrypted key")]
    EncryptedKey,
    /// An EC (or other non-RSA) key.
    #[error("the private key is an {0} key; Entra ID certificate credentials need an RSA key")]
    NotRsa(&'static str),
    /// RSA key outside 2048–4096 bits or otherwise not loadable.
    #[error("the RSA private key cannot be used: {0}")]
    BadKey(String),
    /// Several private keys.
    #[error("PEM contains {0} private keys; paste exactly one")]
    SeveralKeys(usize),
    /// No certificate matches the key.
    #[error("the private key does not match the certificate{0}")]
    Mismatch(String),
    /// Certificate past notAfter.
    #[error("the certificate expired on {0}")]
    Expired(String),
    /// Certificate before notBefore.
    #[error("the certificate is not valid until {0}")]
    NotYetValid(String),
    /// Broken PEM or DER.
    #[error("the PEM is malformed: {0}")]
    Malformed(String),
    /// Over [`MAX_PEM_BYTES`].
    #[error("the PEM is larger than 64 KiB")]
    TooLarge,
}

impl PemError {
    /// What the operator should do.
    pub fn remedy(&self) -> &'static str {
        match self {
            Self::NoPrivateKey | Self::NoCertificate | Self::Malformed(_) => {
                airlock_shared::catalogue::REMEDY_PEM
            }
            Self::EncryptedKey => {
                "Remove the password from the key: openssl pkey -in key.pem -out key-plain.pem (or generate it with -nodes), then cat cert.pem key-plain.pem > combined.pem."
            }
            Self::NotRsa(_) => {
                "Generate an RSA key: openssl req -x509 -newkey rsa:2048 -keyout key.pem -out cert.pem -days 365 -nodes -subj \"/CN=ServalExchangeOnline\", upload cert.pem to the app registration, and paste cat cert.pem key.pem."
            }
            Self::BadKey(_) => {
                "Use an RSA key of 2048 to 4096 bits with public exponent 65537 (openssl req -x509 -newkey rsa:2048 ... -nodes)."
            }
            Self::SeveralKeys(_) => {
                "Paste one certificate and the one private key that belongs to it: cat cert.pem key.pem > combined.pem."
            }
            Self::Mismatch(_) => {
                "The key and certificate come from different pairs. Combine the certificate with the key it was generated with: cat cert.pem key.pem > combined.pem (compare with openssl x509 -noout -modulus -in cert.pem and openssl rsa -noout -modulus -in key.pem)."
            }
            Self::Expired(_) => {
                "Generate a new certificate, upload it in the app registration under Certificates & secrets → Certificates, and rotate the connection (airlockctl connection rotate)."
            }
            Self::NotYetValid(_) => {
                "Check this machine's clock (NTP) or wait until the certificate becomes valid; a certificate dated in the future was probably made on a machine with a wrong clock."
            }
            Self::TooLarge => {
                "Paste only the certificate and its private key (at most 64 KiB), not a whole bundle."
            }
        }
    }
}

/// A usable certificate credential.
pub struct ParsedPem {
    /// The private key, ready to seal.
    pub key: Credential,
    /// The matching certificate's public facts.
    pub meta: CertificateMeta,
    /// Non-fatal findings (expiring soon).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for ParsedPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedPem")
            .field("key", &self.key)
            .field("meta", &self.meta)
            .finish()
    }
}

/// Parses a combined PEM at time `now`.
pub fn parse(
    text: &str,
    algorithm: AssertionAlg,
    now: OffsetDateTime,
) -> Result<ParsedPem, PemError> {
    if text.len() > MAX_PEM_BYTES {
        return Err(PemError::TooLarge);
    }
    let normalised = blocks::normalise(text);
    let all = match blocks::split(&normalised) {
        Err(blocks::BlockError::Empty) => return Err(PemError::NoPrivateKey),
        Err(e) => return Err(PemError::Malformed(e.to_string())),
        Ok(b) => b,
    };
    let (format, der) = one_key(&all)?;
    let certs: Vec<&SecretBytes> = all
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| &b.der)
        .collect();
    if certs.is_empty() {
        return Err(PemError::NoCertificate);
    }
    let pair = load_rsa(format, &der)?;
    let public = pair.public().as_ref();
    let mut parsed = 0;
    for &cert_der in &certs {
        let Ok((_, cert)) = X509Certificate::from_der(cert_der.expose_secret()) else {
            continue;
        };
        parsed += 1;
        if cert.public_key().subject_public_key.data.as_ref() == public {
            let key_bits = (pair.public().modulus_len() * 8) as u32;
            let (meta, warnings) =
                describe(cert_der.expose_secret(), &cert, key_bits, algorithm, now)?;
            return Ok(ParsedPem {
                key: Credential::PrivateKey { format, der },
                meta,
                warnings,
            });
        }
    }
    if parsed == 0 {
        return Err(PemError::Malformed(
            "no certificate block could be read as X.509".into(),
        ));
    }
    let detail = if parsed > 1 {
        format!(" (none of the {parsed} certificates matches)")
    } else {
        String::new()
    };
    Err(PemError::Mismatch(detail))
}

fn one_key(all: &[blocks::Block]) -> Result<(KeyFormat, SecretBytes), PemError> {
    let keys: Vec<&blocks::Block> = all
        .iter()
        .filter(|b| b.label.ends_with("PRIVATE KEY"))
        .collect();
    let key = match keys.as_slice() {
        [] => return Err(PemError::NoPrivateKey),
        [one] => *one,
        many => return Err(PemError::SeveralKeys(many.len())),
    };
    if key.label == "ENCRYPTED PRIVATE KEY" || key.headers.iter().any(|h| h.contains("ENCRYPTED")) {
        return Err(PemError::EncryptedKey);
    }
    match key.label.as_str() {
        "PRIVATE KEY" => Ok((KeyFormat::Pkcs8, key.der.clone_secret())),
        "RSA PRIVATE KEY" => Ok((KeyFormat::Pkcs1, key.der.clone_secret())),
        "EC PRIVATE KEY" => Err(PemError::NotRsa("EC")),
        "DSA PRIVATE KEY" => Err(PemError::NotRsa("DSA")),
        "OPENSSH PRIVATE KEY" => Err(PemError::NotRsa("OpenSSH-format")),
        other => Err(PemError::Malformed(format!("unsupported block {other}"))),
    }
}

/// Loads the key with ring, mapping its refusals to clear errors.
pub fn load_rsa(format: KeyFormat, der: &SecretBytes) -> Result<RsaKeyPair, PemError> {
    let res = match format {
        KeyFormat::Pkcs8 => RsaKeyPair::from_pkcs8(der.expose_secret()),
        KeyFormat::Pkcs1 => RsaKeyPair::from_der(der.expose_secret()),
    };
    res.map_err(|e| match e.to_string().as_str() {
        "WrongAlgorithm" => PemError::NotRsa("EC or other non-RSA"),
        "TooSmall" => PemError::BadKey(
            "the key is too small (or its exponent is below 65537); 2048 bits is the minimum"
                .into(),
        ),
        "TooLarge" => PemError::BadKey("the key is larger than 4096 bits".into()),
        other => PemError::BadKey(format!("ring refused it ({other})")),
    })
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn describe(
    der: &[u8],
    cert: &X509Certificate<'_>,
    key_bits: u32,
    algorithm: AssertionAlg,
    now: OffsetDateTime,
) -> Result<(CertificateMeta, Vec<String>), PemError> {
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    if now < not_before {
        return Err(PemError::NotYetValid(fmt_time(not_before)));
    }
    if now > not_after {
        return Err(PemError::Expired(fmt_time(not_after)));
    }
    let mut warnings = Vec::new();
    if not_after - now < EXPIRY_WARNING {
        let days = (not_after - now).whole_days();
        warnings.push(format!(
            "the certificate expires on {} (in {days} days); upload a new certificate and rotate the connection before then",
            fmt_time(not_after)
        ));
    }
    let meta = CertificateMeta {
        der: der.to_vec(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sha1_thumbprint: hex::encode_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)),
        sha256_thumbprint: hex::encode_upper(digest::digest(&digest::SHA256, der)),
        not_before,
        not_after,
        serial_number: hex::encode_upper(cert.raw_serial()),
        key_bits,
        algorithm,
    };
    Ok((meta, warnings))
}

#[cfg(test)]
mod tests;
