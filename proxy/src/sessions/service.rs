//! SessionBroker (orchestrator role): MintSession and RevokeSession. Each call writes one
//! audit event before it answers; a minted handle is returned only once its event is written.

use std::sync::Arc;
use std::time::Duration;

use airlock_proto as pb;
use airlock_proto::session_broker_service_server::SessionBrokerService;
use airlock_shared::audit::{AuditEvent, Outcome};
use airlock_shared::identity::{CallerIdentity, SpiffeId};
use airlock_shared::{AirlockError, ErrorCode};
use ring::signature::Ed25519KeyPair;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::Revocations;
use super::handle::{self, Claims};
use crate::audit::{AuditLog, names, record};
use crate::store::{SessionRow, StoreError, Vault};

/// Most cmdlets on one handle.
pub const MAX_CMDLETS: usize = 64;
/// Longest job ID.
pub const MAX_JOB_ID: usize = 128;

/// TTL limits.
#[derive(Debug, Clone, Copy)]
pub struct TtlPolicy {
    /// TTL when the request sets none.
    pub default: Duration,
    /// Longest TTL allowed.
    pub max: Duration,
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct SessionBroker {
    key: Arc<Ed25519KeyPair>,
    vault: Vault,
    revocations: Revocations,
    audit: AuditLog,
    ttl: TtlPolicy,
}

impl std::fmt::Debug for SessionBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBroker")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A validated MintSession request.
struct Mint {
    connection_id: uuid::Uuid,
    job_id: String,
    cmdlets: Vec<String>,
    ttl: Duration,
    worker: Option<String>,
}

fn invalid(field: &str, why: &str) -> AirlockError {
    AirlockError::new(ErrorCode::InvalidArgument, format!("{field}: {why}"))
        .with_metadata("field", field)
}

fn valid_cmdlet(c: &str) -> bool {
    let Some((verb, noun)) = c.split_once('-') else {
        return false;
    };
    c.len() <= 64
        && !verb.is_empty()
        && !noun.is_empty()
        && verb.bytes().all(|b| b.is_ascii_alphabetic())
        && noun.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The refusal for a mint whose signed handle would exceed [`handle::MAX_HANDLE_BYTES`],
/// naming the field that contributes most as the one to shorten.
fn too_long(m: &Mint, len: usize) -> AirlockError {
    let cmdlets: usize = m.cmdlets.iter().map(String::len).sum();
    let worker = m.worker.as_ref().map_or(0, String::len);
    let field = if cmdlets >= m.job_id.len().max(worker) {
        "allowed_cmdlets"
    } else if worker >= m.job_id.len() {
        "worker_spiffe_id"
    } else {
        "job_id"
    };
    invalid(
        field,
        &format!(
            "the signed handle would be {len} bytes, over the {}-byte limit: use fewer or shorter allowed_cmdlets, or a shorter job_id or worker_spiffe_id",
            handle::MAX_HANDLE_BYTES
        ),
    )
}

impl SessionBroker {
    /// A broker signing with `key` (the store's session-signing key).
    pub fn new(
        key: Arc<Ed25519KeyPair>,
        vault: Vault,
        revocations: Revocations,
        audit: AuditLog,
        ttl: TtlPolicy,
    ) -> Self {
        Self {
            key,
            vault,
            revocations,
            audit,
            ttl,
        }
    }

    async fn validate(&self, r: pb::MintSessionRequest) -> Result<Mint, AirlockError> {
        let connection_id = uuid::Uuid::try_parse(&r.connection_id)
            .map_err(|_| invalid("connection_id", "must be a connection ID (UUID)"))?;
        match self.vault.get(connection_id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(invalid("connection_id", "no such connection"));
            }
            Err(e) => return Err(e.to_airlock()),
        }
        let job_ok = |b: u8| b.is_ascii_alphanumeric() || b"._:-".contains(&b);
        if r.job_id.is_empty() || r.job_id.len() > MAX_JOB_ID || !r.job_id.bytes().all(job_ok) {
            return Err(invalid(
                "job_id",
                "1 to 128 characters from A-Z a-z 0-9 . _ : -",
            ));
        }
        if r.allowed_cmdlets.is_empty() || r.allowed_cmdlets.len() > MAX_CMDLETS {
            return Err(invalid("allowed_cmdlets", "1 to 64 cmdlet names"));
        }
        if let Some(bad) = r.allowed_cmdlets.iter().position(|c| !valid_cmdlet(c)) {
            return Err(invalid(
                "allowed_cmdlets",
                &format!("entry {bad} is not a Verb-Noun cmdlet name"),
            ));
        }
        let ttl = self.ttl_of(r.ttl)?;
        let worker = match r.worker_spiffe_id.as_str() {
            "" => None,
            w => Some(
                SpiffeId::parse(w)
                    .map_err(|e| invalid("worker_spiffe_id", &e.to_string()))?
                    .to_string(),
            ),
        };
        Ok(Mint {
            connection_id,
            job_id: r.job_id,
            cmdlets: r.allowed_cmdlets,
            ttl,
            worker,
        })
    }

    fn ttl_of(&self, ttl: Option<prost_types::Duration>) -> Result<Duration, AirlockError> {
        let Some(d) = ttl else {
            return Ok(self.ttl.default);
        };
        let secs = u64::try_from(d.seconds).unwrap_or(0);
        let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000);
        let exact = nanos.map(|n| Duration::new(secs, n));
        if secs < 1 || exact.is_none_or(|t| t > self.ttl.max) {
            return Err(invalid(
                "ttl",
                &format!(
                    "must be 1 s to {} s (nanos 0 to 999999999)",
                    self.ttl.max.as_secs()
                ),
            ));
        }
        // Handles carry whole seconds: a fraction is dropped.
        Ok(Duration::from_secs(secs))
    }

    /// Signs the handle and records the session (not yet audited).
    async fn mint(&self, m: &Mint) -> Result<(Claims, String), AirlockError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sid: uuid::Uuid::new_v4().to_string(),
            conn: m.connection_id.to_string(),
            job: m.job_id.clone(),
            cmdlets: m.cmdlets.clone(),
            iat: now,
            exp: now + m.ttl.as_secs() as i64,
            wrk: m.worker.clone(),
        };
        let handle = handle::sign(&claims, &self.key);
        // Every field is within its own limit, but together they can make a handle that
        // AcquireToken refuses as too long: refuse it here, before any session is recorded.
        if handle.len() > handle::MAX_HANDLE_BYTES {
            return Err(too_long(m, handle.len()));
        }
        let row = SessionRow {
            id: uuid::Uuid::try_parse(&claims.sid)
                .map_err(|e| AirlockError::new(ErrorCode::Internal, e.to_string()))?,
            connection_id: m.connection_id,
            job_id: m.job_id.clone(),
            expire_time: claims.exp,
        };
        self.vault
            .insert_session(row)
            .await
            .map_err(|e| e.to_airlock())?;
        Ok((claims, handle))
    }
}

fn audit_err(e: &crate::audit::AuditError) -> Status {
    e.to_airlock().to_status()
}

#[tonic::async_trait]
impl SessionBrokerService for SessionBroker {
    async fn mint_session(
        &self,
        r: Request<pb::MintSessionRequest>,
    ) -> Result<Response<pb::MintSessionResponse>, Status> {
        let actor = record::actor(CallerIdentity::of(&r));
        let req = r.into_inner();
        let job = req.job_id.clone();
        let minted = match self.validate(req).await {
            Ok(m) => self.mint(&m).await.map(|x| (m, x)),
            Err(e) => Err(e),
        };
        let (m, (claims, handle)) = match minted {
            Ok(v) => v,
            Err(err) => {
                let mut ev = record::failure(names::SESSION_MINTED, actor, &err);
                ev.job_id = (!job.is_empty() && job.len() <= MAX_JOB_ID).then_some(job);
                self.audit.append(ev).await.map_err(|e| audit_err(&e))?;
                return Err(err.to_status());
            }
        };
        let mut ev = AuditEvent::new(names::SESSION_MINTED, actor, Outcome::Allowed);
        ev.connection_id = Some(claims.conn.clone());
        ev.job_id = Some(claims.job.clone());
        ev.session_id = Some(claims.sid.clone());
        ev.cmdlets = claims.cmdlets.clone();
        ev.fingerprints
            .insert("handle".into(), self.audit.fingerprint(handle.as_bytes()));
        ev.details
            .insert("ttl_secs".into(), m.ttl.as_secs().to_string());
        if let Some(w) = &claims.wrk {
            ev.details.insert("worker".into(), w.clone());
        }
        self.audit.append(ev).await.map_err(|e| audit_err(&e))?;
        let expire = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|e| AirlockError::new(ErrorCode::Internal, e.to_string()).to_status())?;
        Ok(Response::new(pb::MintSessionResponse {
            session_id: claims.sid,
            handle,
            expire_time: Some(crate::admin::convert::timestamp(expire)),
        }))
    }

    async fn revoke_session(
        &self,
        r: Request<pb::RevokeSessionRequest>,
    ) -> Result<Response<pb::RevokeSessionResponse>, Status> {
        let actor = record::actor(CallerIdentity::of(&r));
        let Ok(id) = uuid::Uuid::try_parse(&r.get_ref().session_id) else {
            let err = invalid("session_id", "must be a session ID (UUID)");
            let ev = record::failure(names::SESSION_REVOKED, actor, &err);
            self.audit.append(ev).await.map_err(|e| audit_err(&e))?;
            return Err(err.to_status());
        };
        let audit = self.audit.clone();
        let gate_actor = actor.clone();
        let gate: crate::store::Gate = Box::new(move |n| {
            Box::pin(async move {
                let mut ev = AuditEvent::new(names::SESSION_REVOKED, gate_actor, Outcome::Allowed);
                ev.session_id = Some(id.to_string());
                ev.details.insert("revoked".into(), (n > 0).to_string());
                audit
                    .append(ev)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_airlock())
            })
        });
        let err = match self.revocations.revoke(id, gate).await {
            Ok(revoked) => return Ok(Response::new(pb::RevokeSessionResponse { revoked })),
            // Its event was the one that could not be written.
            Err(StoreError::Gate(e)) => return Err(e.to_status()),
            Err(e) => e.to_airlock(),
        };
        // Nothing was revoked; the refusal is audited like every other.
        let mut ev = record::failure(names::SESSION_REVOKED, actor, &err);
        ev.session_id = Some(id.to_string());
        self.audit.append(ev).await.map_err(|e| audit_err(&e))?;
        Err(err.to_status())
    }
}
