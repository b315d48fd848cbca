//! The handle format: a compact JWS (RFC 7515) `header.payload.signature`, base64url without
//! padding, signed with Ed25519 (`alg` `EdDSA`, RFC 8037).
//!
//! Parsing treats the input as hostile: the size is bounded before anything is decoded, the
//! header must be exactly [`HEADER_B64`] (so no `alg` choice, no `none`, no key hints are ever
//! read from the token), the signature is checked before the payload is parsed, base64url must
//! be canonical, and the claims reject unknown fields.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// The only header a handle may carry: `{"alg":"EdDSA","typ":"JWT"}`.
pub const HEADER_JSON: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;
/// [`HEADER_JSON`] in base64url.
pub const HEADER_B64: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9";
/// Longest handle accepted, in bytes (the API's limit).
pub const MAX_HANDLE_BYTES: usize = 8 * 1024;
/// Length of an Ed25519 signature in base64url.
const SIGNATURE_B64_LEN: usize = 86;

/// The claims of a handle, in their serialization order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Session ID (lower-case UUID).
    pub sid: String,
    /// Connection ID (lower-case UUID).
    pub conn: String,
    /// The orchestrator's job ID.
    pub job: String,
    /// Cmdlets the job may run.
    pub cmdlets: Vec<String>,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// SPIFFE ID of the only worker that may redeem it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrk: Option<String>,
}

/// Why a string is not a handle signed by this proxy. Deliberately coarse: callers learn
/// nothing but "invalid".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Empty or longer than [`MAX_HANDLE_BYTES`].
    #[error("the handle is empty or too long")]
    Size,
    /// Not three base64url segments with the expected header.
    #[error("the handle is malformed")]
    Malformed,
    /// The signature does not verify with this proxy's key.
    #[error("the handle's signature does not verify")]
    Signature,
    /// Signed, but the claims are unreadable.
    #[error("the handle's claims are malformed")]
    Claims,
}

/// Signs `claims` into a handle.
pub fn sign(claims: &Claims, key: &Ed25519KeyPair) -> String {
    // Serializing strings and integers cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!("{HEADER_B64}.{}", URL_SAFE_NO_PAD.encode(payload));
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// Checks `handle`'s form and signature with `public_key`, then parses its claims.
pub fn verify(
    handle: &str,
    public_key: &UnparsedPublicKey<Vec<u8>>,
) -> Result<Claims, FormatError> {
    if handle.is_empty() || handle.len() > MAX_HANDLE_BYTES {
        return Err(FormatError::Size);
    }
    let (signing_input, sig_b64) = handle.rsplit_once('.').ok_or(FormatError::Malformed)?;
    let (header, payload_b64) = signing_input
        .split_once('.')
        .ok_or(FormatError::Malformed)?;
    if header != HEADER_B64 || sig_b64.len() != SIGNATURE_B64_LEN || payload_b64.is_empty() {
        return Err(FormatError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| FormatError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| FormatError::Malformed)?;
    public_key
        .verify(signing_input.as_bytes(), &sig)
        .map_err(|_| FormatError::Signature)?;
    serde_json::from_slice(&payload).map_err(|_| FormatError::Claims)
}

/// The verifying half of a signing key.
pub fn public_key(key: &Ed25519KeyPair) -> UnparsedPublicKey<Vec<u8>> {
    use ring::signature::KeyPair as _;
    UnparsedPublicKey::new(&ED25519, key.public_key().as_ref().to_vec())
}

#[cfg(test)]
mod tests;
