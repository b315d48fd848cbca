//! The token cache: one token per connection shared by all callers; concurrent misses share
//! one Entra request (single flight, errors included); refresh ahead of expiry in the
//! background; a failed background refresh does not fail callers while the token is valid;
//! 429/5xx back off honouring `Retry-After`; 400/401 are not retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use airlock_shared::{AirlockError, ErrorCode};
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::{AccessToken, TokenSource};

/// Retry and timing knobs.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// Tries per flight (first try included).
    pub max_attempts: u32,
    /// First backoff for a retryable failure without `Retry-After`; doubles per try.
    pub base_backoff: Duration,
    /// Longest wait a flight accepts; a longer `Retry-After` fails the flight at once.
    pub max_wait: Duration,
    /// A token with less than this left is not handed out.
    pub min_remaining: Duration,
    /// After a non-retryable failure, callers get the same error for this long without a new
    /// Entra request (avoids hammering Entra with a broken credential).
    pub negative_ttl: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
            min_remaining: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        }
    }
}

type Flight = Shared<BoxFuture<'static, Result<Arc<AccessToken>, AirlockError>>>;

#[derive(Default)]
struct Entry {
    token: Option<Arc<AccessToken>>,
    flight: Option<Flight>,
    failure: Option<(AirlockError, Instant)>,
}

/// The cache. Share it with `Arc`.
pub struct TokenCache {
    source: Arc<dyn TokenSource>,
    policy: CachePolicy,
    entries: Mutex<HashMap<uuid::Uuid, Arc<Mutex<Entry>>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("connections", &self.entries.lock().len())
            .finish()
    }
}

impl TokenCache {
    /// A cache fetching from `source`.
    pub fn new(source: Arc<dyn TokenSource>, policy: CachePolicy) -> Self {
        Self {
            source,
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, id: uuid::Uuid) -> Arc<Mutex<Entry>> {
        Arc::clone(self.entries.lock().entry(id).or_default())
    }

    /// The connection's token: from cache when fresh; stale-but-valid tokens are returned at
    /// once while a background refresh runs; otherwise waits for the (shared) flight.
    pub async fn get(&self, id: uuid::Uuid) -> Result<Arc<AccessToken>, AirlockError> {
        let entry = self.entry(id);
        let flight = {
            let mut st = entry.lock();
            let now = Instant::now();
            let blocked = st.failure.as_ref().is_some_and(|(_, until)| now < *until);
            // A cached token is served only while at least `min_remaining` of it is left:
            // the effective refresh point is `min(refresh_at, expires_at - min_remaining)`.
            // Past that point callers wait for the flight. A token whose refresh point
            // (half-life for short tokens) lies beyond `expires_at - min_remaining` thus gets
            // no refresh-ahead window: it is served up to that point, then refetched.
            if let Some(tok) = st.token.clone().filter(|t| self.servable(t, now)) {
                if now < tok.refresh_at {
                    return Ok(tok);
                }
                if st.flight.is_none() && !blocked {
                    st.flight = Some(self.start(id, &entry));
                }
                return Ok(tok);
            }
            if let (true, Some((err, _))) = (blocked, &st.failure) {
                return Err(err.clone());
            }
            match &st.flight {
                Some(f) => f.clone(),
                None => {
                    let f = self.start(id, &entry);
                    st.flight = Some(f.clone());
                    f
                }
            }
        };
        flight.await
    }

    /// Fetches a new token now (joining a running flight), ignoring the cached one and any
    /// remembered failure. Used by TestConnection.
    pub async fn refresh_now(&self, id: uuid::Uuid) -> Result<Arc<AccessToken>, AirlockError> {
        let entry = self.entry(id);
        let flight = {
            let mut st = entry.lock();
            match &st.flight {
                Some(f) => f.clone(),
                None => {
                    let f = self.start(id, &entry);
                    st.flight = Some(f.clone());
                    f
                }
            }
        };
        flight.await
    }

    /// Whether a cached token may still be handed out: at least `min_remaining` left.
    ///
    /// A token fresh from a flight is returned to the callers of that flight even when it has
    /// less than `min_remaining` (it is the freshest Entra gave us, and failing the callers
    /// would gain nothing); it is cached but never served from the cache, so the next caller
    /// starts a new flight.
    fn servable(&self, tok: &AccessToken, now: Instant) -> bool {
        now.checked_add(self.policy.min_remaining)
            .is_some_and(|t| t < tok.expires_at)
    }

    /// Drops the connection's token (credential rotated or connection deleted). A flight
    /// already running finishes into the detached entry and is not seen again.
    pub fn invalidate(&self, id: uuid::Uuid) {
        self.entries.lock().remove(&id);
    }

    fn start(&self, id: uuid::Uuid, entry: &Arc<Mutex<Entry>>) -> Flight {
        let source = Arc::clone(&self.source);
        let entry = Arc::clone(entry);
        let policy = self.policy;
        let task_entry = Arc::clone(&entry);
        let task = tokio::spawn(async move {
            // A panicking source must not skip the bookkeeping below: a flight left in place
            // after its task died would answer every later caller with the same error until
            // the connection is rotated or deleted. The panic becomes an ordinary failure
            // (its payload is not echoed: it could quote response data).
            let res = std::panic::AssertUnwindSafe(fetch_with_retry(source.as_ref(), id, policy))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!(connection.id = %id, "token fetch panicked");
                    Err(AirlockError::new(
                        ErrorCode::Internal,
                        "token fetch panicked",
                    ))
                })
                .map(Arc::new);
            settle(&task_entry, id, policy, &res);
            res
        });
        async move {
            task.await.unwrap_or_else(|e| {
                // The task died outside the fetch (or was cancelled at shutdown): still clear
                // the flight and remember an ordinary failure so a later call retries.
                let err = AirlockError::new(
                    ErrorCode::Internal,
                    if e.is_panic() {
                        "token task panicked"
                    } else {
                        "token task cancelled"
                    },
                );
                let res = Err(err);
                settle(&entry, id, policy, &res);
                res
            })
        }
        .boxed()
        .shared()
    }
}

/// Records a flight's outcome in its entry and ends the flight.
fn settle(
    entry: &Mutex<Entry>,
    id: uuid::Uuid,
    policy: CachePolicy,
    res: &Result<Arc<AccessToken>, AirlockError>,
) {
    let mut st = entry.lock();
    st.flight = None;
    match res {
        Ok(tok) => {
            if tok.expires_at <= Instant::now() + policy.min_remaining {
                tracing::warn!(connection.id = %id, "token arrived with less than the minimum remaining lifetime; it will not be served from the cache");
            }
            st.token = Some(Arc::clone(tok));
            st.failure = None;
        }
        Err(err) => {
            let hold = err.retry_delay().unwrap_or(policy.negative_ttl);
            st.failure = Some((err.clone(), Instant::now() + hold));
            if st.token.is_some() {
                tracing::warn!(connection.id = %id, code = err.code().reason(), "background token refresh failed; the current token stays in use");
            }
        }
    }
}

async fn fetch_with_retry(
    source: &dyn TokenSource,
    id: uuid::Uuid,
    policy: CachePolicy,
) -> Result<AccessToken, AirlockError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match source.fetch(id).await {
            Ok(tok) => return Ok(tok),
            Err(e) => e,
        };
        if !err.retryable() || attempt >= policy.max_attempts {
            return Err(err);
        }
        let backoff = policy.base_backoff * 2u32.saturating_pow(attempt - 1);
        let wait = err.retry_delay().map_or(backoff, |d| d.max(backoff));
        if wait > policy.max_wait {
            return Err(err);
        }
        tracing::debug!(connection.id = %id, attempt, wait_ms = wait.as_millis() as u64, "retrying token request");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests;
