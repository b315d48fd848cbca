//! The Entra ID v2 token endpoint client (reference §1–3): one POST per call, no retries
//! (the cache decides those).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use airlock_shared::SecretString;
use time::OffsetDateTime;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::assertion;
use super::errors::{EntraError, TokenError};
use crate::store::{ConnectionRecord, Credential};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Refresh this long before expiry when Entra sends no `refresh_in`.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// The longest lifetime a token is trusted for. Entra issues tokens for 60–90 minutes; a
/// larger `expires_in` (up to `u64::MAX`, which would overflow the clock) is clamped to this
/// rather than rejected: the token is most likely still good, and assuming a shorter life only
/// makes us refresh earlier, never hand out an expired token.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);

/// An access token with its timing. Redacted `Debug`.
pub struct AccessToken {
    /// The bearer token.
    pub value: SecretString,
    /// When it expires (monotonic, follows `tokio::time::pause`).
    pub expires_at: Instant,
    /// When to refresh it in the background.
    pub refresh_at: Instant,
    /// When it expires, wall clock (for responses).
    pub expires_at_utc: OffsetDateTime,
    /// Its audit fingerprint, once computed (see [`Self::fingerprint`]).
    fingerprint: OnceLock<String>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &self.value)
            .field("expires_at_utc", &self.expires_at_utc)
            .finish()
    }
}

impl AccessToken {
    /// A token valid for `expires_in` from now, refreshed at `refresh_in` when given, else 5
    /// minutes before expiry (or at half-life for tokens shorter than 10 minutes).
    /// `expires_in` is clamped to [`MAX_EXPIRES_IN`].
    pub fn new(value: SecretString, expires_in: Duration, refresh_in: Option<Duration>) -> Self {
        let now = Instant::now();
        let expires_in = expires_in.min(MAX_EXPIRES_IN);
        let ahead = if expires_in > 2 * REFRESH_BEFORE_EXPIRY {
            expires_in - REFRESH_BEFORE_EXPIRY
        } else {
            expires_in / 2
        };
        let refresh = refresh_in.map_or(ahead, |r| r.min(ahead));
        // Checked although clamped: should the clock still overflow, treat the token as
        // already expired (it is then never served from the cache) instead of panicking.
        let expires_at = now.checked_add(expires_in).unwrap_or(now);
        let utc_now = OffsetDateTime::now_utc();
        Self {
            value,
            expires_at,
            refresh_at: now.checked_add(refresh).unwrap_or(now).min(expires_at),
            expires_at_utc: utc_now
                .checked_add(expires_in.try_into().unwrap_or_default())
                .unwrap_or(utc_now),
            fingerprint: OnceLock::new(),
        }
    }

    /// The token's audit fingerprint: `compute` (the audit log's keyed HMAC) runs on first use
    /// only and the result stays with the token, since a cached token is handed out many times
    /// and an HMAC over its ~1.2 KB was a visible share of each AcquireToken.
    pub fn fingerprint(&self, compute: impl FnOnce(&[u8]) -> String) -> &str {
        self.fingerprint
            .get_or_init(|| compute(self.value.expose_secret().as_bytes()))
    }
}

/// Builds the HTTPS client used for Entra ID and Exchange: rustls with the ring provider,
/// the Mozilla roots, plus `extra_ca_pem` (for the simulator or a TLS-inspecting proxy).
pub fn http_client(
    extra_ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
            .collect::<Result<_, _>>()
            .map_err(|e| format!("extra CA file: {e}"))?;
        if certs.is_empty() {
            return Err("extra CA file holds no certificate".into());
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("extra CA certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// The Entra ID client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EntraClient {
    http: reqwest::Client,
}

impl EntraClient {
    /// A client over `http` (see [`http_client`]).
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Requests a token for `record` with `credential`, which is dropped (zeroized) as soon as
    /// the request body is built.
    pub async fn acquire(
        &self,
        record: &ConnectionRecord,
        credential: Credential,
    ) -> Result<AccessToken, TokenError> {
        let url = record.token_url();
        let body = form_body(record, &url, credential)?;
        let resp = self
            .http
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| TokenError::Transport(error_chain(&e)))?;
        drop(body);
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| TokenError::Transport(error_chain(&e)))?;
        if status != 200 {
            return Err(TokenError::Entra(Box::new(EntraError::parse(
                status,
                &bytes,
                retry_after,
            ))));
        }
        parse_success(&bytes)
    }
}

fn form_body(
    record: &ConnectionRecord,
    url: &str,
    credential: Credential,
) -> Result<Zeroizing<String>, TokenError> {
    let client_id = record.app_id.to_string();
    let scope = record.scope();
    let mut form = form_urlencoded::Serializer::new(String::with_capacity(4096));
    form.append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &client_id)
        .append_pair("scope", &scope);
    match &credential {
        Credential::ClientSecret(secret) => {
            form.append_pair("client_secret", secret.expose_secret());
        }
        Credential::PrivateKey { format, der } => {
            let cert = record
                .certificate
                .as_ref()
                .ok_or(TokenError::NoCertificate)?;
            if OffsetDateTime::now_utc() > cert.not_after {
                let when = cert
                    .not_after
                    .format(&time::format_description::well_known::Rfc3339);
                return Err(TokenError::CertificateExpired(when.unwrap_or_default()));
            }
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let jwt = assertion::sign(cert, *format, der, url, &client_id, now)?;
            form.append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", jwt.expose_secret());
        }
    }
    drop(credential);
    Ok(Zeroizing::new(form.finish()))
}

fn number(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn parse_success(bytes: &[u8]) -> Result<AccessToken, TokenError> {
    let mut v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| TokenError::Decode(e.to_string()))?;
    let expires_in = v
        .get("expires_in")
        .and_then(number)
        .ok_or_else(|| TokenError::Decode("no expires_in".into()))?;
    let refresh_in = v
        .get("refresh_in")
        .and_then(number)
        .map(Duration::from_secs);
    let token = match v.get_mut("access_token").map(serde_json::Value::take) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => SecretString::new(s),
        _ => return Err(TokenError::Decode("no access_token".into())),
    };
    Ok(AccessToken::new(
        token,
        Duration::from_secs(expires_in),
        refresh_in,
    ))
}

/// `Retry-After` as delta seconds (fractions allowed) or an HTTP date; capped at one hour.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let cap = Duration::from_secs(3600);
    if let Ok(secs) = v.trim().parse::<f64>() {
        // `try_from_secs_f64` fails (instead of panicking) on values too large for a
        // `Duration`, e.g. `1e30`: those get the cap too.
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).map_or(cap, |d| d.min(cap)));
    }
    let when =
        OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc2822).ok()?;
    let delta = when - OffsetDateTime::now_utc();
    Some(Duration::try_from(delta).unwrap_or_default().min(cap))
}

/// The error with its sources, for operators (never contains request bodies).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_parsing_is_tolerant() {
        let t = parse_success(br#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":3599,"access_token":"TEST-ONLY-tok"}"#).unwrap();
        assert_eq!(t.value.expose_secret(), "TEST-ONLY-tok");
        assert!(!format!("{t:?}").contains("TEST-ONLY-tok"));
        assert!(t.refresh_at < t.expires_at);
        assert!(parse_success(br#"{"expires_in":3599}"#).is_err());
        assert!(parse_success(b"nope").is_err());
    }

    #[test]
    fn refresh_time_rules() {
        let t = AccessToken::new(
            SecretString::new("x".into()),
            Duration::from_secs(3600),
            None,
        );
        assert_eq!(t.expires_at - t.refresh_at, Duration::from_secs(300));
        let t = AccessToken::new(
            SecretString::new("x".into()),
            Duration::from_secs(7200),
            Some(Duration::from_secs(3600)),
        );
        assert_eq!(t.expires_at - t.refresh_at, Duration::from_secs(3600));
        let t = AccessToken::new(
            SecretString::new("x".into()),
            Duration::from_secs(120),
            None,
        );
        assert_eq!(t.expires_at - t.refresh_at, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_expires_in_is_clamped_not_a_panic() {
        for body in [
            br#"{"expires_in":18446744073709551615,"access_token":"TEST-ONLY-tok"}"#.as_slice(),
            br#"{"expires_in":"18446744073709551615","refresh_in":18446744073709551615,"access_token":"TEST-ONLY-tok"}"#,
        ] {
            let t = parse_success(body).unwrap();
            assert_eq!(t.expires_at - Instant::now(), MAX_EXPIRES_IN);
            assert_eq!(t.expires_at - t.refresh_at, REFRESH_BEFORE_EXPIRY);
            let utc_left = t.expires_at_utc - OffsetDateTime::now_utc();
            assert!(utc_left <= MAX_EXPIRES_IN && utc_left > MAX_EXPIRES_IN - Duration::from_secs(60));
        }
    }

    #[test]
    fn huge_retry_after_is_capped_not_a_panic() {
        let cap = Some(Duration::from_secs(3600));
        assert_eq!(parse_retry_after("1e30"), cap);
        assert_eq!(parse_retry_after("18446744073709551616"), cap);
        assert_eq!(parse_retry_after(&format!("{}", f64::MAX)), cap);
        assert_eq!(parse_retry_after("inf"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("99999"), Some(Duration::from_secs(3600)));
        assert!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
        assert_eq!(parse_retry_after("soon"), None);
    }
}
