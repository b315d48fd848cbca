//! The InvokeCommand handler (beta and v2.0): faults, auth, RBAC, throttling, execution.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth;
use super::cmdlets::{self, Call, CmdletDef};
use super::envelope::{self, CmdletError};
use super::paging;
use super::params::Params;
use super::throttle::{self, fault, rate_limit_headers};
use crate::counters::OK;
use crate::faults::Injected;
use crate::state::{AppState, SimState, TenantState};

/// What one request carried.
struct Request {
    segment: String,
    /// `None` for the beta gateway, `Some(endpoint)` for `/adminapi/v2.0/{tenant}/{endpoint}`.
    v2_endpoint: Option<String>,
    query: HashMap<String, String>,
    base: String,
    headers: HeaderMap,
    body: Bytes,
    request_id: String,
}

const BETA_PERMISSION: &str = "Exchange.ManageAsApp";
const V2_PERMISSION: &str = "Exchange.ManageAsAppV2";

/// v2.0 endpoints and the cmdlets each accepts (reference §7); `Set-Mailbox` only with
/// `GrantSendOnBehalfTo`.
const V2_ENDPOINTS: &[(&str, &[&str])] = &[
    ("OrganizationConfig", &["Get-OrganizationConfig"]),
    ("AcceptedDomain", &["Get-AcceptedDomain"]),
    ("Mailbox", &["Get-Mailbox", "Set-Mailbox"]),
    ("DistributionGroupMember", &["Get-DistributionGroupMember"]),
];

impl Request {
    fn version(&self) -> &'static str {
        if self.v2_endpoint.is_some() {
            "v2.0"
        } else {
            "beta"
        }
    }
}

/// Why a v2.0 endpoint refuses a cmdlet or parameter, if it does.
fn v2_refusal(endpoint: &str, def: &CmdletDef, input: &Value) -> Option<CmdletError> {
    let allowed = V2_ENDPOINTS
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(endpoint))
        .map(|(_, c)| *c)
        .unwrap_or(&[]);
    if !allowed.contains(&def.name) {
        return Some(CmdletError::not_supported(def.name, endpoint));
    }
    if def.name != "Set-Mailbox" {
        return None;
    }
    let params = input.get("Parameters").and_then(Value::as_object)?;
    params
        .keys()
        .find(|k| {
            !k.contains('@')
                && !["Identity", "GrantSendOnBehalfTo"]
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(k))
        })
        .map(|k| CmdletError::unknown_parameter(k))
}

/// Axum handler of the beta gateway (`InvokeCommand`).
pub(crate) async fn invoke(
    State(st): State<Arc<SimState>>,
    Path(segment): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(st, segment, None, query, uri, headers, body).await
}

/// Axum handler of the v2.0 Admin API (`/adminapi/v2.0/{tenant}/{endpoint}`).
pub(crate) async fn invoke_v2(
    State(st): State<Arc<SimState>>,
    Path((segment, endpoint)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(st, segment, Some(endpoint), query, uri, headers, body).await
}

async fn run(
    st: Arc<SimState>,
    segment: String,
    v2_endpoint: Option<String>,
    query: HashMap<String, String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = st.faults.get().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let base = crate::entra::request_base(&st, &uri, &headers);
    let req = Request {
        segment,
        v2_endpoint,
        query,
        base,
        headers,
        body,
        request_id: Uuid::new_v4().to_string(),
    };
    let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
    let name = parsed
        .as_ref()
        .and_then(|v| v.pointer("/CmdletInput/CmdletName"))
        .and_then(Value::as_str)
        .map(|n| {
            cmdlets::lookup(n)
                .map(|d| d.name.to_owned())
                .unwrap_or_else(|| n.to_owned())
        })
        .unwrap_or_default();
    let (resp, outcome) = handle(&st, &req, parsed);
    st.counters.invoke(&name, &outcome);
    resp
}

/// A finished answer and its counter label.
type Answer = (Response, String);

fn cmdlet_failure(e: &CmdletError, request_id: &str) -> Box<Answer> {
    Box::new((
        envelope::cmdlet_error(e, &[], request_id),
        e.short_type().to_owned(),
    ))
}

/// Bearer token, consent and service principal: who is calling.
fn authorize<'a>(
    st: &'a SimState,
    req: &Request,
) -> Result<(&'a TenantState, &'a AppState), Box<Answer>> {
    let (claims, tenant) = auth::bearer(st, &req.segment, &req.headers, &req.request_id)?;
    let permission = if req.v2_endpoint.is_some() {
        V2_PERMISSION
    } else {
        BETA_PERMISSION
    };
    let app = auth::app(st, tenant, &claims, permission, &req.request_id)?;
    Ok((tenant, app))
}

/// The body's cmdlet: known, accepted by the endpoint, allowed by the app's roles.
fn cmdlet<'v>(
    st: &SimState,
    tenant: &TenantState,
    app: &AppState,
    req: &Request,
    parsed: &'v Option<Value>,
) -> Result<(&'static CmdletDef, &'v Value), Box<Answer>> {
    let Some(input) = parsed.as_ref().and_then(|v| v.get("CmdletInput")) else {
        let e = CmdletError::invalid_value(
            "CmdletInput",
            "The request body must be {\"CmdletInput\":{\"CmdletName\":...,\"Parameters\":{...}}}.",
        );
        return Err(cmdlet_failure(&e, &req.request_id));
    };
    let name = input
        .get("CmdletName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(def) = cmdlets::lookup(name) else {
        return Err(Box::new((
            envelope::unknown_cmdlet(&req.request_id),
            "unknown_cmdlet".to_owned(),
        )));
    };
    if let Some(e) = req
        .v2_endpoint
        .as_deref()
        .and_then(|ep| v2_refusal(ep, def, input))
    {
        return Err(cmdlet_failure(&e, &req.request_id));
    }
    auth::allowed(st, tenant, app, def.name, &req.request_id)?;
    Ok((def, input))
}

fn handle(st: &SimState, req: &Request, parsed: Option<Value>) -> Answer {
    if let Injected::Status(status, retry) = st.faults.exchange() {
        return (
            fault(status, retry, &req.request_id),
            format!("fault_{status}"),
        );
    }
    let checked = authorize(st, req).and_then(|(tenant, app)| {
        let (def, input) = cmdlet(st, tenant, app, req, &parsed)?;
        let budget = throttle::throttle(st, tenant, app, &req.request_id)
            .map_err(|r| Box::new((*r, "throttled".to_owned())))?;
        Ok((tenant, def, input, budget))
    });
    let (tenant, def, input, budget) = match checked {
        Ok(x) => x,
        Err(answer) => return *answer,
    };
    let (mut resp, outcome) = execute(st, tenant, def, input.get("Parameters"), req);
    if let Some(b) = budget {
        rate_limit_headers(&mut resp, b);
    }
    if resp.status() == StatusCode::OK && st.faults.corrupt_success() {
        return (
            envelope::corrupt_gzip(&req.request_id),
            "fault_corrupt_gzip".to_owned(),
        );
    }
    tracing::debug!(cmdlet = def.name, outcome = %outcome, "invoke");
    (resp, outcome)
}

/// Warnings and an optional confirmation message: the call is answered without running.
type ShortCircuit = (Vec<String>, Option<Value>);

fn confirm_or_whatif(
    def: &CmdletDef,
    params: &Params,
) -> Result<Option<ShortCircuit>, CmdletError> {
    let target = params
        .string("Identity")?
        .or(params.string("Name")?)
        .unwrap_or_default();
    if def.prompts && params.boolean("Confirm")? == Some(true) {
        let msg = format!(
            "Are you sure you want to perform this action?\r\nPerforming the operation \"{}\" on target \"{target}\".",
            def.name
        );
        return Ok(Some((Vec::new(), Some(json!(msg)))));
    }
    if def.writes && params.boolean("WhatIf")? == Some(true) {
        let msg = format!(
            "What if: Performing the operation \"{}\" on target \"{target}\".",
            def.name
        );
        return Ok(Some((vec![msg], None)));
    }
    Ok(None)
}

fn new_call(st: &SimState, tenant: &TenantState, params: Params) -> Call {
    Call {
        params,
        now_ms: st.clock.unix_ms(),
        lag_ms: i64::try_from(st.faults.get().read_after_write_lag_ms).unwrap_or(0),
        created: st
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        warnings: Vec::new(),
        tenant_id: tenant.id,
        tenant_name: tenant.display_name.clone(),
    }
}

fn execute(
    st: &SimState,
    tenant: &TenantState,
    def: &CmdletDef,
    raw: Option<&Value>,
    req: &Request,
) -> (Response, String) {
    let context = format!(
        "{}/adminapi/{}/{}/$metadata#Collection(Exchange.GenericHashTable)",
        req.base,
        req.version(),
        req.segment
    );
    let fail = |e: CmdletError, w: &[String]| {
        let label = e.short_type().to_owned();
        (envelope::cmdlet_error(&e, w, &req.request_id), label)
    };
    let params =
        match Params::new(raw).and_then(|p| p.check_names(def.params, def.mandatory).map(|()| p)) {
            Ok(p) => p,
            Err(e) => return fail(e, &[]),
        };
    match confirm_or_whatif(def, &params) {
        Err(e) => return fail(e, &[]),
        Ok(Some((warnings, confirm))) => {
            let extra = confirm.map(|c| ("@adminapi.confirmationmessage", c));
            return (
                envelope::success(context, Vec::new(), &warnings, None, extra, &req.request_id),
                OK.to_owned(),
            );
        }
        Ok(None) => {}
    }
    let mut call = new_call(st, tenant, params);
    let result = {
        let mut dir = tenant.directory.write();
        (def.run)(&mut dir, &mut call)
    };
    match result {
        Err(e) => fail(e, &call.warnings),
        Ok(items) => {
            let (page, next) = if def.pageable {
                let link_base = format!(
                    "{}/adminapi/{}/{}/{}",
                    req.base,
                    req.version(),
                    req.segment,
                    req.v2_endpoint.as_deref().unwrap_or("InvokeCommand")
                );
                paging::paginate(items, &req.headers, &req.query, &link_base)
            } else {
                (items, None)
            };
            let page = paging::select(page, req.query.get("$select"));
            (
                envelope::success(context, page, &call.warnings, next, None, &req.request_id),
                OK.to_owned(),
            )
        }
    }
}
