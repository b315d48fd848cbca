//! Bearer token checks of the gateway and the Exchange-side authorisation of the app:
//! service principal registration (with propagation delay) and management-role RBAC.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::envelope::gateway_error;
use crate::entra::{AccessClaims, EXCHANGE_RESOURCES};
use crate::state::{AppState, SimState, TenantState};

const WWW_AUTHENTICATE: &str = "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"invalid_token\"";

/// A refused call: the response and its counter label.
pub(crate) type Refusal = Box<(Response, String)>;

fn invalid_token(message: &str, request_id: &str) -> Refusal {
    let mut resp = gateway_error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        message,
        request_id,
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(WWW_AUTHENTICATE),
    );
    Box::new((resp, "invalid_token".to_owned()))
}

/// Verify the bearer token and return its claims and the tenant it names.
pub(crate) fn bearer<'a>(
    st: &'a SimState,
    segment: &str,
    headers: &HeaderMap,
    request_id: &str,
) -> Result<(AccessClaims, &'a TenantState), Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| invalid_token("The request is missing a bearer token.", request_id))?;
    let claims = st
        .issuer
        .verify(token)
        .map_err(|_| invalid_token("The access token signature is invalid.", request_id))?;
    let now = st.clock.unix();
    if claims.exp <= now {
        return Err(invalid_token("The access token has expired.", request_id));
    }
    if claims.nbf > now + 300 {
        return Err(invalid_token(
            "The access token is not yet valid.",
            request_id,
        ));
    }
    let aud = claims.aud.trim_end_matches('/').to_ascii_lowercase();
    if !EXCHANGE_RESOURCES.contains(&aud.as_str()) {
        return Err(invalid_token(
            "The access token audience is invalid.",
            request_id,
        ));
    }
    let tenant = st
        .tenant(segment)
        .filter(|t| t.id.to_string() == claims.tid)
        .ok_or_else(|| {
            invalid_token(
                "The access token was issued for a different tenant.",
                request_id,
            )
        })?;
    Ok((claims, tenant))
}

/// The app behind a valid token, if it may use Exchange at all (consent, SP registration).
pub(crate) fn app<'a>(
    st: &SimState,
    tenant: &'a TenantState,
    claims: &AccessClaims,
    permission: &str,
    request_id: &str,
) -> Result<&'a AppState, Refusal> {
    let unauthorized = || -> Refusal {
        Box::new((
            gateway_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "UnAuthorized",
                request_id,
            ),
            "sp_not_registered".to_owned(),
        ))
    };
    let app = tenant.app(&claims.appid).ok_or_else(unauthorized)?;
    if !claims.roles.iter().any(|r| r == permission) {
        return Err(Box::new((
            gateway_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Access Denied",
                request_id,
            ),
            "no_consent".to_owned(),
        )));
    }
    let live = app.live.lock();
    if !live.sp_registered || live.sp_effective_ms > st.clock.unix_ms() {
        return Err(unauthorized());
    }
    Ok(app)
}

/// RBAC: may this app call `cmdlet`?
pub(crate) fn allowed(
    st: &SimState,
    tenant: &TenantState,
    app: &AppState,
    cmdlet: &str,
    request_id: &str,
) -> Result<(), Refusal> {
    let roles = app.live.lock().effective_roles(st.clock.unix_ms());
    if tenant.roles_allow(&roles, cmdlet) {
        return Ok(());
    }
    Err(Box::new((
        gateway_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            &format!("User is not allowed to call {cmdlet}"),
            request_id,
        ),
        "not_allowed".to_owned(),
    )))
}
