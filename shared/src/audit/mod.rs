//! The audit log format shared by the proxy (which writes it) and `airlockctl audit` (which
//! verifies and queries it).
//!
//! One JSON object per line ([`AuditRecord`]), fields in a fixed order, ending with `prev` (the
//! previous record's hash) and `hash`. `hash` is the lower-case hex SHA-256 of the exact bytes of
//! the line with its `,"hash":"…"` member removed, so any byte edit is detected, and `prev` links
//! each record to the one before — across rotated files too. Secret-bearing values (tokens,
//! handles) appear only as keyed fingerprints ([`fingerprint`]). Because deleting the newest
//! lines leaves a valid chain, the proxy also writes signed checkpoints ([`checkpoint`]) and
//! `verify` accepts an external anchor.
//!
//! # Layout
//! - this file — the record types.
//! - [`chain`] — sealing a record into a line; verifying files ([`chain::Verifier`]).
//! - [`fingerprint`] — `hmac-sha256:` fingerprints of secret values.
//! - [`checkpoint`] — Ed25519-signed `(seq, hash)` checkpoints.
//! - [`files`] — file naming and rotation order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod chain;
pub mod checkpoint;
pub mod files;
pub mod fingerprint;

/// Appends the lower-case hex of `bytes` to `out` by table lookup (`hex::encode` goes through
/// a `char` iterator, which showed up in AcquireToken's profile: every fingerprint and every
/// chain hash is hex).
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// `prev` of the very first record of a log.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The caller's SPIFFE ID (from its verified certificate); for the proxy's own events, the
    /// proxy's ID; `null` when the peer presented no usable identity.
    pub spiffe_id: Option<String>,
    /// The role the policy gave it, if any.
    pub role: Option<String>,
    /// The peer's `ip:port`, if known.
    pub peer: Option<String>,
}

/// How a decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Allowed and done.
    Allowed,
    /// Refused (policy, handle, validation).
    Denied,
    /// Attempted and failed (Entra error, Exchange error, internal error).
    Error,
}

impl Outcome {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

/// An event before it is sealed into the chain: everything but `seq`, `ts`, `prev`, `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Event name, `noun.verb` (`token.issued`, `session.minted`, ...; see docs/audit-events.md).
    pub event: String,
    /// Who.
    pub actor: Actor,
    /// The connection concerned.
    pub connection_id: Option<String>,
    /// The orchestrator's job ID.
    pub job_id: Option<String>,
    /// The session.
    pub session_id: Option<String>,
    /// Cmdlets concerned (a handle's allow-list).
    pub cmdlets: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// Catalogue code (`HANDLE_EXPIRED`, ...) for denials and errors.
    pub reason: Option<String>,
    /// Fingerprints of secret values, by name (`token`, `handle`, `value`).
    pub fingerprints: BTreeMap<String, String>,
    /// Non-secret details (upstream IDs such as `aadsts_codes`, `trace_id`; counts).
    pub details: BTreeMap<String, String>,
}

impl AuditEvent {
    /// An event with no IDs, cmdlets, reason, fingerprints or details.
    pub fn new(event: impl Into<String>, actor: Actor, outcome: Outcome) -> Self {
        Self {
            event: event.into(),
            actor,
            connection_id: None,
            job_id: None,
            session_id: None,
            cmdlets: vec![],
            outcome,
            reason: None,
            fingerprints: BTreeMap::new(),
            details: BTreeMap::new(),
        }
    }
}

/// One line of the audit log, exactly as written (field order is the serialization order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the log, from 1, increasing by one per record across rotated files.
    pub seq: u64,
    /// UTC time with microseconds, RFC 3339 (`2026-11-26T04:35:00.123456Z`).
    pub ts: String,
    /// Event name.
    pub event: String,
    /// Who.
    pub actor: Actor,
    /// The connection concerned.
    pub connection_id: Option<String>,
    /// The orchestrator's job ID.
    pub job_id: Option<String>,
    /// The session.
    pub session_id: Option<String>,
    /// Cmdlets concerned.
    pub cmdlets: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// Catalogue code for denials and errors.
    pub reason: Option<String>,
    /// Fingerprints of secret values.
    pub fingerprints: BTreeMap<String, String>,
    /// Non-secret details.
    pub details: BTreeMap<String, String>,
    /// Hash of the previous record ([`GENESIS`] for the first).
    pub prev: String,
    /// This record's hash.
    pub hash: String,
}

/// Formats a time as the audit log does: UTC, microseconds, `Z`.
pub fn format_ts(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_hex_matches_the_hex_crate_for_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = String::from("x:");
        super::push_hex(&mut out, &all);
        assert_eq!(out, format!("x:{}", hex::encode(&all)));
        let mut empty = String::new();
        super::push_hex(&mut empty, &[]);
        assert_eq!(empty, "");
    }
}
