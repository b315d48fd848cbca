//! Keyed fingerprints of secret values, so the audit log can say *which* token or handle was
//! used without containing it: `hmac-sha256:` + lower-case hex of HMAC-SHA256(key, value). The
//! key is random per proxy and kept sealed in its store; an investigator holding a value asks
//! the proxy for its fingerprint (`AuditService.AuditHash`) and searches the log for it.

use ring::hmac;

use crate::SecretBytes;

/// Prefix of every fingerprint.
pub const PREFIX: &str = "hmac-sha256:";

/// A fingerprinting key (32 random bytes).
pub struct FingerprintKey(hmac::Key);

impl FingerprintKey {
    /// A key from its bytes.
    pub fn new(key: &SecretBytes) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret()))
    }

    /// The fingerprint of `value`.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        let tag = hmac::sign(&self.0, value);
        let mut out = String::with_capacity(PREFIX.len() + 64);
        out.push_str(PREFIX);
        super::push_hex(&mut out, tag.as_ref());
        out
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answer, computed independently (Python `hmac.new(key, msg, sha256)`).
    #[test]
    fn known_answer() {
        let key = FingerprintKey::new(&SecretBytes::copy_from(b"airlock-audit-kat-key-0123456789"));
        assert_eq!(
            key.fingerprint(b"eyJhbGciOiJFZERTQSJ9.handle.sig"),
            "hmac-sha256:1cbac7492b9532a9c602d7c10deb3c5dd739f2933305b6999d5e7b4cb6994498"
        );
        assert_eq!(format!("{key:?}"), "FingerprintKey([redacted])");
    }

    #[test]
    fn different_keys_give_different_fingerprints() {
        let a = FingerprintKey::new(&SecretBytes::copy_from(&[1; 32]));
        let b = FingerprintKey::new(&SecretBytes::copy_from(&[2; 32]));
        assert_ne!(a.fingerprint(b"x"), b.fingerprint(b"x"));
        assert_eq!(a.fingerprint(b"x"), a.fingerprint(b"x"));
    }
}
