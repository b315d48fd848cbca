//! The plaintext credential: only in memory, only while sealing or building a token request.

use std::fmt;

use airlock_shared::{SecretBytes, SecretString};

/// Encoding of a stored RSA private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// PKCS#8 `PrivateKeyInfo` DER.
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` DER.
    Pkcs1,
}

/// A decrypted credential. Redacted `Debug`, zeroized on drop, not `Clone`.
pub enum Credential {
    /// A client secret value.
    ClientSecret(SecretString),
    /// An RSA private key (the certificate itself is public metadata).
    PrivateKey {
        /// DER encoding.
        format: KeyFormat,
        /// The key DER.
        der: SecretBytes,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret(_) => f.write_str("Credential::ClientSecret([redacted])"),
            Self::PrivateKey { format, .. } => {
                write!(f, "Credential::PrivateKey({format:?}, [redacted])")
            }
        }
    }
}

const TAG_SECRET: u8 = 1;
const TAG_PKCS8: u8 = 2;
const TAG_PKCS1: u8 = 3;

impl Credential {
    /// The sealing plaintext: a tag byte then the value, in a zeroizing buffer.
    pub(crate) fn encode(&self) -> SecretBytes {
        let (tag, body): (u8, &[u8]) = match self {
            Self::ClientSecret(s) => (TAG_SECRET, s.expose_secret().as_bytes()),
            Self::PrivateKey {
                format: KeyFormat::Pkcs8,
                der,
            } => (TAG_PKCS8, der.expose_secret()),
            Self::PrivateKey {
                format: KeyFormat::Pkcs1,
                der,
            } => (TAG_PKCS1, der.expose_secret()),
        };
        let mut out = SecretBytes::zeroed(1 + body.len());
        out.expose_secret_mut()[0] = tag;
        out.expose_secret_mut()[1..].copy_from_slice(body);
        out
    }

    /// Parses [`Credential::encode`] output.
    pub(crate) fn decode(plain: &SecretBytes) -> Option<Self> {
        let (tag, body) = plain.expose_secret().split_first()?;
        match *tag {
            TAG_SECRET => {
                let text = std::str::from_utf8(body).ok()?;
                Some(Self::ClientSecret(SecretString::new(text.to_owned())))
            }
            TAG_PKCS8 => Some(Self::PrivateKey {
                format: KeyFormat::Pkcs8,
                der: SecretBytes::copy_from(body),
            }),
            TAG_PKCS1 => Some(Self::PrivateKey {
                format: KeyFormat::Pkcs1,
                der: SecretBytes::copy_from(body),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_debug_is_redacted() {
        let c = Credential::ClientSecret(SecretString::new("TEST-ONLY+s/=".into()));
        let back = Credential::decode(&c.encode()).unwrap();
        assert!(
            matches!(&back, Credential::ClientSecret(s) if s.expose_secret() == "TEST-ONLY+s/=")
        );
        assert!(!format!("{back:?}").contains("TEST-ONLY"));
        let k = Credential::PrivateKey {
            format: KeyFormat::Pkcs1,
            der: SecretBytes::copy_from(b"KEYBYTES"),
        };
        let back = Credential::decode(&k.encode()).unwrap();
        assert!(
            matches!(&back, Credential::PrivateKey { format: KeyFormat::Pkcs1, der } if der.expose_secret() == b"KEYBYTES")
        );
        assert!(!format!("{back:?}").contains("KEYBYTES"));
        assert!(Credential::decode(&SecretBytes::copy_from(&[9, 1])).is_none());
    }
}
