//! Entra ID and transport failures, and their one mapping to the catalogue.

use std::time::Duration;

use airlock_shared::{AirlockError, ErrorCode};

/// An Entra error response (reference §4.1), with the identifiers the operator needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status.
    pub status: u16,
    /// OAuth2 `error`.
    pub error: String,
    /// First line of `error_description` (the `AADSTSnnnn: …` text, without the trace suffix).
    pub description: String,
    /// `error_codes`.
    pub codes: Vec<u64>,
    /// `trace_id`.
    pub trace_id: Option<String>,
    /// `correlation_id`.
    pub correlation_id: Option<String>,
    /// `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Entra answered with an error.
    #[error("entra id answered {status}: {description}", status = .0.status, description = .0.description)]
    Entra(Box<EntraError>),
    /// Network or TLS failure.
    #[error("cannot reach the token endpoint: {0}")]
    Transport(String),
    /// A 200 answer without a usable token.
    #[error("unreadable token response: {0}")]
    Decode(String),
    /// The stored key cannot sign.
    #[error(transparent)]
    Assertion(#[from] super::assertion::AssertionError),
    /// The stored certificate is past its notAfter: not sent to Entra at all.
    #[error("the connection's certificate expired on {0}")]
    CertificateExpired(String),
    /// The connection's stored certificate metadata is missing.
    #[error("the connection has a private key but no certificate metadata")]
    NoCertificate,
}

impl EntraError {
    /// Parses an error body (JSON or not) with its status and `Retry-After`.
    pub fn parse(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let description = s("error_description")
            .map(|d| {
                d.split(['\r', '\n'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
            .unwrap_or_else(|| format!("HTTP {status} without an OAuth error body"));
        let codes = v
            .get("error_codes")
            .and_then(|c| c.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
            .unwrap_or_default();
        Self {
            status,
            error: s("error").unwrap_or_default(),
            description,
            codes,
            trace_id: s("trace_id"),
            correlation_id: s("correlation_id"),
            retry_after,
        }
    }

    fn code(&self) -> (ErrorCode, Option<&'static str>) {
        use ErrorCode as E;
        for c in &self.codes {
            let mapped = match c {
                7000215 | 7000216 | 7000218 => (E::CredentialInvalid, None),
                7000222 => (E::CredentialExpired, None),
                700016 => (E::AppNotFound, None),
                90002 | 900023 | 9001023 | 50049 => (E::TenantNotFound, None),
                700027 => (E::CertificateNotRegistered, None),
                7000112 => (E::AppNotFound, Some(REMEDY_DISABLED)),
                700024 => (E::CredentialInvalid, Some(REMEDY_CLOCK)),
                50012 | 7000274 | 50048 | 5002741 => (E::CredentialInvalid, Some(REMEDY_ASSERTION)),
                7000214 | 7000277 | 1000502 => (E::CredentialExpired, None),
                500011 | 1002012 | 70011 | 700022 => (E::InvalidArgument, Some(REMEDY_SCOPE)),
                50196 | 90055 | 90024 => (E::Throttled, None),
                _ => continue,
            };
            return mapped;
        }
        match (self.status, self.error.as_str()) {
            (429, _) => (E::Throttled, None),
            (500..=599, _) => (E::Transient, None),
            (_, "invalid_client") => (E::CredentialInvalid, None),
            (_, "unauthorized_client") => (E::AppNotFound, None),
            (_, "invalid_tenant") => (E::TenantNotFound, None),
            (_, "invalid_scope" | "invalid_resource") => (E::InvalidArgument, Some(REMEDY_SCOPE)),
            _ => (E::Internal, None),
        }
    }
}

const REMEDY_DISABLED: &str = "The app's service principal is disabled in the tenant: in Entra admin center → Enterprise applications → your app → Properties, set \"Enabled for users to sign-in\" to Yes.";
const REMEDY_CLOCK: &str =
    "The client assertion was outside its valid time range: sync this machine's clock (NTP).";
const REMEDY_ASSERTION: &str = "Entra ID rejected the client assertion: check that the certificate uploaded to the app registration is the one in this connection (compare thumbprints) and that the key matches it.";
const REMEDY_SCOPE: &str = "Entra ID rejected the scope: check the connection's Exchange host (the scope is {exchange_host}/.default) and that the Office 365 Exchange Online resource exists in the tenant's cloud.";

impl TokenError {
    /// The one mapping to the catalogue, keeping Entra's identifiers as metadata.
    pub fn to_airlock(&self) -> AirlockError {
        match self {
            Self::Entra(e) => {
                let (code, remedy) = e.code();
                let mut err = AirlockError::new(code, format!("Entra ID: {}", e.description));
                if let Some(r) = remedy {
                    err = err.with_remediation(r);
                }
                if !e.codes.is_empty() {
                    let codes: Vec<String> = e.codes.iter().map(u64::to_string).collect();
                    err = err.with_metadata("aadsts_codes", codes.join(","));
                }
                if !e.error.is_empty() {
                    err = err.with_metadata("oauth_error", e.error.clone());
                }
                if let Some(t) = &e.trace_id {
                    err = err.with_metadata("trace_id", t.clone());
                }
                if let Some(c) = &e.correlation_id {
                    err = err.with_metadata("correlation_id", c.clone());
                }
                err = err.with_metadata("http_status", e.status.to_string());
                match e.retry_after {
                    Some(d) => err.with_retry_after(d),
                    None => err,
                }
            }
            Self::Transport(m) => AirlockError::new(ErrorCode::Transient, format!("cannot reach Entra ID: {m}"))
                .with_remediation("Check the proxy's network access to the authority host (DNS, firewall, proxy, CA trust) and retry."),
            Self::Decode(m) => AirlockError::new(ErrorCode::Transient, format!("unreadable Entra ID token response: {m}")),
            Self::Assertion(a) => AirlockError::new(ErrorCode::PemInvalid, a.to_string()),
            Self::CertificateExpired(_) => AirlockError::new(ErrorCode::CredentialExpired, self.to_string()),
            Self::NoCertificate => AirlockError::new(ErrorCode::Internal, self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: u64, error: &str) -> Vec<u8> {
        serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: Something.\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2026-01-01 00:00:00Z"),
            "error_codes": [code],
            "trace_id": "t-1",
            "correlation_id": "c-1",
        })
        .to_string()
        .into_bytes()
    }

    fn map(status: u16, code: u64, error: &str) -> AirlockError {
        TokenError::Entra(Box::new(EntraError::parse(
            status,
            &body(code, error),
            None,
        )))
        .to_airlock()
    }

    #[test]
    fn seed_errors_get_seed_remedies_and_keep_ids() {
        let e = map(401, 7000215, "invalid_client");
        assert_eq!(e.code(), ErrorCode::CredentialInvalid);
        assert!(e.remediation().contains("Certificates & secrets"));
        assert_eq!(e.metadata()["aadsts_codes"], "7000215");
        assert_eq!(e.metadata()["trace_id"], "t-1");
        assert_eq!(e.metadata()["correlation_id"], "c-1");
        assert_eq!(e.detail(), "Entra ID: AADSTS7000215: Something.");
        let e = map(400, 700016, "unauthorized_client");
        assert_eq!(e.code(), ErrorCode::AppNotFound);
        assert!(e.remediation().contains("Application (client) ID"));
    }

    #[test]
    fn every_listed_code_maps() {
        use ErrorCode as E;
        let cases = [
            (7000222, E::CredentialExpired),
            (90002, E::TenantNotFound),
            (900023, E::TenantNotFound),
            (9001023, E::TenantNotFound),
            (700027, E::CertificateNotRegistered),
            (7000112, E::AppNotFound),
            (700024, E::CredentialInvalid),
            (50012, E::CredentialInvalid),
            (1002012, E::InvalidArgument),
            (500011, E::InvalidArgument),
            (50196, E::Throttled),
            (7000218, E::CredentialInvalid),
        ];
        for (code, want) in cases {
            assert_eq!(map(400, code, "x").code(), want, "AADSTS{code}");
        }
    }

    #[test]
    fn status_fallbacks_and_retry_after() {
        let e = TokenError::Entra(Box::new(EntraError::parse(
            429,
            b"",
            Some(Duration::from_secs(60)),
        )))
        .to_airlock();
        assert_eq!(e.code(), ErrorCode::Throttled);
        assert_eq!(e.retry_delay(), Some(Duration::from_secs(60)));
        let e = TokenError::Entra(Box::new(EntraError::parse(503, b"<html>", None))).to_airlock();
        assert_eq!(e.code(), ErrorCode::Transient);
        assert!(e.retryable());
        assert_eq!(
            map(401, 1, "invalid_client").code(),
            ErrorCode::CredentialInvalid
        );
        let e = TokenError::CertificateExpired("2020-01-01T00:00:00Z".into()).to_airlock();
        assert_eq!(e.code(), ErrorCode::CredentialExpired);
    }
}
