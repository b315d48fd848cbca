//! Throttling (the per-app budget of the fixture, `Rate-Limit-*` headers) and the answers of
//! injected faults (429, 500, 503, 504).

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::envelope::{self, CmdletError};
use crate::state::{AppState, SimState, TenantState};

fn retry_after(resp: &mut Response, secs: u64) {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

pub(crate) fn fault(status: u16, retry: u64, request_id: &str) -> Response {
    match status {
        429 => throttled(retry, request_id),
        500 => {
            let e = CmdletError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalServerError",
                error_id: "Ex0A1B2C",
                exception: "Microsoft.Exchange.Data.Storage.StoragePermanentException",
                text: "A server side error has occurred because of which the operation could not be completed. Please try again after some time. If the problem still persists, please reach out to MS support.".to_owned(),
            };
            envelope::cmdlet_error(&e, &[], request_id)
        }
        other => {
            let status = StatusCode::from_u16(other).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let code = if other == 504 {
                "GatewayTimeout"
            } else {
                "ServiceUnavailable"
            };
            let mut r = envelope::gateway_error(
                status,
                code,
                "The service is temporarily unavailable. Please try again later.",
                request_id,
            );
            if other == 503 {
                retry_after(&mut r, retry);
            }
            r
        }
    }
}

fn throttled(retry: u64, request_id: &str) -> Response {
    let mut r = envelope::gateway_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "You have reached the maximum number of concurrent requests per tenant. Please wait and try again",
        request_id,
    );
    retry_after(&mut r, retry);
    r
}

/// What is left of an app's budget: (limit, remaining, window end in Unix ms).
pub(crate) type Remaining = (u32, u32, i64);

/// The per-app budget: `budget` calls per window, then 429 until the window ends.
pub(crate) fn throttle(
    st: &SimState,
    tenant: &TenantState,
    app: &AppState,
    request_id: &str,
) -> Result<Option<Remaining>, Box<Response>> {
    if tenant.throttle.budget == 0 {
        return Ok(None);
    }
    let now = st.clock.unix_ms();
    let window = i64::try_from(tenant.throttle.window_secs.max(1)).unwrap_or(60) * 1000;
    let mut budgets = tenant.budgets.lock();
    let b = budgets.entry(app.spec.app_id).or_default();
    if now - b.window_start_ms >= window {
        b.window_start_ms = now;
        b.used = 0;
    }
    if b.used >= tenant.throttle.budget {
        let left_ms = (b.window_start_ms + window - now).max(1);
        let secs = u64::try_from((left_ms + 999) / 1000).unwrap_or(1);
        return Err(Box::new(throttled(secs, request_id)));
    }
    b.used += 1;
    Ok(Some((
        tenant.throttle.budget,
        tenant.throttle.budget - b.used,
        b.window_start_ms + window,
    )))
}

/// `Rate-Limit-Limit`, `Rate-Limit-Remaining`, `Rate-Limit-Reset` as captured (§2.2).
pub(crate) fn rate_limit_headers(resp: &mut Response, (limit, remaining, reset_ms): Remaining) {
    let reset = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(reset_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let h = resp.headers_mut();
    for (k, v) in [
        ("Rate-Limit-Limit", limit.to_string()),
        ("Rate-Limit-Remaining", remaining.to_string()),
        ("Rate-Limit-Reset", reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}
