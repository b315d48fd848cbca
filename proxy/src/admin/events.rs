//! The hook where part 2's audit log attaches: one [`AdminEvent`] per security-relevant
//! ConnectionAdmin call (create, update, rotate, delete, test), recorded **before** the caller
//! gets its answer. If recording fails, the call fails with that error (fail closed), so an
//! audit sink returns AUDIT_UNAVAILABLE within its own deadline.

use airlock_shared::identity::CallerIdentity;
use airlock_shared::{AirlockError, ErrorCode};
use futures::future::BoxFuture;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done as asked.
    Allowed,
    /// Refused (bad input, unknown connection).
    Denied,
    /// Failed on the proxy's side, or a TestConnection diagnosis.
    Error,
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
}

impl AdminEvent {
    /// The event for a finished call.
    pub fn new(
        event: &'static str,
        actor: Option<CallerIdentity>,
        connection_id: Option<uuid::Uuid>,
        error: Option<&AirlockError>,
    ) -> Self {
        let outcome = match error.map(AirlockError::code) {
            None => Outcome::Allowed,
            Some(ErrorCode::Internal | ErrorCode::Transient) => Outcome::Error,
            Some(_) => Outcome::Denied,
        };
        Self {
            event,
            actor,
            connection_id,
            outcome,
            reason: error.map(AirlockError::code),
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
