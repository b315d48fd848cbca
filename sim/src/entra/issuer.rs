//! The simulator's token issuer: an ES256 (P-256) key generated at start, the access tokens it
//! signs (claims of reference §3.2) and the JWKS that publishes its public half.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::SimError;

/// Claims of an app-only access token (v1 shape, as Exchange Online receives it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Resource, e.g. `https://outlook.office365.com`.
    pub aud: String,
    /// `https://sts.windows.net/{tid}/`.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Client ID.
    pub appid: String,
    /// `1` secret, `2` certificate.
    pub appidacr: String,
    /// `app`.
    pub idtyp: String,
    /// Service principal object ID.
    pub oid: String,
    /// Granted application permissions; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Same as `oid` for app-only tokens.
    pub sub: String,
    /// Tenant ID.
    pub tid: String,
    /// Unique token identifier.
    pub uti: String,
    /// `1.0`.
    pub ver: String,
}

/// The signing key and its identifier.
pub(crate) struct Issuer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why an access token was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    /// Not a three-part JWT, bad base64 or bad JSON.
    Malformed,
    /// Signature does not verify with the simulator key.
    BadSignature,
}

impl Issuer {
    /// Generate a fresh P-256 key.
    pub(crate) fn generate() -> Result<Issuer, SimError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| SimError::Crypto("cannot generate the token signing key"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| SimError::Crypto("cannot load the token signing key"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..20]);
        Ok(Issuer { key, rng, kid })
    }

    /// Sign claims into a compact JWS.
    pub(crate) fn sign(&self, claims: &AccessClaims) -> Result<String, SimError> {
        let header = json!({"typ": "JWT", "alg": "ES256", "x5t": self.kid, "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(claims).map_err(|_| SimError::Crypto("claims"))?)
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| SimError::Crypto("cannot sign a token"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// Verify a token's signature and decode its claims (expiry and audience are the caller's).
    pub(crate) fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenRejection::Malformed)?;
        let public =
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref());
        public
            .verify(format!("{h}.{p}").as_bytes(), &sig)
            .map_err(|_| TokenRejection::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| TokenRejection::Malformed)?;
        serde_json::from_slice(&payload).map_err(|_| TokenRejection::Malformed)
    }

    /// The JWKS document publishing the public key.
    pub(crate) fn jwks(&self) -> Value {
        let point = self.key.public_key().as_ref();
        let (x, y) = point
            .get(1..33)
            .zip(point.get(33..65))
            .unwrap_or((&[], &[]));
        json!({"keys": [{
            "kty": "EC", "use": "sig", "crv": "P-256", "alg": "ES256",
            "kid": self.kid, "x5t": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }
}

/// A fresh `uti` value.
pub(crate) fn new_uti() -> String {
    URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes())
}
