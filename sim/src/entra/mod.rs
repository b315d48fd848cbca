//! Entra ID: the v2.0 token endpoint (client credentials), OpenID discovery, JWKS and instance
//! discovery.
//!
//! - `request`: form, Basic credentials, tenant and scope rules
//! - `assertion`: client assertion validation (RS256/PS256, x5t/x5t#S256)
//! - `issuer`: the simulator's signing key and access tokens
//! - `errors`: the AADSTS error shape
//! - `discovery`: OpenID configuration, JWKS, `/common/discovery/instance`

pub(crate) mod assertion;
mod discovery;
pub(crate) mod errors;
pub(crate) mod issuer;
mod request;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use http::{HeaderMap, Uri};

pub use issuer::AccessClaims;
pub(crate) use request::EXCHANGE_RESOURCES;

use crate::state::SimState;

/// Routes of the Entra side.
pub(crate) fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", any(token::token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::jwks))
        .route("/{tenant}/discovery/keys", get(discovery::jwks))
        .route("/common/discovery/instance", get(discovery::instance))
}

/// `https://host:port` as the client addressed us (URI authority, then `Host`, then bind address).
pub(crate) fn request_base(state: &SimState, uri: &Uri, headers: &HeaderMap) -> String {
    uri.authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .map(|h| format!("https://{h}"))
        .unwrap_or_else(|| state.base_url())
}
