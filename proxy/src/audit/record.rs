//! Turning the proxy's decisions into [`AuditEvent`]s: the actor of a caller, the outcome of a
//! catalogue error, the ConnectionAdmin hook ([`crate::admin::events::AdminEvents`]) and the
//! authorization layer's observer ([`AuditObserver`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use airlock_shared::audit::{Actor, AuditEvent, Outcome};
use airlock_shared::authz::AccessObserver;
use airlock_shared::identity::{CallerIdentity, SpiffeId};
use airlock_shared::{AirlockError, ErrorCode};
use futures::future::BoxFuture;

use super::{AuditLog, names};
use crate::admin::events::{AdminEvent, AdminEvents, Outcome as AdminOutcome};

/// The actor of an authorized caller (empty when called in-process).
pub fn actor(caller: Option<&CallerIdentity>) -> Actor {
    caller.map_or_else(Actor::default, |c| Actor {
        spiffe_id: Some(c.spiffe_id.to_string()),
        role: Some(c.role.clone()),
        peer: c.peer_addr.map(|a| a.to_string()),
    })
}

/// The outcome recorded for a refusal or failure with `code`: proxy-side and upstream
/// failures are `error`, everything the caller could have avoided is `denied`.
pub fn outcome_of(code: ErrorCode) -> Outcome {
    match code {
        ErrorCode::Internal
        | ErrorCode::Transient
        | ErrorCode::AuditUnavailable
        | ErrorCode::Throttled
        | ErrorCode::Timeout => Outcome::Error,
        _ => Outcome::Denied,
    }
}

/// An event for a refusal or failure.
pub fn failure(event: &str, actor: Actor, err: &AirlockError) -> AuditEvent {
    let mut e = AuditEvent::new(event, actor, outcome_of(err.code()));
    e.reason = Some(err.code().reason().to_owned());
    e
}

impl AdminEvents for AuditLog {
    fn record(&self, e: AdminEvent) -> BoxFuture<'_, Result<(), AirlockError>> {
        let outcome = match e.outcome {
            AdminOutcome::Allowed => Outcome::Allowed,
            AdminOutcome::Denied => Outcome::Denied,
            AdminOutcome::Error => Outcome::Error,
        };
        let mut ev = AuditEvent::new(e.event, actor(e.actor.as_ref()), outcome);
        ev.connection_id = e.connection_id.map(|c| c.to_string());
        ev.reason = e.reason.map(|r| r.reason().to_owned());
        if let Some(n) = e.revoked_sessions {
            ev.details.insert("revoked_sessions".into(), n.to_string());
        }
        Box::pin(async move {
            self.append(ev)
                .await
                .map(|_| ())
                .map_err(|e| e.to_airlock())
        })
    }
}

/// Audits the authorization layer's refusals: policy denials before the refusal is sent,
/// handshake failures in the background (there is no caller to answer). Handshake failures are
/// rate-limited ([`HANDSHAKE_EVENTS_PER_SEC`]) so a flood of bad connections cannot fill the
/// audit log or starve real events; the next recorded failure says how many were suppressed.
#[derive(Debug, Clone)]
pub struct AuditObserver {
    log: AuditLog,
    handshakes: Arc<Mutex<HandshakeWindow>>,
}

/// Most `tls.handshake_failed` events recorded per second.
pub const HANDSHAKE_EVENTS_PER_SEC: u32 = 50;

#[derive(Debug)]
struct HandshakeWindow {
    start: Instant,
    recorded: u32,
    suppressed: u64,
}

impl HandshakeWindow {
    /// `Some(suppressed since the last recorded event)` when this failure should be recorded.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        if now.duration_since(self.start) >= Duration::from_secs(1) {
            self.start = now;
            self.recorded = 0;
        }
        if self.recorded >= HANDSHAKE_EVENTS_PER_SEC {
            self.suppressed += 1;
            return None;
        }
        self.recorded += 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}

impl AuditObserver {
    /// An observer appending to `log`.
    pub fn new(log: AuditLog) -> Self {
        let window = HandshakeWindow {
            start: Instant::now(),
            recorded: 0,
            suppressed: 0,
        };
        Self {
            log,
            handshakes: Arc::new(Mutex::new(window)),
        }
    }
}

impl AccessObserver for AuditObserver {
    fn denied(
        &self,
        caller: &SpiffeId,
        roles: &[String],
        method: &str,
        peer: Option<SocketAddr>,
    ) -> BoxFuture<'static, ()> {
        let actor = Actor {
            spiffe_id: Some(caller.to_string()),
            role: (!roles.is_empty()).then(|| roles.join(",")),
            peer: peer.map(|p| p.to_string()),
        };
        let mut ev = AuditEvent::new(names::ACCESS_DENIED, actor, Outcome::Denied);
        ev.reason = Some(ErrorCode::DeniedByPolicy.reason().to_owned());
        ev.details.insert("method".into(), truncate(method, 256));
        let log = self.log.clone();
        Box::pin(async move {
            // The caller is refused either way; a failed append is logged, never hidden.
            if let Err(e) = log.append(ev).await {
                tracing::error!(error = %e, "could not audit a policy denial");
            }
        })
    }

    fn handshake_failed(&self, peer: SocketAddr, reason: &str) {
        let Some(suppressed) = self.handshakes.lock().admit(Instant::now()) else {
            return;
        };
        let actor = Actor {
            peer: Some(peer.to_string()),
            ..Actor::default()
        };
        let mut ev = AuditEvent::new(names::TLS_HANDSHAKE_FAILED, actor, Outcome::Denied);
        ev.reason = Some(ErrorCode::DeniedByPolicy.reason().to_owned());
        ev.details.insert("why".into(), truncate(reason, 256));
        if suppressed > 0 {
            ev.details
                .insert("suppressed_before".into(), suppressed.to_string());
        }
        let log = self.log.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = log.append(ev).await {
                    tracing::error!(error = %e, "could not audit a failed handshake");
                }
            });
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_failures_are_rate_limited_and_the_gap_is_reported() {
        let t0 = Instant::now();
        let mut w = HandshakeWindow {
            start: t0,
            recorded: 0,
            suppressed: 0,
        };
        for _ in 0..HANDSHAKE_EVENTS_PER_SEC {
            assert_eq!(w.admit(t0), Some(0));
        }
        assert_eq!(w.admit(t0), None);
        assert_eq!(w.admit(t0 + Duration::from_millis(500)), None);
        // A new second: recorded again, carrying the count of what was dropped.
        assert_eq!(w.admit(t0 + Duration::from_secs(1)), Some(2));
        assert_eq!(w.admit(t0 + Duration::from_secs(1)), Some(0));
    }
}
