//! The client assertion JWT for certificate credentials (reference §2): PS256 + `x5t#S256` by
//! default, RS256 + `x5t` selectable; `aud` = the exact token URL; `iss` = `sub` = client ID;
//! fresh `jti`; `nbf` = `iat` = now; `exp` = now + 10 minutes. Signed with ring; the key is
//! loaded only for the signature and its DER is zeroized when the credential drops.

use airlock_shared::{SecretBytes, SecretString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use serde_json::json;

use crate::pem::{PemError, load_rsa};
use crate::store::{AssertionAlg, CertificateMeta, KeyFormat};

/// Assertion lifetime.
pub const ASSERTION_LIFETIME_SECS: i64 = 600;

/// Why an assertion could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    /// The stored key no longer loads.
    #[error(transparent)]
    Key(#[from] PemError),
    /// ring failed to sign.
    #[error("signing the client assertion failed")]
    Sign,
}

/// The JOSE header for `alg` and the certificate DER.
pub fn header(alg: AssertionAlg, cert_der: &[u8]) -> serde_json::Value {
    match alg {
        AssertionAlg::Ps256 => json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": B64.encode(digest::digest(&digest::SHA256, cert_der)),
        }),
        AssertionAlg::Rs256 => json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": B64.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der)),
        }),
    }
}

/// The claims for `client_id` posting to `token_url` at unix time `now`.
pub fn claims(token_url: &str, client_id: &str, now: i64) -> serde_json::Value {
    json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    })
}

/// Builds and signs the assertion.
pub fn sign(
    cert: &CertificateMeta,
    format: KeyFormat,
    key_der: &SecretBytes,
    token_url: &str,
    client_id: &str,
    now: i64,
) -> Result<SecretString, AssertionError> {
    let encoding: &'static dyn RsaEncoding = match cert.algorithm {
        AssertionAlg::Ps256 => &RSA_PSS_SHA256,
        AssertionAlg::Rs256 => &RSA_PKCS1_SHA256,
    };
    let mut input = String::new();
    input.push_str(&B64.encode(header(cert.algorithm, &cert.der).to_string()));
    input.push('.');
    input.push_str(&B64.encode(claims(token_url, client_id, now).to_string()));
    let pair = load_rsa(format, key_der)?;
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(encoding, &SystemRandom::new(), input.as_bytes(), &mut sig)
        .map_err(|_| AssertionError::Sign)?;
    drop(pair);
    input.push('.');
    input.push_str(&B64.encode(&sig));
    Ok(SecretString::new(input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Credential;
    use ring::signature::{
        RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
    };

    fn parts(jwt: &str) -> (serde_json::Value, serde_json::Value, Vec<u8>, String) {
        let mut it = jwt.split('.');
        let (h, c, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let dec = |p: &str| serde_json::from_slice(&B64.decode(p).unwrap()).unwrap();
        (dec(h), dec(c), B64.decode(s).unwrap(), format!("{h}.{c}"))
    }

    fn check(alg: AssertionAlg) {
        let text = include_str!("../../tests/fixtures/pem/combined.pem");
        let p = crate::pem::parse(text, alg, time::OffsetDateTime::now_utc()).unwrap();
        let Credential::PrivateKey { format, der } = &p.key else {
            panic!()
        };
        let url = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
        let jwt = sign(
            &p.meta,
            *format,
            der,
            url,
            "11111111-2222-4333-8444-000000000002",
            1_700_000_000,
        )
        .unwrap();
        let (h, c, sig, input) = parts(jwt.expose_secret());
        assert_eq!(c["aud"], url);
        assert_eq!(c["iss"], c["sub"]);
        assert_eq!(c["nbf"], 1_700_000_000);
        assert_eq!(c["iat"], 1_700_000_000);
        assert_eq!(c["exp"], 1_700_000_600);
        assert_eq!(c["jti"].as_str().unwrap().len(), 36);
        assert_eq!(h["typ"], "JWT");
        let pair = load_rsa(*format, der).unwrap();
        let public = pair.public().as_ref().to_vec();
        match alg {
            AssertionAlg::Ps256 => {
                assert_eq!(h["alg"], "PS256");
                assert_eq!(h["x5t#S256"].as_str().unwrap().len(), 43);
                assert!(h.get("x5t").is_none());
                UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, public)
                    .verify(input.as_bytes(), &sig)
                    .unwrap();
            }
            AssertionAlg::Rs256 => {
                assert_eq!(h["alg"], "RS256");
                assert_eq!(h["x5t"].as_str().unwrap().len(), 27);
                assert!(h.get("x5t#S256").is_none());
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
                    .verify(input.as_bytes(), &sig)
                    .unwrap();
            }
        }
    }

    #[test]
    fn ps256_with_sha256_thumbprint() {
        check(AssertionAlg::Ps256);
    }

    #[test]
    fn rs256_with_sha1_thumbprint() {
        check(AssertionAlg::Rs256);
    }

    #[test]
    fn x5t_known_answer() {
        // reference §2.1: hex 84E05C1D98BCE3A5421D225B140B36E86A3D5534 -> hOBcHZi846VCHSJbFAs26Go9VTQ
        let bytes = hex::decode("84E05C1D98BCE3A5421D225B140B36E86A3D5534").unwrap();
        assert_eq!(B64.encode(bytes), "hOBcHZi846VCHSJbFAs26Go9VTQ");
    }
}
