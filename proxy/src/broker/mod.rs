//! TokenBroker (worker role): AcquireToken trades a session handle for the connection's
//! cached access token. The handle is checked by [`SessionVerifier`] (the one place for
//! handle checks); every answer, granted or refused, is preceded by exactly one audit event
//! (`token.issued`, `token.denied`, `token.error`). Tokens and handles appear in the log only
//! as fingerprints.

use std::sync::Arc;

use airlock_proto as pb;
use airlock_proto::token_broker_service_server::TokenBrokerService;
use airlock_shared::AirlockError;
use airlock_shared::audit::{Actor, AuditEvent, Outcome};
use airlock_shared::identity::CallerIdentity;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::admin::convert::timestamp;
use crate::audit::{AuditLog, names, record};
use crate::sessions::handle::MAX_HANDLE_BYTES;
use crate::sessions::verified::VerifiedHandle;
use crate::sessions::{HandleError, SessionVerifier};
use crate::tokens::TokenCache;

/// The service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenBroker {
    verifier: SessionVerifier,
    tokens: Arc<TokenCache>,
    audit: AuditLog,
}

impl TokenBroker {
    /// A broker checking handles with `verifier` and handing out tokens from `tokens`.
    pub fn new(verifier: SessionVerifier, tokens: Arc<TokenCache>, audit: AuditLog) -> Self {
        Self {
            verifier,
            tokens,
            audit,
        }
    }

    /// The event for `session` (IDs only from a handle whose signature verified).
    fn event(
        &self,
        name: &str,
        actor: Actor,
        outcome: Outcome,
        handle: &str,
        session: Option<&VerifiedHandle>,
    ) -> AuditEvent {
        let mut ev = AuditEvent::new(name, actor, outcome);
        let fingerprint = || self.audit.fingerprint(handle.as_bytes());
        if let Some(s) = session {
            ev.connection_id = Some(s.connection_id.to_string());
            ev.job_id = Some(s.job_id.clone());
            ev.session_id = Some(s.session_id.to_string());
            ev.cmdlets = s.cmdlets.clone();
            // Verified handles are within MAX_HANDLE_BYTES; the fingerprint is kept with them.
            ev.fingerprints
                .insert("handle".into(), s.fingerprint(fingerprint).to_owned());
        } else if handle.len() <= MAX_HANDLE_BYTES {
            ev.fingerprints.insert("handle".into(), fingerprint());
        } else {
            ev.details
                .insert("handle_bytes".into(), handle.len().to_string());
        }
        ev
    }

    /// Refuses the handle: one `token.denied` event with the refusal's reason, then the
    /// refusal.
    async fn deny(
        &self,
        actor: Actor,
        handle: &str,
        session: Option<&VerifiedHandle>,
        e: HandleError,
    ) -> Status {
        let err = e.to_airlock();
        let outcome = record::outcome_of(err.code());
        let ev = self.event(names::TOKEN_DENIED, actor, outcome, handle, session);
        self.refuse(ev, err).await
    }

    /// Audits a refusal, then returns it (or AUDIT_UNAVAILABLE if it cannot be audited).
    async fn refuse(&self, mut ev: AuditEvent, err: AirlockError) -> Status {
        ev.reason = Some(err.code().reason().to_owned());
        match self.audit.append(ev).await {
            Ok(_) => err.to_status(),
            Err(e) => e.to_airlock().to_status(),
        }
    }
}

#[tonic::async_trait]
impl TokenBrokerService for TokenBroker {
    async fn acquire_token(
        &self,
        r: Request<pb::AcquireTokenRequest>,
    ) -> Result<Response<pb::AcquireTokenResponse>, Status> {
        let caller = CallerIdentity::of(&r).map(|c| c.spiffe_id.clone());
        let actor = record::actor(CallerIdentity::of(&r));
        let handle = r.into_inner().handle;
        let now = OffsetDateTime::now_utc();
        let (session, conn) = match self.verifier.verify(&handle, caller.as_ref(), now).await {
            Ok(v) => v,
            Err((e, session)) => {
                return Err(self.deny(actor, &handle, session.as_deref(), e).await);
            }
        };
        let token = match self.tokens.get(session.connection_id).await {
            Ok(t) => t,
            // Deleted after the handle was checked: refused like any handle of a deleted
            // connection (token.denied HANDLE_REVOKED), not reported as an Entra error.
            Err(err) if err.code() == airlock_shared::ErrorCode::ConnectionNotFound => {
                let e = HandleError::Revoked;
                return Err(self.deny(actor, &handle, Some(&*session), e).await);
            }
            Err(err) => {
                let mut ev = self.event(
                    names::TOKEN_ERROR,
                    actor,
                    Outcome::Error,
                    &handle,
                    Some(&*session),
                );
                for (k, v) in err.metadata() {
                    ev.details.insert(k.clone(), v.clone());
                }
                return Err(self.refuse(ev, err).await);
            }
        };
        let mut ev = self.event(
            names::TOKEN_ISSUED,
            actor,
            Outcome::Allowed,
            &handle,
            Some(&*session),
        );
        let fingerprint = token.fingerprint(|value| self.audit.fingerprint(value));
        ev.fingerprints
            .insert("token".into(), fingerprint.to_owned());
        self.audit
            .append(ev)
            .await
            .map_err(|e| e.to_airlock().to_status())?;
        Ok(Response::new(pb::AcquireTokenResponse {
            access_token: token.value.expose_secret().to_owned(),
            expire_time: Some(timestamp(token.expires_at_utc)),
            tenant_id: conn.tenant_id.clone(),
            organization: conn.organization.clone(),
            exchange_endpoint: conn.exchange_host.clone(),
            allowed_cmdlets: session.cmdlets.clone(),
            session_id: session.session_id.to_string(),
            job_id: session.job_id.clone(),
            connection_id: session.connection_id.to_string(),
        }))
    }
}
