//! [`SessionVerifier`]: every check a presented handle must pass, in one place, plus the
//! cmdlet allow-list check. Errors are coarse on purpose: none says whether another session or
//! connection exists.

use std::sync::Arc;
use std::time::Duration;

use airlock_shared::identity::SpiffeId;
use airlock_shared::{AirlockError, ErrorCode};
use ring::signature::UnparsedPublicKey;
use time::OffsetDateTime;

use super::Revocations;
use super::handle::{self, Claims, FormatError};
use super::verified::VerifiedHandle;
use crate::store::{ConnectionRecord, StoreError, Vault};

/// Why a handle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Malformed, foreign, tampered or not yet valid.
    #[error("{0}")]
    Invalid(&'static str),
    /// Past its expiry (plus the clock-skew allowance).
    #[error("the handle has expired")]
    Expired,
    /// Revoked, or its connection was deleted.
    #[error("the handle was revoked")]
    Revoked,
    /// Bound to another worker.
    #[error("this worker may not redeem the handle")]
    WrongWorker,
    /// The store failed while checking.
    #[error("the store failed while checking the handle")]
    Store,
    /// The store stayed busy past the wait bound while checking (retry).
    #[error("the credential store is busy; retry shortly")]
    Busy,
    /// The cmdlet is not on the handle's allow-list.
    #[error("the cmdlet is not on the handle's allow-list")]
    CmdletNotAllowed,
}

impl HandleError {
    /// The catalogue error the caller gets.
    pub fn to_airlock(&self) -> AirlockError {
        let code = match self {
            Self::Invalid(_) => ErrorCode::HandleInvalid,
            Self::Expired => ErrorCode::HandleExpired,
            Self::Revoked => ErrorCode::HandleRevoked,
            Self::WrongWorker | Self::CmdletNotAllowed => ErrorCode::DeniedByPolicy,
            Self::Store => ErrorCode::Internal,
            Self::Busy => ErrorCode::Transient,
        };
        AirlockError::new(code, self.to_string())
    }
}

impl From<FormatError> for HandleError {
    fn from(e: FormatError) -> Self {
        Self::Invalid(match e {
            FormatError::Size => "the handle is empty or too long",
            FormatError::Malformed | FormatError::Claims => "the handle is malformed",
            FormatError::Signature => "the handle was not signed by this proxy",
        })
    }
}

/// A handle that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSession {
    /// Session ID.
    pub session_id: uuid::Uuid,
    /// Connection ID.
    pub connection_id: uuid::Uuid,
    /// Job ID.
    pub job_id: String,
    /// Allowed cmdlets, as minted.
    pub cmdlets: Vec<String>,
    /// Issue time.
    pub issue_time: OffsetDateTime,
    /// Expiry.
    pub expire_time: OffsetDateTime,
    /// The bound worker, if any.
    pub worker: Option<String>,
}

impl VerifiedSession {
    /// Whether the handle allows `cmdlet` (names compare case-insensitively, as PowerShell's).
    pub fn check_cmdlet(&self, cmdlet: &str) -> Result<(), HandleError> {
        if self.cmdlets.iter().any(|c| c.eq_ignore_ascii_case(cmdlet)) {
            Ok(())
        } else {
            Err(HandleError::CmdletNotAllowed)
        }
    }
}

/// A handle that passed every check, and its connection's metadata.
pub type Verified = (Arc<VerifiedHandle>, Arc<ConnectionRecord>);

/// Verifies handles signed with this proxy's key. Cheap to clone.
#[derive(Clone)]
pub struct SessionVerifier {
    public_key: Arc<UnparsedPublicKey<Vec<u8>>>,
    revocations: Revocations,
    vault: Vault,
    skew: Duration,
    verified: Arc<super::verified::VerifiedHandles>,
}

impl std::fmt::Debug for SessionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionVerifier")
            .field("skew", &self.skew)
            .finish_non_exhaustive()
    }
}

impl SessionVerifier {
    /// A verifier for handles signed by `public_key`, allowing `skew` of clock difference.
    pub fn new(
        public_key: UnparsedPublicKey<Vec<u8>>,
        revocations: Revocations,
        vault: Vault,
        skew: Duration,
    ) -> Self {
        Self {
            public_key: Arc::new(public_key),
            revocations,
            vault,
            skew,
            verified: Arc::default(),
        }
    }

    /// The signed session of `handle`: from the verified-handle cache, or by checking the
    /// signature and claims (and caching the result).
    pub fn authentic(&self, handle: &str) -> Result<Arc<VerifiedHandle>, HandleError> {
        if let Some(v) = self.verified.get(handle) {
            return Ok(v);
        }
        let claims = handle::verify(handle, &self.public_key)?;
        let verified = Arc::new(VerifiedHandle::new(session_of(claims)?));
        self.verified.insert(handle, &verified);
        Ok(verified)
    }

    /// Checks `handle` presented by `caller` at `now`: signature and form, worker binding,
    /// expiry, revocation, and that the connection still exists. Returns the session and the
    /// connection's metadata.
    pub async fn verify(
        &self,
        handle: &str,
        caller: Option<&SpiffeId>,
        now: OffsetDateTime,
    ) -> Result<Verified, (HandleError, Option<Arc<VerifiedHandle>>)> {
        let session = self.authentic(handle).map_err(|e| (e, None))?;
        let fail = |e: HandleError| (e, Some(Arc::clone(&session)));
        let skew = time::Duration::try_from(self.skew).unwrap_or(time::Duration::ZERO);
        if let Some(bound) = &session.worker
            && caller.map(SpiffeId::as_str) != Some(bound.as_str())
        {
            return Err(fail(HandleError::WrongWorker));
        }
        if now > session.expire_time + skew {
            return Err(fail(HandleError::Expired));
        }
        if session.issue_time > now + skew {
            return Err(fail(HandleError::Invalid("the handle is not valid yet")));
        }
        if self.revocations.is_revoked(session.session_id) {
            return Err(fail(HandleError::Revoked));
        }
        match self.vault.get_shared(session.connection_id).await {
            Ok(record) => Ok((session, record)),
            // Deleting a connection revokes its sessions.
            Err(StoreError::NotFound) => Err(fail(HandleError::Revoked)),
            Err(StoreError::Busy) => Err(fail(HandleError::Busy)),
            Err(e) => {
                tracing::error!(error = %e, "store failure while verifying a handle");
                Err(fail(HandleError::Store))
            }
        }
    }
}

/// The signed claims as typed values. A signed but ill-formed claim set is still invalid.
fn session_of(c: Claims) -> Result<VerifiedSession, HandleError> {
    let bad = HandleError::Invalid("the handle is malformed");
    let id = |s: &str| uuid::Uuid::try_parse(s).map_err(|_| bad.clone());
    let expire_time = OffsetDateTime::from_unix_timestamp(c.exp).map_err(|_| bad.clone())?;
    let issue_time = OffsetDateTime::from_unix_timestamp(c.iat).map_err(|_| bad.clone())?;
    if c.iat > c.exp || c.cmdlets.is_empty() {
        return Err(bad);
    }
    Ok(VerifiedSession {
        session_id: id(&c.sid)?,
        connection_id: id(&c.conn)?,
        job_id: c.job,
        cmdlets: c.cmdlets,
        issue_time,
        expire_time,
        worker: c.wrk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_is_case_insensitive_and_exact() {
        let now = OffsetDateTime::now_utc();
        let s = VerifiedSession {
            session_id: uuid::Uuid::new_v4(),
            connection_id: uuid::Uuid::new_v4(),
            job_id: "j".into(),
            cmdlets: vec!["Get-Mailbox".into(), "Set-Mailbox".into()],
            issue_time: now,
            expire_time: now,
            worker: None,
        };
        assert!(s.check_cmdlet("get-mailbox").is_ok());
        assert!(s.check_cmdlet("SET-MAILBOX").is_ok());
        for denied in [
            "Get-Mailbox2",
            "Get-Mailbo",
            "Remove-Mailbox",
            "",
            "Get-Mailbox ",
        ] {
            let e = s.check_cmdlet(denied).unwrap_err();
            assert_eq!(
                e.to_airlock().code(),
                ErrorCode::DeniedByPolicy,
                "{denied:?}"
            );
        }
    }
}
