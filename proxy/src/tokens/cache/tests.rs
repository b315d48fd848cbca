use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use airlock_shared::SecretString;

use super::*;

/// A scripted source: pops the next outcome (default: a 3600 s token) and counts calls.
#[derive(Default)]
struct Scripted {
    calls: AtomicUsize,
    script: Mutex<VecDeque<Result<u64, AirlockError>>>,
    /// The next fetch panics (once).
    panic_next: AtomicBool,
}

impl Scripted {
    fn push(&self, r: Result<u64, AirlockError>) {
        self.script.lock().push_back(r);
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenSource for Scripted {
    fn fetch(&self, _: uuid::Uuid) -> BoxFuture<'_, Result<AccessToken, AirlockError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.panic_next.swap(false, Ordering::SeqCst) {
                panic!("TEST scripted source panic");
            }
            let next = self.script.lock().pop_front().unwrap_or(Ok(3600));
            next.map(|secs| {
                AccessToken::new(
                    SecretString::new(format!("TEST-ONLY-token-{n}")),
                    Duration::from_secs(secs),
                    None,
                )
            })
        })
    }
}

fn setup() -> (Arc<Scripted>, Arc<TokenCache>) {
    let src = Arc::new(Scripted::default());
    let cache = Arc::new(TokenCache::new(src.clone(), CachePolicy::default()));
    (src, cache)
}

fn value(t: &AccessToken) -> String {
    t.value.expose_secret().to_owned()
}

#[tokio::test(start_paused = true)]
async fn a_thousand_cold_callers_cause_one_request() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get(id).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(value(&t.await.unwrap().unwrap()), "TEST-ONLY-token-1");
    }
    assert_eq!(src.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_runs_in_the_background() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-1");
    tokio::time::advance(Duration::from_secs(3000)).await;
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-1");
    assert_eq!(src.calls(), 1, "fresh token: no request");
    tokio::time::advance(Duration::from_secs(301)).await; // past expiry - 5 min
    let started = Instant::now();
    assert_eq!(
        value(&cache.get(id).await.unwrap()),
        "TEST-ONLY-token-1",
        "caller does not wait"
    );
    assert_eq!(Instant::now(), started);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(src.calls(), 2);
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-2");
}

#[tokio::test(start_paused = true)]
async fn failed_background_refresh_keeps_the_valid_token() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    cache.get(id).await.unwrap();
    tokio::time::advance(Duration::from_secs(3301)).await;
    for _ in 0..3 {
        src.push(Err(AirlockError::new(ErrorCode::Transient, "TEST 503")));
    }
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-1");
    tokio::time::sleep(Duration::from_secs(5)).await; // retries run
    assert_eq!(src.calls(), 4, "one first try + two retries");
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-1");
    // past the retry hold, the next caller starts another refresh that succeeds
    tokio::time::sleep(Duration::from_secs(5)).await;
    cache.get(id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-5");
}

#[tokio::test(start_paused = true)]
async fn expired_token_is_never_handed_out() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    cache.get(id).await.unwrap();
    tokio::time::advance(Duration::from_secs(3590)).await;
    src.push(Err(AirlockError::new(
        ErrorCode::CredentialInvalid,
        "TEST 401",
    )));
    let err = cache.get(id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CredentialInvalid);
}

#[tokio::test(start_paused = true)]
async fn throttling_honours_retry_after_and_400_401_are_not_retried() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    src.push(Err(
        AirlockError::new(ErrorCode::Throttled, "429").with_retry_after(Duration::from_secs(60))
    ));
    let err = cache.get(id).await.unwrap_err();
    assert_eq!(
        (err.code(), err.retry_delay()),
        (ErrorCode::Throttled, Some(Duration::from_secs(60)))
    );
    assert_eq!(src.calls(), 1, "a wait longer than max_wait fails at once");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert!(cache.get(id).await.is_err());
    assert_eq!(src.calls(), 1, "no request while Retry-After runs");
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(cache.get(id).await.is_ok());
    assert_eq!(src.calls(), 2);

    let id = uuid::Uuid::new_v4();
    src.push(Err(
        AirlockError::new(ErrorCode::Throttled, "429").with_retry_after(Duration::from_secs(2))
    ));
    assert!(
        cache.get(id).await.is_ok(),
        "a short Retry-After is waited out"
    );
    assert_eq!(src.calls(), 4);

    let id = uuid::Uuid::new_v4();
    src.push(Err(AirlockError::new(ErrorCode::CredentialInvalid, "401")));
    assert!(cache.get(id).await.is_err());
    assert_eq!(src.calls(), 5, "401 is not retried");
}

#[tokio::test(start_paused = true)]
async fn invalidate_and_refresh_now_fetch_again() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    cache.get(id).await.unwrap();
    cache.invalidate(id);
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-2");
    assert_eq!(
        value(&cache.refresh_now(id).await.unwrap()),
        "TEST-ONLY-token-3"
    );
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-3");
    assert_eq!(src.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_fetch_is_an_ordinary_failure() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    src.panic_next.store(true, Ordering::SeqCst);
    let err = cache.get(id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(cache.get(id).await.is_err(), "negative window applies");
    assert_eq!(src.calls(), 1);
    tokio::time::advance(CachePolicy::default().negative_ttl + Duration::from_secs(1)).await;
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-2");
    assert_eq!(src.calls(), 2);

    // refresh_now is not jammed either
    let id = uuid::Uuid::new_v4();
    src.panic_next.store(true, Ordering::SeqCst);
    assert!(cache.refresh_now(id).await.is_err());
    assert_eq!(
        value(&cache.refresh_now(id).await.unwrap()),
        "TEST-ONLY-token-4"
    );
    assert_eq!(src.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_token_with_less_than_min_remaining_is_not_served_from_cache() {
    let (src, cache) = setup();
    let id = uuid::Uuid::new_v4();
    let min = CachePolicy::default().min_remaining; // 60 s
    src.push(Ok(100)); // refresh_at is its half-life (50 s), past expires_at - 60 s
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-1");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-1");
    assert_eq!(src.calls(), 1, "70 s left: served from cache");
    tokio::time::advance(Duration::from_secs(15)).await; // 55 s left, before refresh_at
    let tok = cache.get(id).await.unwrap();
    assert_eq!(value(&tok), "TEST-ONLY-token-2", "55 s left: not served");
    assert!(tok.expires_at >= Instant::now() + min);
    assert_eq!(src.calls(), 2);

    // A fresh token that itself has less than min_remaining goes to its flight's callers
    // but is never served from the cache.
    let id = uuid::Uuid::new_v4();
    src.push(Ok(30));
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-3");
    assert_eq!(value(&cache.get(id).await.unwrap()), "TEST-ONLY-token-4");
    assert_eq!(src.calls(), 4);
}
