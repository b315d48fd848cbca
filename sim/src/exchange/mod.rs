//! Exchange Online: `POST /adminapi/beta/{tenant}/InvokeCommand` (and the v2.0 Admin API
//! endpoints) against the in-memory directory.
//!
//! - `auth`: bearer token, service principal and RBAC checks
//! - `params`: §1.3 parameter decoding
//! - `cmdlets/`: the cmdlet table and implementations
//! - `render`: output objects; `filter`: `-Filter` OPATH subset
//! - `envelope`: success and error envelopes
//! - `throttle`: per-app budget, `Rate-Limit-*`, injected fault answers
//! - `paging`: `Prefer: odata.maxpagesize`, `@odata.nextLink`, `$select`
//! - `invoke`: the request pipeline (beta `InvokeCommand` and v2.0 endpoints)

mod auth;
mod cmdlets;
pub mod envelope;
mod filter;
mod invoke;
mod paging;
mod params;
mod render;
mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;

pub use cmdlets::names as cmdlet_names;

use crate::state::SimState;

/// Routes of the Exchange side.
pub(crate) fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route(
            "/adminapi/beta/{tenant}/InvokeCommand",
            post(invoke::invoke),
        )
        .route(
            "/adminapi/v2.0/{tenant}/{endpoint}",
            post(invoke::invoke_v2),
        )
}
