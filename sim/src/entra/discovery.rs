//! OpenID Connect discovery, JWKS and `/common/discovery/instance`, so Microsoft's client
//! libraries pointed at the simulator's authority work unmodified.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::json;

use super::errors::AadError;
use crate::state::SimState;

fn tenant_not_found(st: &SimState, segment: &str) -> Response {
    let mut e = AadError::invalid_request(
        90002,
        format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    );
    e.error = "invalid_tenant";
    e.render(st.clock.now())
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(
    State(st): State<Arc<SimState>>,
    Path(segment): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let base = super::request_base(&st, &uri, &headers);
    let Some(tenant) = st.tenant(&segment) else {
        return tenant_not_found(&st, &segment);
    };
    let tid = tenant.id;
    Json(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "roles"],
        "kerberos_endpoint": format!("{base}/{tid}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub(crate) async fn jwks(State(st): State<Arc<SimState>>) -> Response {
    Json(st.issuer.jwks()).into_response()
}

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...`.
pub(crate) async fn instance(
    State(st): State<Arc<SimState>>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let base = super::request_base(&st, &uri, &headers);
    let host = base.trim_start_matches("https://").to_owned();
    let tenant = q
        .get("authorization_endpoint")
        .and_then(|a| url_tenant(a, &host))
        .unwrap_or_else(|| "common".to_owned());
    if q.get("authorization_endpoint")
        .is_some_and(|a| url_tenant(a, &host).is_none())
    {
        let mut e = AadError::invalid_request(50049, "Unknown or invalid instance.");
        e.error = "invalid_instance";
        return e.render(st.clock.now());
    }
    (
        StatusCode::OK,
        Json(json!({
            "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })),
    )
        .into_response()
}

/// The tenant segment of `https://{host}/{tenant}/oauth2/...`, if the host is ours.
fn url_tenant(endpoint: &str, host: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_owned(),
    };
    let ours = authority.eq_ignore_ascii_case(host)
        || host
            .rsplit_once(':')
            .map(|(_, p)| {
                format!("127.0.0.1:{p}") == authority || format!("localhost:{p}") == authority
            })
            .unwrap_or(false);
    if !ours {
        return None;
    }
    url.path_segments()?
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
