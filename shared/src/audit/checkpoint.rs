//! Signed checkpoints: the proxy periodically signs `(seq, hash, ts)` of its newest audit record
//! with an Ed25519 key, and the line can be copied off the box. `airlockctl audit verify
//! --checkpoint FILE --checkpoint-key KEY` then detects a truncated or rewritten tail, which the
//! hash chain alone cannot.
//!
//! Line format: `{"seq":N,"hash":"<hex>","ts":"<rfc3339>","sig":"<base64url Ed25519>"}`; the
//! signature covers the exact bytes of the line without its `,"sig":"…"` member.

use base64::Engine as _;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};

/// A checkpoint's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Seq of the newest record at signing time.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// When the checkpoint was signed.
    pub ts: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    seq: u64,
    hash: String,
    ts: String,
    sig: String,
}

/// Why a checkpoint line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint line.
    #[error("not a checkpoint line: {0}")]
    Malformed(String),
    /// The signature does not verify with the given public key.
    #[error(
        "checkpoint signature does not verify with this public key (forged, edited, or another proxy's key)"
    )]
    BadSignature,
}

/// Signs `checkpoint` and returns the line.
pub fn sign(checkpoint: &Checkpoint, key: &Ed25519KeyPair) -> String {
    let body = serde_json::to_string(checkpoint).unwrap_or_default();
    let sig = key.sign(body.as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref());
    format!("{},\"sig\":\"{sig}\"}}", &body[..body.len() - 1])
}

/// The public key to hand to verifiers, as lower-case hex (32 bytes).
pub fn public_key_hex(key: &Ed25519KeyPair) -> String {
    hex::encode(key.public_key().as_ref())
}

/// Parses a checkpoint line and verifies its signature with `public_key` (32 raw bytes).
pub fn verify(line: &str, public_key: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let signed: Signed =
        serde_json::from_str(line.trim()).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
    let checkpoint = Checkpoint {
        seq: signed.seq,
        hash: signed.hash,
        ts: signed.ts,
    };
    let body = serde_json::to_string(&checkpoint).unwrap_or_default();
    if !line.trim().starts_with(&body[..body.len() - 1]) {
        return Err(CheckpointError::Malformed(
            "fields are not in the signed order".into(),
        ));
    }
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signed.sig.as_bytes())
        .map_err(|_| CheckpointError::Malformed("sig is not base64url".into()))?;
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(body.as_bytes(), &sig)
        .map_err(|_| CheckpointError::BadSignature)?;
    Ok(checkpoint)
}

/// Reads a public key file: 64 hex digits (whitespace ignored).
pub fn parse_public_key(text: &str) -> Result<Vec<u8>, CheckpointError> {
    let key = hex::decode(text.trim())
        .map_err(|_| CheckpointError::Malformed("public key is not hex".into()))?;
    if key.len() != 32 {
        return Err(CheckpointError::Malformed(
            "public key must be 32 bytes (64 hex digits)".into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn signed_checkpoints_verify_and_tampering_is_caught() {
        let k = key();
        let cp = Checkpoint {
            seq: 42,
            hash: "ab".repeat(32),
            ts: "2026-11-26T04:00:00.000000Z".into(),
        };
        let line = sign(&cp, &k);
        let public = parse_public_key(&public_key_hex(&k)).unwrap();
        assert_eq!(verify(&line, &public).unwrap(), cp);
        assert_eq!(
            verify(&line.replace("\"seq\":42", "\"seq\":43"), &public),
            Err(CheckpointError::BadSignature)
        );
        let other = parse_public_key(&public_key_hex(&key())).unwrap();
        assert_eq!(verify(&line, &other), Err(CheckpointError::BadSignature));
        assert!(matches!(
            verify("{}", &public),
            Err(CheckpointError::Malformed(_))
        ));
        assert!(parse_public_key("abcd").is_err());
    }
}
