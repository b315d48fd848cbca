//! `POST /{tenant}/oauth2/v2.0/token`: client credentials with the validation order of
//! reference checklist §7.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use rand::Rng;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::assertion::{self, AssertionCheck};
use super::errors::AadError;
use super::issuer::{AccessClaims, new_uti};
use super::request::{self, JWT_BEARER, TokenForm};
use crate::counters::OK;
use crate::faults::Injected;
use crate::state::{AppState, SimState, TenantState};

/// Axum handler for the token endpoint.
pub(crate) async fn token(
    State(st): State<Arc<SimState>>,
    method: Method,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = TokenForm::parse(&body, &headers);
    let client = form.client_id().unwrap_or_default();
    let latency = st.faults.get().token_latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Injected::Status(status, retry) = st.faults.entra() {
        st.counters.token(&client, &format!("fault_{status}"));
        return fault_response(status, retry, &st);
    }
    let base = super::request_base(&st, &uri, &headers);
    match issue(&st, &method, &tenant, &form, &base) {
        Ok(resp) => {
            st.counters.token(&client, OK);
            tracing::debug!(client_id = %client, outcome = OK, "token");
            resp
        }
        Err(e) => {
            st.counters.token(&client, &e.label());
            tracing::debug!(client_id = %client, outcome = %e.label(), "token");
            e.render(st.clock.now())
        }
    }
}

fn fault_response(status: u16, retry: u64, st: &SimState) -> Response {
    let err = match status {
        429 => AadError {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "temporarily_unavailable",
            code: 90055,
            text: "TenantThrottlingError - There are too many incoming requests. Please try again later.".into(),
        },
        503 => AadError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            code: 90033,
            text: "A transient error has occurred. Please try again.".into(),
        },
        other => AadError {
            status: StatusCode::from_u16(other).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error: "server_error",
            code: 50000,
            text: "There was an error issuing a token or an issue with our sign-in service.".into(),
        },
    };
    let mut resp = err.render(st.clock.now());
    if (status == 429 || status == 503)
        && let Ok(v) = HeaderValue::from_str(&retry.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn find_tenant<'a>(st: &'a SimState, segment: &str) -> Result<&'a TenantState, AadError> {
    let lower = segment.to_ascii_lowercase();
    if matches!(lower.as_str(), "common" | "consumers" | "organizations") {
        return Err(AadError::invalid_request(
            9001023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        ));
    }
    if !request::tenant_is_well_formed(segment) {
        return Err(AadError::invalid_request(
            900023,
            format!(
                "Specified tenant identifier '{segment}' is neither a valid DNS name, nor a valid external domain."
            ),
        ));
    }
    st.tenant(segment).ok_or_else(|| {
        AadError::invalid_request(
            90002,
            format!("Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        )
    })
}

/// No `resource` (v1 only), and `grant_type=client_credentials`.
fn check_grant(form: &TokenForm) -> Result<(), AadError> {
    if form.get("resource").is_some() {
        return Err(AadError::invalid_request(
            901002,
            "The 'resource' request parameter is not supported.",
        ));
    }
    let grant = form
        .get("grant_type")
        .ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError::unsupported_grant_type(format!(
            "The app requested an unsupported grant type '{grant}'."
        )));
    }
    Ok(())
}

fn issue(
    st: &SimState,
    method: &Method,
    segment: &str,
    form: &TokenForm,
    base: &str,
) -> Result<Response, AadError> {
    if method != Method::POST {
        return Err(AadError::invalid_request(
            900561,
            format!("The endpoint only accepts POST requests. Received a {method} request."),
        ));
    }
    let tenant = find_tenant(st, segment)?;
    check_grant(form)?;
    let client_id = form
        .client_id()
        .ok_or_else(|| AadError::missing_parameter("client_id"))?;
    let app = tenant.app(&client_id).ok_or_else(|| {
        AadError::unauthorized_client(
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.display_name),
        )
    })?;
    let acr = authenticate(st, tenant, app, form, segment, base)?;
    let scope = form
        .get("scope")
        .ok_or_else(|| AadError::missing_parameter("scope"))?;
    let resource = request::resource_of(scope, &tenant.display_name)?;
    if app.spec.disabled {
        return Err(AadError::unauthorized_client(
            7000112,
            format!(
                "Application '{}'({}) is disabled.",
                app.spec.app_id, app.spec.name
            ),
        ));
    }
    success(st, tenant, app, &resource, acr)
}

/// Check the credential; returns `appidacr` (`1` secret, `2` certificate).
fn authenticate(
    st: &SimState,
    tenant: &TenantState,
    app: &AppState,
    form: &TokenForm,
    segment: &str,
    base: &str,
) -> Result<&'static str, AadError> {
    let secrets = form.secrets();
    let assertion = form.get("client_assertion");
    match (secrets.is_empty(), assertion) {
        (true, None) => Err(AadError::invalid_request(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
        (false, Some(_)) => Err(AadError::invalid_request(
            90023,
            "Only one client credential may be presented: 'client_secret' or 'client_assertion'.",
        )),
        (false, None) => check_secret(st, app, &secrets).map(|()| "1"),
        (true, Some(jwt)) => {
            match form.get("client_assertion_type") {
                None => return Err(AadError::missing_parameter("client_assertion_type")),
                Some(t) if t != JWT_BEARER => {
                    return Err(AadError::invalid_client(
                        70002,
                        format!(
                            "The client_assertion_type '{t}' is not supported. Use '{JWT_BEARER}'."
                        ),
                    ));
                }
                Some(_) => {}
            }
            let audiences = audiences(st, tenant, segment, base);
            let check = AssertionCheck {
                client_id: &app.spec.app_id.to_string(),
                audiences: &audiences,
                now: st.clock.unix(),
                skew: st.settings.assertion_skew_secs,
                certs: &app.certs,
                strict_pairs: st.settings.strict_thumbprint_pairs,
                standard_b64: st.settings.accept_standard_base64_thumbprints,
            };
            assertion::verify(jwt, &check).map(|()| "2")
        }
    }
}

fn check_secret(st: &SimState, app: &AppState, candidates: &[String]) -> Result<(), AadError> {
    let now = st.clock.now();
    let live = app.live.lock();
    for secret in &app.spec.secrets {
        let hit = candidates
            .iter()
            .any(|c| bool::from(c.as_bytes().ct_eq(secret.value.as_bytes())));
        if !hit {
            continue;
        }
        if secret.expires <= now || live.expired_secrets.contains(&secret.id) {
            return Err(AadError::invalid_client(
                7000222,
                format!(
                    "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                    app.spec.app_id
                ),
            ));
        }
        return Ok(());
    }
    Err(AadError::invalid_client(
        7000215,
        format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
            app.spec.app_id
        ),
    ))
}

/// Token endpoint URLs an assertion's `aud` may name: this host and the advertised one, any of
/// the tenant's names, v2 or v1 path.
fn audiences(st: &SimState, tenant: &TenantState, segment: &str, base: &str) -> Vec<String> {
    let mut hosts = vec![base.to_owned(), st.base_url()];
    hosts.dedup();
    let mut names = vec![segment.to_owned(), tenant.id.to_string()];
    names.extend(tenant.domains.iter().cloned());
    let mut out = Vec::new();
    for h in &hosts {
        for n in &names {
            out.push(format!("{h}/{n}/oauth2/v2.0/token"));
            out.push(format!("{h}/{n}/oauth2/token"));
        }
    }
    out
}

fn claims_for(
    st: &SimState,
    tenant: &TenantState,
    app: &AppState,
    resource: &str,
    acr: &str,
    lifetime: i64,
) -> AccessClaims {
    let now = st.clock.unix();
    let roles = if super::EXCHANGE_RESOURCES.contains(&resource) {
        app.spec.permissions.clone()
    } else {
        Vec::new()
    };
    AccessClaims {
        aud: request::token_audience(resource),
        iss: format!("https://sts.windows.net/{}/", tenant.id),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        appid: app.spec.app_id.to_string(),
        appidacr: acr.to_owned(),
        idtyp: "app".to_owned(),
        oid: app.spec.object_id.to_string(),
        roles,
        sub: app.spec.object_id.to_string(),
        tid: tenant.id.to_string(),
        uti: new_uti(),
        ver: "1.0".to_owned(),
    }
}

fn success(
    st: &SimState,
    tenant: &TenantState,
    app: &AppState,
    resource: &str,
    acr: &str,
) -> Result<Response, AadError> {
    let lifetime = st
        .settings
        .token_lifetime_secs
        .unwrap_or_else(|| rand::rng().random_range(3600..=5399));
    let lifetime = i64::try_from(lifetime).unwrap_or(3599);
    let claims = claims_for(st, tenant, app, resource, acr, lifetime);
    let token = st.issuer.sign(&claims).map_err(|_| AadError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        code: 50000,
        text: "There was an error issuing a token.".into(),
    })?;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    if st.settings.long_lived_tokens {
        body["refresh_in"] = json!(lifetime / 2);
    }
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(resp)
}
