//! A cache of handles whose signature already verified, so a worker presenting the same handle
//! again costs a hash lookup instead of an Ed25519 verification. Only the signature result (and
//! the handle's audit fingerprint, derived from it) is cached: binding, expiry, revocation and
//! the connection are checked on every use.
//!
//! Entries are found by the handle's SHA-256 and confirmed by comparing the whole handle, so
//! the cache never answers for a different string. The comparison need not be constant-time:
//! input reaches it only when its SHA-256 equals a stored handle's, that is, only when it *is*
//! that handle, so its timing says nothing an attacker does not already hold. Only verified
//! handles enter the cache, so forged input cannot fill it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use ring::digest;

use super::VerifiedSession;

/// Most handles kept; when full the cache starts over (handles live minutes).
pub const MAX_ENTRIES: usize = 16_384;

/// A handle whose signature verified: its session, shared by every presentation of the
/// handle, and the handle's audit fingerprint once computed.
#[derive(Debug)]
pub struct VerifiedHandle {
    /// The signed session.
    pub session: VerifiedSession,
    fingerprint: OnceLock<String>,
}

impl VerifiedHandle {
    /// A handle's verified session.
    pub fn new(session: VerifiedSession) -> Self {
        Self {
            session,
            fingerprint: OnceLock::new(),
        }
    }

    /// The handle's audit fingerprint: `compute` (the audit log's keyed HMAC of the handle)
    /// runs on first use only.
    pub fn fingerprint(&self, compute: impl FnOnce() -> String) -> &str {
        self.fingerprint.get_or_init(compute)
    }
}

impl std::ops::Deref for VerifiedHandle {
    type Target = VerifiedSession;

    fn deref(&self) -> &VerifiedSession {
        &self.session
    }
}

/// SHA-256 of a handle → the handle and its verified session.
type Entries = HashMap<[u8; 32], (Box<str>, Arc<VerifiedHandle>)>;

/// The cache.
#[derive(Default)]
pub struct VerifiedHandles {
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for VerifiedHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedHandles")
            .field("entries", &self.entries.lock().len())
            .finish()
    }
}

fn key(handle: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(digest::digest(&digest::SHA256, handle.as_bytes()).as_ref());
    k
}

impl VerifiedHandles {
    /// The verified session of `handle` if its signature verified before.
    pub fn get(&self, handle: &str) -> Option<Arc<VerifiedHandle>> {
        let k = key(handle);
        let entries = self.entries.lock();
        let (stored, verified) = entries.get(&k)?;
        (**stored == *handle).then(|| Arc::clone(verified))
    }

    /// Remembers a handle whose signature verified.
    pub fn insert(&self, handle: &str, verified: &Arc<VerifiedHandle>) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key(handle), (handle.into(), Arc::clone(verified)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> VerifiedSession {
        let now = time::OffsetDateTime::now_utc();
        VerifiedSession {
            session_id: uuid::Uuid::new_v4(),
            connection_id: uuid::Uuid::new_v4(),
            job_id: "j".into(),
            cmdlets: vec!["Get-Mailbox".into()],
            issue_time: now,
            expire_time: now,
            worker: None,
        }
    }

    #[test]
    fn answers_only_for_the_exact_handle_and_stays_bounded() {
        let c = VerifiedHandles::default();
        let s = session();
        c.insert("a.b.c", &Arc::new(VerifiedHandle::new(s.clone())));
        assert_eq!(c.get("a.b.c").map(|v| v.session.clone()), Some(s));
        assert!(c.get("a.b.d").is_none());
        assert!(c.get("a.b.c ").is_none());
        assert!(c.get("a.b.").is_none());
        for i in 0..MAX_ENTRIES + 1 {
            c.insert(&format!("h{i}"), &Arc::new(VerifiedHandle::new(session())));
        }
        assert!(c.entries.lock().len() <= MAX_ENTRIES);
    }

    #[test]
    fn the_fingerprint_is_computed_once_per_verified_handle() {
        let c = VerifiedHandles::default();
        c.insert("a.b.c", &Arc::new(VerifiedHandle::new(session())));
        let calls = std::cell::Cell::new(0);
        let compute = || {
            calls.set(calls.get() + 1);
            "hmac-sha256:00".to_owned()
        };
        let first = c.get("a.b.c").unwrap();
        assert_eq!(first.fingerprint(compute), "hmac-sha256:00");
        let again = c.get("a.b.c").unwrap();
        assert_eq!(again.fingerprint(compute), "hmac-sha256:00");
        assert_eq!(calls.get(), 1);
    }
}
