//! TestConnection's Exchange read call: `Get-OrganizationConfig` over the admin REST endpoint
//! (`POST {exchange}/adminapi/beta/{tenant}/InvokeCommand`), with failures diagnosed into
//! catalogue codes and the seed's remedies.

use std::time::Duration;

use airlock_shared::{AirlockError, ErrorCode};
use serde_json::json;

use crate::store::ConnectionRecord;
use crate::tokens::AccessToken;
use crate::tokens::entra::{error_chain, parse_retry_after};

/// The app-only routing anchor of reference §1.2.
const ANCHOR: &str = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@";

/// Calls Get-OrganizationConfig; returns the organization's `Name`.
pub async fn organization_config(
    http: &reqwest::Client,
    record: &ConnectionRecord,
    token: &AccessToken,
) -> Result<String, AirlockError> {
    let url = format!(
        "{}/adminapi/beta/{}/InvokeCommand",
        record.exchange_host, record.tenant_id
    );
    let body = json!({"CmdletInput": {"CmdletName": "Get-OrganizationConfig", "Parameters": {}}});
    let resp = http
        .post(&url)
        .bearer_auth(token.value.expose_secret())
        .header("X-AnchorMailbox", format!("{ANCHOR}{}", record.tenant_id))
        .header("client-request-id", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            AirlockError::new(ErrorCode::Transient, format!("cannot reach Exchange Online: {}", error_chain(&e)))
                .with_remediation("Check the proxy's network access to the Exchange host (DNS, firewall, CA trust) and retry.")
        })?;
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request_id = header("request-id");
    let exception = header("x-ExceptionType");
    let retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
    let bytes = resp.bytes().await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if status == 200 {
        let first = &v["value"][0];
        let name = first["Name"]
            .as_str()
            .or(first["DisplayName"].as_str())
            .unwrap_or(&record.organization);
        return Ok(name.to_owned());
    }
    let mut err =
        diagnose(status, &v, retry_after).with_metadata("http_status", status.to_string());
    if let Some(r) = request_id {
        err = err.with_metadata("request_id", r);
    }
    if let Some(x) = exception {
        err = err.with_metadata("exception_type", x);
    }
    Err(err)
}

/// The message Exchange put in its error envelope (details first, as the module reads it).
fn envelope_message(v: &serde_json::Value) -> String {
    let e = &v["error"];
    e["details"][0]["message"]
        .as_str()
        .or(e["message"].as_str())
        .or(e["innererror"]["internalexception"]["message"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// Maps an Exchange failure to a catalogue code.
pub fn diagnose(status: u16, v: &serde_json::Value, retry_after: Option<Duration>) -> AirlockError {
    let msg = envelope_message(v);
    let lower = msg.to_ascii_lowercase();
    let text = if msg.is_empty() {
        format!("HTTP {status}")
    } else {
        msg.clone()
    };
    let role = lower.contains("not allowed to call")
        || lower.contains("access denied")
        || lower.contains("access is denied")
        || lower.contains("isn't assigned to any management roles")
        || lower.contains("isn't supported in this scenario");
    let code = match status {
        401 | 403 if role => ErrorCode::RoleMissing,
        401 if lower == "unauthorized" => ErrorCode::SpNotRegistered,
        401 => ErrorCode::CredentialInvalid,
        403 => ErrorCode::CmdletUnavailable,
        429 => ErrorCode::Throttled,
        404 => ErrorCode::NotFound,
        500..=599 => ErrorCode::Transient,
        _ => ErrorCode::Internal,
    };
    let mut err = AirlockError::new(code, format!("Exchange Online: {text}"));
    if code == ErrorCode::CredentialInvalid {
        err = err.with_remediation("Exchange rejected the access token itself: check that the connection's Exchange host matches the cloud of its authority host, and that the tenant ID is right.");
    }
    match retry_after {
        Some(d) => err.with_retry_after(d),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(msg: &str) -> serde_json::Value {
        json!({"error": {"code": "Unauthorized", "message": msg}})
    }

    #[test]
    fn seed_troubleshooting_cases() {
        let e = diagnose(401, &gateway("UnAuthorized"), None);
        assert_eq!(e.code(), ErrorCode::SpNotRegistered);
        assert!(e.remediation().contains("wait up to 30 minutes"));
        assert!(e.remediation().contains("New-ServicePrincipal"));
        for m in [
            "User is not allowed to call Get-OrganizationConfig",
            "Access Denied",
        ] {
            let e = diagnose(401, &gateway(m), None);
            assert_eq!(e.code(), ErrorCode::RoleMissing, "{m}");
            assert!(e.remediation().contains("Exchange Administrator"));
        }
        assert_eq!(
            diagnose(403, &json!(null), None).code(),
            ErrorCode::CmdletUnavailable
        );
        let t = diagnose(429, &json!(null), Some(Duration::from_secs(7)));
        assert_eq!(
            (t.code(), t.retry_delay()),
            (ErrorCode::Throttled, Some(Duration::from_secs(7)))
        );
        assert_eq!(
            diagnose(503, &json!(null), None).code(),
            ErrorCode::Transient
        );
        assert_eq!(
            diagnose(401, &gateway("The access token has expired."), None).code(),
            ErrorCode::CredentialInvalid
        );
    }
}
