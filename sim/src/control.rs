//! Test control: [`SimControl`] for in-process use, and the same operations as JSON over HTTPS
//! under `/_sim/` on the simulator's listener.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::SimError;
use crate::counters::CounterSnapshot;
use crate::directory::DirectorySnapshot;
use crate::entra::AccessClaims;
use crate::faults::Faults;
use crate::state::SimState;

/// A cloneable handle to a running simulator's test controls.
#[derive(Clone, Debug)]
pub struct SimControl {
    state: Arc<SimState>,
}

impl SimControl {
    pub(crate) fn new(state: Arc<SimState>) -> SimControl {
        SimControl { state }
    }

    /// Token and invoke counters so far.
    pub fn counters(&self) -> CounterSnapshot {
        self.state.counters.snapshot()
    }

    /// Zero all counters.
    pub fn reset_counters(&self) {
        self.state.counters.reset();
    }

    /// The faults currently injected.
    pub fn faults(&self) -> Faults {
        self.state.faults.get()
    }

    /// Replace the injected faults (`Faults::default()` turns everything off).
    pub fn set_faults(&self, faults: Faults) {
        self.state.faults.set(faults);
    }

    /// `New-ServicePrincipal`: Exchange honours it after the app's `propagation_delay_secs`.
    pub fn register_service_principal(&self, app_id: Uuid) -> Result<(), SimError> {
        let (_, app) = self
            .state
            .find_app(app_id)
            .ok_or(SimError::UnknownApp(app_id))?;
        let delay = i64::try_from(app.spec.exchange.propagation_delay_secs).unwrap_or(0);
        let mut live = app.live.lock();
        live.sp_registered = true;
        live.sp_effective_ms = self.state.clock.unix_ms() + delay * 1000;
        Ok(())
    }

    /// `Remove-ServicePrincipal`: Exchange answers "UnAuthorized" from now on.
    pub fn unregister_service_principal(&self, app_id: Uuid) -> Result<(), SimError> {
        let (_, app) = self
            .state
            .find_app(app_id)
            .ok_or(SimError::UnknownApp(app_id))?;
        app.live.lock().sp_registered = false;
        Ok(())
    }

    /// Replace the app's management role assignments; they take effect after the app's
    /// `propagation_delay_secs` (immediately when it is 0).
    pub fn set_roles(&self, app_id: Uuid, roles: Vec<String>) -> Result<(), SimError> {
        let (_, app) = self
            .state
            .find_app(app_id)
            .ok_or(SimError::UnknownApp(app_id))?;
        let delay = i64::try_from(app.spec.exchange.propagation_delay_secs).unwrap_or(0);
        let at = self.state.clock.unix_ms() + delay * 1000;
        app.live.lock().pending_roles = Some((roles, at));
        Ok(())
    }

    /// Expire every client secret of the app (AADSTS7000222 from now on).
    pub fn expire_secret(&self, app_id: Uuid) -> Result<(), SimError> {
        let (_, app) = self
            .state
            .find_app(app_id)
            .ok_or(SimError::UnknownApp(app_id))?;
        let ids = app.spec.secrets.iter().map(|s| s.id);
        app.live.lock().expired_secrets.extend(ids);
        Ok(())
    }

    /// A copy of a tenant's directory (tenant by GUID or domain).
    pub fn directory(&self, tenant: &str) -> Result<DirectorySnapshot, SimError> {
        let t = self
            .state
            .tenant(tenant)
            .ok_or_else(|| SimError::UnknownTenant(tenant.to_owned()))?;
        Ok(t.directory.read().data.clone())
    }

    /// Move the simulator clock forward (tokens, secrets, propagation, throttling windows).
    pub fn advance_clock(&self, by: Duration) {
        self.state
            .clock
            .advance_ms(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    /// Issue an Exchange access token for an app directly, bypassing the token endpoint
    /// (for benchmarks and Exchange-only tests). Not counted as a token request.
    pub fn issue_token(&self, app_id: Uuid) -> Result<String, SimError> {
        let (tenant, app) = self
            .state
            .find_app(app_id)
            .ok_or(SimError::UnknownApp(app_id))?;
        let now = self.state.clock.unix();
        let claims = AccessClaims {
            aud: "https://outlook.office365.com".to_owned(),
            iss: format!("https://sts.windows.net/{}/", tenant.id),
            iat: now,
            nbf: now,
            exp: now + 3599,
            appid: app_id.to_string(),
            appidacr: if app.certs.is_empty() { "1" } else { "2" }.to_owned(),
            idtyp: "app".to_owned(),
            oid: app.spec.object_id.to_string(),
            roles: app.spec.permissions.clone(),
            sub: app.spec.object_id.to_string(),
            tid: tenant.id.to_string(),
            uti: crate::entra::issuer::new_uti(),
            ver: "1.0".to_owned(),
        };
        self.state.issuer.sign(&claims)
    }

    /// Decode and verify an access token issued by this simulator.
    pub fn verify_token(&self, token: &str) -> Option<AccessClaims> {
        self.state.issuer.verify(token).ok()
    }
}

fn result(r: Result<(), SimError>) -> Response {
    match r {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    secs: u64,
    #[serde(default)]
    ms: u64,
}

type St = State<Arc<SimState>>;

fn ok() -> Json<serde_json::Value> {
    Json(json!({"ok": true}))
}

async fn counters(State(st): St) -> Json<CounterSnapshot> {
    Json(SimControl::new(st).counters())
}

async fn reset(State(st): St) -> Json<serde_json::Value> {
    SimControl::new(st).reset_counters();
    ok()
}

async fn get_faults(State(st): St) -> Json<Faults> {
    Json(SimControl::new(st).faults())
}

async fn put_faults(State(st): St, Json(f): Json<Faults>) -> Json<serde_json::Value> {
    SimControl::new(st).set_faults(f);
    ok()
}

async fn register(State(st): St, Path(id): Path<Uuid>) -> Response {
    result(SimControl::new(st).register_service_principal(id))
}

async fn unregister(State(st): St, Path(id): Path<Uuid>) -> Response {
    result(SimControl::new(st).unregister_service_principal(id))
}

async fn roles(State(st): St, Path(id): Path<Uuid>, Json(roles): Json<Vec<String>>) -> Response {
    result(SimControl::new(st).set_roles(id, roles))
}

async fn expire(State(st): St, Path(id): Path<Uuid>) -> Response {
    result(SimControl::new(st).expire_secret(id))
}

async fn directory(State(st): St, Path(t): Path<String>) -> Response {
    match SimControl::new(st).directory(&t) {
        Ok(d) => Json(d).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

async fn advance(State(st): St, Json(a): Json<Advance>) -> Json<serde_json::Value> {
    SimControl::new(st).advance_clock(Duration::from_secs(a.secs) + Duration::from_millis(a.ms));
    ok()
}

/// `/_sim/...` routes.
pub(crate) fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/health", get(|| async { ok() }))
        .route("/_sim/counters", get(counters))
        .route("/_sim/counters/reset", post(reset))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route(
            "/_sim/apps/{app_id}/service-principal",
            post(register).delete(unregister),
        )
        .route("/_sim/apps/{app_id}/roles", put(roles))
        .route("/_sim/apps/{app_id}/expire-secret", post(expire))
        .route("/_sim/tenants/{tenant}/directory", get(directory))
        .route("/_sim/clock/advance", post(advance))
}
