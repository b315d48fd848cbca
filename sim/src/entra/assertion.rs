//! Client assertion (`private_key_jwt`) validation, in the order of reference checklist §7:
//! audience, issuer/subject, time window, thumbprint lookup, then the RSA signature.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;
use time::OffsetDateTime;

use super::errors::AadError;

/// A certificate registered on an app: DER, both thumbprints and the RSA public key.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredCert {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER (what ring verifies with).
    rsa_public_key: Vec<u8>,
}

impl RegisteredCert {
    /// Parse the first certificate of a PEM text; only RSA keys are accepted (as Entra).
    pub(crate) fn from_pem(pem: &str) -> Result<RegisteredCert, String> {
        let der = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .ok_or("no CERTIFICATE block")?
            .map_err(|e| format!("bad PEM: {e}"))?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| format!("bad certificate: {e}"))?;
        let spki = cert.public_key();
        if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
            return Err("only RSA certificates can be registered".to_owned());
        }
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref());
        let sha256 = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
        Ok(RegisteredCert {
            sha1: sha1.as_ref().to_vec(),
            sha256: sha256.as_ref().to_vec(),
            rsa_public_key: spki.subject_public_key.data.to_vec(),
        })
    }
}

/// What the assertion is checked against.
pub(crate) struct AssertionCheck<'a> {
    /// The client_id of the request.
    pub client_id: &'a str,
    /// Token endpoint URLs the `aud` may name.
    pub audiences: &'a [String],
    /// Simulator time (Unix seconds).
    pub now: i64,
    /// Tolerated skew in seconds.
    pub skew: i64,
    /// Certificates registered on the app.
    pub certs: &'a [RegisteredCert],
    /// Reject mixed alg/thumbprint pairs.
    pub strict_pairs: bool,
    /// Accept standard base64 thumbprints.
    pub standard_b64: bool,
}

fn malformed() -> AadError {
    AadError::invalid_request(50027, "JWT token is invalid or malformed.")
}

fn decode_json(part: &str) -> Result<Value, AadError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}

/// A time claim as a number or a numeric string (MSAL.NET sends strings).
fn time_claim(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn fmt_time(t: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.0000000Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

fn algorithm(alg: &str) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// Validate a client assertion. `Ok` means the client is authenticated.
pub(crate) fn verify(jwt: &str, check: &AssertionCheck<'_>) -> Result<(), AadError> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(malformed());
    };
    let header = decode_json(h)?;
    let claims = decode_json(p)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Some(verifier) = algorithm(alg) else {
        return Err(AadError::invalid_client(
            5002738,
            format!(
                "Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, RS384, RS512, PS256, PS384, PS512'"
            ),
        ));
    };
    check_audience(&claims, check)?;
    check_issuer(&claims, check)?;
    check_time(&claims, check)?;
    let cert = find_certificate(&header, alg, check)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| malformed())?;
    UnparsedPublicKey::new(verifier, &cert.rsa_public_key)
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| {
            AadError::invalid_client(
                700027,
                "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]",
            )
        })
}

fn check_audience(claims: &Value, check: &AssertionCheck<'_>) -> Result<(), AadError> {
    let aud = match claims.get("aud") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().unwrap_or_default().to_owned(),
        Some(Value::Array(a)) if a.len() > 1 => {
            return Err(AadError::invalid_client(
                5002741,
                format!(
                    "JWT token has {} audience values provided, maximum allowed is 1.",
                    a.len()
                ),
            ));
        }
        _ => String::new(),
    };
    let norm = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
    if check.audiences.iter().any(|a| norm(a) == norm(&aud)) {
        return Ok(());
    }
    Err(AadError::invalid_client(
        50012,
        "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCredentials .",
    ))
}

fn check_issuer(claims: &Value, check: &AssertionCheck<'_>) -> Result<(), AadError> {
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    if iss != sub {
        return Err(AadError::invalid_client(
            50048,
            "Subject mismatches Issuer claim in the client assertion.",
        ));
    }
    if !iss.eq_ignore_ascii_case(check.client_id) {
        return Err(AadError::invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://aka.ms/certCredentials .",
        ));
    }
    Ok(())
}

fn check_time(claims: &Value, check: &AssertionCheck<'_>) -> Result<(), AadError> {
    let nbf = time_claim(claims.get("nbf")).unwrap_or(0);
    let exp = time_claim(claims.get("exp")).unwrap_or(0);
    if nbf > check.now + check.skew || exp + check.skew <= check.now {
        return Err(AadError::invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://aka.ms/certCredentials .",
                fmt_time(check.now),
                fmt_time(nbf),
                fmt_time(exp)
            ),
        ));
    }
    Ok(())
}

fn decode_thumbprint(value: &str, standard: bool) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()
        .or_else(|| {
            if standard {
                STANDARD.decode(value).ok()
            } else {
                None
            }
        })
}

fn find_certificate<'a>(
    header: &Value,
    alg: &str,
    check: &AssertionCheck<'a>,
) -> Result<&'a RegisteredCert, AadError> {
    let s256 = header.get("x5t#S256").and_then(Value::as_str);
    let s1 = header.get("x5t").and_then(Value::as_str);
    let (value, sha256) = match (s256, s1) {
        (Some(v), _) => (v, true),
        (None, Some(v)) => (v, false),
        (None, None) => return Err(not_registered("<none>")),
    };
    if check.strict_pairs && (sha256 != alg.starts_with("PS")) {
        return Err(not_registered(value));
    }
    let Some(bytes) = decode_thumbprint(value, check.standard_b64) else {
        return Err(not_registered(value));
    };
    let hex = hex::encode_upper(&bytes);
    check
        .certs
        .iter()
        .find(|c| {
            if sha256 {
                c.sha256 == bytes
            } else {
                c.sha1 == bytes
            }
        })
        .ok_or_else(|| not_registered(&hex))
}

fn not_registered(thumbprint: &str) -> AadError {
    AadError::invalid_client(
        700027,
        format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Entra ID admin center or Graph to check the certificate. Review the documentation at https://aka.ms/certCredentials .]"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_claims_accept_numbers_and_numeric_strings() {
        assert_eq!(time_claim(Some(&json!(1700000000))), Some(1700000000));
        assert_eq!(time_claim(Some(&json!("1700000000"))), Some(1700000000));
        assert_eq!(time_claim(Some(&json!(1700000000.5))), Some(1700000000));
        assert_eq!(time_claim(Some(&json!("soon"))), None);
        assert_eq!(time_claim(None), None);
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00.0000000Z");
    }

    #[test]
    fn thumbprints_in_base64url_or_standard() {
        // the documentation vector of the reference: hex 84E05C1D…5534 = x5t hOBcHZi846VCHSJbFAs26Go9VTQ
        let want = hex::decode("84E05C1D98BCE3A5421D225B140B36E86A3D5534").unwrap();
        assert_eq!(
            decode_thumbprint("hOBcHZi846VCHSJbFAs26Go9VTQ", false).unwrap(),
            want
        );
        assert_eq!(
            decode_thumbprint("hOBcHZi846VCHSJbFAs26Go9VTQ=", false).unwrap(),
            want
        );
        assert_eq!(
            decode_thumbprint("hOBcHZi846VCHSJbFAs26Go9VTQ=", true).unwrap(),
            want
        );
        let odd = vec![0xfb_u8, 0xff, 0xbf, 0x01, 0x02];
        let std_form = STANDARD.encode(&odd);
        assert!(std_form.contains('+') && std_form.contains('/'));
        assert_eq!(decode_thumbprint(&std_form, true).unwrap(), odd);
        assert!(decode_thumbprint(&std_form, false).is_none());
    }

    #[test]
    fn ec_certificates_are_rejected() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert!(
            RegisteredCert::from_pem(&cert.pem())
                .unwrap_err()
                .contains("RSA")
        );
        assert!(RegisteredCert::from_pem("no pem here").is_err());
    }
}
