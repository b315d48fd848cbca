//! A cache of handles whose signature already verified, so a worker presenting the same handle
//! again costs a hash lookup instead of an Ed25519 verification. Only the signature result is
//! cached: binding, expiry, revocation and the connection are checked on every use.
//!
//! Entries are found by the handle's SHA-256 and confirmed with a constant-time comparison of
//! the whole handle, so the cache never answers for a different string and its timing reveals
//! nothing about stored handles. Only verified handles enter it, so forged input cannot fill it.

use std::collections::HashMap;

use parking_lot::Mutex;
use ring::digest;
use subtle::ConstantTimeEq as _;

use super::VerifiedSession;

/// Most handles kept; when full the cache starts over (handles live minutes).
pub const MAX_ENTRIES: usize = 16_384;

/// SHA-256 of a handle → the handle and its session.
type Entries = HashMap<[u8; 32], (Box<str>, VerifiedSession)>;

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
    /// The session of `handle` if its signature verified before.
    pub fn get(&self, handle: &str) -> Option<VerifiedSession> {
        let k = key(handle);
        let entries = self.entries.lock();
        let (stored, session) = entries.get(&k)?;
        let same =
            stored.len() == handle.len() && bool::from(stored.as_bytes().ct_eq(handle.as_bytes()));
        same.then(|| session.clone())
    }

    /// Remembers a handle whose signature verified.
    pub fn insert(&self, handle: &str, session: &VerifiedSession) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key(handle), (handle.into(), session.clone()));
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
        c.insert("a.b.c", &s);
        assert_eq!(c.get("a.b.c"), Some(s));
        assert_eq!(c.get("a.b.d"), None);
        assert_eq!(c.get("a.b.c "), None);
        for i in 0..MAX_ENTRIES + 1 {
            c.insert(&format!("h{i}"), &session());
        }
        assert!(c.entries.lock().len() <= MAX_ENTRIES);
    }
}
