//! The role policy: which SPIFFE IDs hold which role, and which gRPC methods each role may
//! call. Default deny: a caller no role matches, or whose roles do not list the method, is
//! refused.
//!
//! ```toml
//! [roles.worker]
//! identities = ["spiffe://airlock.local/worker/*"]
//! methods = ["airlock.v1.TokenBrokerService/AcquireToken", "grpc.health.v1.Health/*"]
//! ```
//!
//! Identity patterns are SPIFFE IDs in which a whole path segment may be `*` (one segment) and
//! the last segment may be `**` (one or more segments). Method patterns are
//! `package.Service/Method` or `package.Service/*`.

use std::{collections::BTreeMap, ops::Range, path::Path};

use serde::Deserialize;
use toml::Spanned;

use crate::identity::SpiffeId;

/// Why a policy file was refused. The message names the line of every problem.
#[derive(Debug, thiserror::Error)]
#[error("role policy {origin} is invalid:\n  {}", problems.join("\n  "))]
pub struct PolicyError {
    /// The file (or a label for in-memory text).
    pub origin: String,
    /// Each problem, with its line.
    pub problems: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    roles: BTreeMap<String, RoleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    identities: Vec<Spanned<String>>,
    methods: Vec<Spanned<String>>,
}

/// One role: who holds it and what it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role name (`admin`, `orchestrator`, `worker`, ...).
    pub name: String,
    identities: Vec<Vec<String>>,
    identity_domains: Vec<String>,
    methods: Vec<(String, Option<String>)>,
}

/// A parsed, validated role policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePolicy {
    roles: Vec<Role>,
}

/// The outcome of an authorization check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this role.
    Allow {
        /// The first role (in name order) that allows the method.
        role: String,
    },
    /// Refused: no role of the caller lists the method.
    Deny {
        /// Roles the caller holds (possibly none).
        roles: Vec<String>,
    },
}

impl RolePolicy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            origin: origin.clone(),
            problems: vec![format!("cannot read the file: {e}")],
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses and validates policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let fail = |problems| PolicyError {
            origin: origin.to_owned(),
            problems,
        };
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| fail(vec![toml_error(text, &e)]))?;
        let mut problems = Vec::new();
        let mut roles = Vec::new();
        if file.roles.is_empty() {
            problems.push(
                "no [roles.<name>] table: with no roles every call would be denied".to_owned(),
            );
        }
        for (name, role) in file.roles {
            roles.push(compile_role(text, name, role, &mut problems));
        }
        if problems.is_empty() {
            Ok(Self { roles })
        } else {
            Err(fail(problems))
        }
    }

    /// Decides whether `caller` may call `method` (`package.Service/Method`, no leading `/`).
    pub fn authorize(&self, caller: &SpiffeId, method: &str) -> Decision {
        let segments: Vec<&str> = caller.segments().collect();
        let mut held = Vec::new();
        for role in &self.roles {
            if !role.holds(caller.trust_domain(), &segments) {
                continue;
            }
            if role.allows(method) {
                return Decision::Allow {
                    role: role.name.clone(),
                };
            }
            held.push(role.name.clone());
        }
        Decision::Deny { roles: held }
    }

    /// The roles, in name order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
}

impl Role {
    fn holds(&self, domain: &str, segments: &[&str]) -> bool {
        self.identities
            .iter()
            .zip(&self.identity_domains)
            .any(|(pattern, d)| d == domain && segments_match(pattern, segments))
    }

    fn allows(&self, method: &str) -> bool {
        let Some((service, name)) = method.split_once('/') else {
            return false;
        };
        self.methods
            .iter()
            .any(|(s, m)| s == service && m.as_deref().is_none_or(|m| m == name))
    }
}

fn segments_match(pattern: &[String], segments: &[&str]) -> bool {
    match (pattern.split_first(), segments.split_first()) {
        (Some((p, _)), Some(_)) if p == "**" => true,
        (Some((p, prest)), Some((s, srest))) => {
            (p == "*" || p == s) && segments_match(prest, srest)
        }
        (None, None) => true,
        _ => false,
    }
}

fn compile_role(text: &str, name: String, role: RoleFile, problems: &mut Vec<String>) -> Role {
    let mut out = Role {
        name: name.clone(),
        identities: vec![],
        identity_domains: vec![],
        methods: vec![],
    };
    if role.identities.is_empty() {
        problems.push(format!("role {name:?}: `identities` is empty"));
    }
    for pattern in &role.identities {
        match identity_pattern(pattern.get_ref()) {
            Ok((domain, segments)) => {
                out.identity_domains.push(domain);
                out.identities.push(segments);
            }
            Err(why) => problems.push(at(
                text,
                pattern.span(),
                &format!("role {name:?}: identity {:?} {why}", pattern.get_ref()),
            )),
        }
    }
    for pattern in &role.methods {
        match method_pattern(pattern.get_ref()) {
            Ok(m) => out.methods.push(m),
            Err(why) => problems.push(at(
                text,
                pattern.span(),
                &format!("role {name:?}: method {:?} {why}", pattern.get_ref()),
            )),
        }
    }
    out
}

fn identity_pattern(p: &str) -> Result<(String, Vec<String>), &'static str> {
    // Validate the pattern as a SPIFFE ID with wildcards replaced by a legal segment.
    let concrete = p
        .split('/')
        .map(|s| if s == "*" || s == "**" { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/");
    SpiffeId::parse(&concrete).map_err(|_| "is not a SPIFFE ID pattern (spiffe://domain/segment/..., * for one segment, ** last for the rest)")?;
    let rest = &p["spiffe://".len()..];
    let (domain, path) = rest.split_once('/').unwrap_or((rest, ""));
    if domain.contains('*') {
        return Err("may not use a wildcard in the trust domain");
    }
    let segments: Vec<String> = path.split('/').map(str::to_owned).collect();
    if segments.iter().rev().skip(1).any(|s| s == "**") {
        return Err("may only use ** as the last segment");
    }
    Ok((domain.to_owned(), segments))
}

fn method_pattern(p: &str) -> Result<(String, Option<String>), &'static str> {
    const WHY: &str = "must be package.Service/Method or package.Service/* (no leading /)";
    let (service, method) = p.split_once('/').ok_or(WHY)?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    };
    if !ident(service) || !service.contains('.') {
        return Err(WHY);
    }
    match method {
        "*" => Ok((service.to_owned(), None)),
        m if ident(m) && !m.contains('.') => Ok((service.to_owned(), Some(m.to_owned()))),
        _ => Err(WHY),
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn at(text: &str, span: Range<usize>, message: &str) -> String {
    format!("line {}: {message}", line_of(text, span.start))
}

fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let first = e.message().lines().next().unwrap_or("invalid TOML");
    match e.span() {
        Some(span) => at(text, span, first),
        None => first.to_owned(),
    }
}

/// The default policy for a trust domain: the architecture's three roles.
pub fn default_policy_toml(trust_domain: &str) -> String {
    format!(
        r#"# Airlock role policy: who may call what. Anything not listed is denied.
# Identities are SPIFFE IDs from client certificates: `*` matches one path segment,
# a final `**` matches the rest. Methods are `package.Service/Method` or `package.Service/*`.

[roles.admin]
identities = ["spiffe://{td}/admin/*"]
methods = [
    "airlock.v1.ConnectionAdminService/*",
    "airlock.v1.AuditService/*",
    "grpc.health.v1.Health/*",
    "grpc.reflection.v1.ServerReflection/*",
    "grpc.reflection.v1alpha.ServerReflection/*",
]

[roles.orchestrator]
identities = ["spiffe://{td}/orchestrator/*"]
methods = [
    "airlock.v1.SessionBrokerService/*",
    "airlock.v1.WorkerService/*",
    "grpc.health.v1.Health/*",
]

[roles.worker]
identities = ["spiffe://{td}/worker/*"]
methods = [
    "airlock.v1.TokenBrokerService/AcquireToken",
    "grpc.health.v1.Health/*",
]
"#,
        td = trust_domain
    )
}

#[cfg(test)]
mod tests;
