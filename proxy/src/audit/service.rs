//! AuditService (admin role): `AuditHash`, the fingerprint of a known value, so an investigator
//! can search the log for a token or handle without the log ever holding it.

use airlock_proto as pb;
use airlock_proto::audit_service_server::AuditService;
use airlock_shared::audit::{AuditEvent, Outcome};
use airlock_shared::identity::CallerIdentity;
use airlock_shared::{AirlockError, ErrorCode};
use tonic::{Request, Response, Status};
use zeroize::Zeroize as _;

use super::{AuditLog, names, record};

/// Longest value AuditHash fingerprints, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

/// The service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditHashService {
    log: AuditLog,
}

impl AuditHashService {
    /// A service fingerprinting with `log`'s key.
    pub fn new(log: AuditLog) -> Self {
        Self { log }
    }
}

#[tonic::async_trait]
impl AuditService for AuditHashService {
    async fn audit_hash(
        &self,
        r: Request<pb::AuditHashRequest>,
    ) -> Result<Response<pb::AuditHashResponse>, Status> {
        let actor = record::actor(CallerIdentity::of(&r));
        let mut value = r.into_inner().value;
        if value.is_empty() || value.len() > MAX_VALUE_BYTES {
            value.zeroize();
            let err =
                AirlockError::new(ErrorCode::InvalidArgument, "value must be 1 to 16384 bytes")
                    .with_metadata("field", "value");
            let ev = record::failure(names::AUDIT_HASH, actor, &err);
            self.log
                .append(ev)
                .await
                .map_err(|e| e.to_airlock().to_status())?;
            return Err(err.to_status());
        }
        let fingerprint = self.log.fingerprint(value.as_bytes());
        value.zeroize();
        let mut ev = AuditEvent::new(names::AUDIT_HASH, actor, Outcome::Allowed);
        ev.fingerprints.insert("value".into(), fingerprint.clone());
        self.log
            .append(ev)
            .await
            .map_err(|e| e.to_airlock().to_status())?;
        Ok(Response::new(pb::AuditHashResponse { fingerprint }))
    }
}
