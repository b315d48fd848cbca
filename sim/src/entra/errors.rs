//! Entra ID error responses: the exact JSON shape of reference §4.1 and the AADSTS catalogue.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

/// One AADSTS failure: HTTP status, OAuth `error`, code and text (without the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AadError {
    /// HTTP status.
    pub status: StatusCode,
    /// OAuth2 `error` value.
    pub error: &'static str,
    /// AADSTS number.
    pub code: u32,
    /// Message after `AADSTSn: `.
    pub text: String,
}

impl AadError {
    fn new(status: StatusCode, error: &'static str, code: u32, text: impl Into<String>) -> Self {
        AadError {
            status,
            error,
            code,
            text: text.into(),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(code: u32, text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, text)
    }

    /// 401 `invalid_client`.
    pub fn invalid_client(code: u32, text: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, text)
    }

    /// 400 `unauthorized_client`.
    pub fn unauthorized_client(code: u32, text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", code, text)
    }

    /// 400 `invalid_scope`.
    pub fn invalid_scope(code: u32, text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", code, text)
    }

    /// 400 `invalid_resource`.
    pub fn invalid_resource(code: u32, text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_resource", code, text)
    }

    /// 400 `unsupported_grant_type`.
    pub fn unsupported_grant_type(text: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            text,
        )
    }

    /// AADSTS900144: a required form parameter is missing.
    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_request(
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// The counter label for this failure (`AADSTS7000215`).
    pub fn label(&self) -> String {
        format!("AADSTS{}", self.code)
    }

    /// Render the full error JSON at `now`.
    pub fn render(&self, now: OffsetDateTime) -> Response {
        let trace_id = Uuid::new_v4();
        let correlation_id = Uuid::new_v4();
        let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
        let timestamp = now.format(fmt).unwrap_or_default();
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.text
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&trace_id.to_string()) {
            h.insert("x-ms-request-id", v);
        }
        resp
    }
}
