//! The hook the audit log attaches to: one [`AdminEvent`] per security-relevant
//! ConnectionAdmin call (create, update, rotate, delete, test), recorded **before** the caller
//! gets its answer. A change to the store is recorded inside its transaction, before the
//! commit ([`crate::store::Gate`]): if recording fails the change is rolled back and the call
//! fails with that error (AUDIT_UNAVAILABLE within the log's deadline). Refusals change nothing
//! and are recorded before the refusal is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use airlock_shared::identity::CallerIdentity;
use airlock_shared::{AirlockError, ErrorCode};
use futures::future::BoxFuture;
use tonic::{Response, Status};

use super::convert::AdminError;
use crate::store::Gate;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done as asked.
    Allowed,
    /// Refused (bad input, unknown connection).
    Denied,
    /// Attempted and failed: on the proxy's side (store, audit) or upstream (Entra ID or
    /// Exchange unavailable, throttled or timed out), as [`crate::audit::record::outcome_of`]
    /// decides.
    Error,
}

impl From<airlock_shared::audit::Outcome> for Outcome {
    fn from(o: airlock_shared::audit::Outcome) -> Self {
        match o {
            airlock_shared::audit::Outcome::Allowed => Self::Allowed,
            airlock_shared::audit::Outcome::Denied => Self::Denied,
            airlock_shared::audit::Outcome::Error => Self::Error,
        }
    }
}

/// One ConnectionAdmin decision. Never carries a secret, key or token.
#[derive(Debug, Clone)]
pub struct AdminEvent {
    /// `connection.create`, `connection.update`, `connection.rotate`, `connection.delete`,
    /// `connection.test`.
    pub event: &'static str,
    /// Who called (absent only when the service is used in-process without the server).
    pub actor: Option<CallerIdentity>,
    /// The connection concerned, when known.
    pub connection_id: Option<uuid::Uuid>,
    /// The outcome.
    pub outcome: Outcome,
    /// The catalogue code of a refusal, failure or failed test.
    pub reason: Option<ErrorCode>,
    /// Sessions revoked by a connection delete.
    pub revoked_sessions: Option<u64>,
}

impl AdminEvent {
    /// The event for a finished call.
    pub fn new(
        event: &'static str,
        actor: Option<CallerIdentity>,
        connection_id: Option<uuid::Uuid>,
        error: Option<&AirlockError>,
    ) -> Self {
        // The one mapping every audit event uses (`token.error`, `session.revoked`, ...).
        let outcome = error.map_or(Outcome::Allowed, |e| {
            crate::audit::record::outcome_of(e.code()).into()
        });
        Self {
            event,
            actor,
            connection_id,
            outcome,
            reason: error.map(AirlockError::code),
            revoked_sessions: None,
        }
    }
}

/// Receives admin events. Part 2's audit log implements it.
pub trait AdminEvents: Send + Sync + 'static {
    /// Records `event`; an error fails the call with it.
    fn record(&self, event: AdminEvent) -> BoxFuture<'_, Result<(), AirlockError>>;
}

/// Logs events as structured lines (the default until the audit log exists).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogEvents;

impl AdminEvents for LogEvents {
    fn record(&self, e: AdminEvent) -> BoxFuture<'_, Result<(), AirlockError>> {
        Box::pin(async move {
            tracing::info!(
                event = e.event,
                peer.spiffe_id = e.actor.as_ref().map(|a| a.spiffe_id.to_string()).unwrap_or_default(),
                connection.id = e.connection_id.map(|c| c.to_string()).unwrap_or_default(),
                outcome = ?e.outcome,
                reason = e.reason.map(|r| r.reason()).unwrap_or_default(),
                "admin event"
            );
            Ok(())
        })
    }
}

/// Records exactly one event for one call: inside the store transaction when the call changes
/// the store ([`Recorder::gate`]), otherwise just before the answer ([`Recorder::answer`]).
pub struct Recorder {
    events: Arc<dyn AdminEvents>,
    event: &'static str,
    actor: Option<CallerIdentity>,
    gated: Arc<AtomicBool>,
}

impl Recorder {
    /// A recorder for one call.
    pub fn new(
        events: Arc<dyn AdminEvents>,
        event: &'static str,
        actor: Option<CallerIdentity>,
    ) -> Self {
        Self {
            events,
            event,
            actor,
            gated: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The commit gate for a change of `connection_id`: records the allowed event; a failure
    /// rolls the change back.
    pub fn gate(&self, connection_id: uuid::Uuid) -> Gate {
        let events = self.events.clone();
        let gated = self.gated.clone();
        let mut event = AdminEvent::new(self.event, self.actor.clone(), Some(connection_id), None);
        Box::new(move |revoked| {
            Box::pin(async move {
                gated.store(true, Ordering::SeqCst);
                if event.event == crate::audit::names::CONNECTION_DELETE {
                    event.revoked_sessions = Some(revoked);
                }
                events.record(event).await
            })
        })
    }

    /// Answers the call, recording its event first unless the gate already did (fail closed).
    pub async fn answer<T>(
        &self,
        id: Option<uuid::Uuid>,
        result: Result<T, AdminError>,
        diagnosis: Option<&AirlockError>,
    ) -> Result<Response<T>, Status> {
        let result = result.map_err(|e| e.to_airlock());
        if !self.gated.load(Ordering::SeqCst) {
            let err = match &result {
                Ok(_) => diagnosis,
                Err(e) => Some(e),
            };
            let ev = AdminEvent::new(self.event, self.actor.clone(), id, err);
            self.events.record(ev).await.map_err(|e| e.to_status())?;
        }
        result.map(Response::new).map_err(|e| e.to_status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `connection.test` and the other admin events classify a catalogue code exactly as
    /// every other audit event does (`record::outcome_of`): THROTTLED and TIMEOUT are `error`.
    #[test]
    fn outcome_matches_the_audit_mapping_for_every_code() {
        for code in airlock_shared::catalogue::all_codes() {
            let err = AirlockError::bare(code);
            let ev = AdminEvent::new(crate::audit::names::CONNECTION_TEST, None, None, Some(&err));
            let want: Outcome = crate::audit::record::outcome_of(code).into();
            assert_eq!(ev.outcome, want, "{code:?}");
            assert_eq!(ev.reason, Some(code));
        }
        for code in [ErrorCode::Throttled, ErrorCode::Timeout] {
            let err = AirlockError::bare(code);
            let ev = AdminEvent::new(crate::audit::names::CONNECTION_TEST, None, None, Some(&err));
            assert_eq!(ev.outcome, Outcome::Error, "{code:?}");
        }
        let ok = AdminEvent::new(crate::audit::names::CONNECTION_TEST, None, None, None);
        assert_eq!((ok.outcome, ok.reason), (Outcome::Allowed, None));
    }
}
