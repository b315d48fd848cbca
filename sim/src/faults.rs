//! Fault injection: latency, failing statuses, intermittent throttling, Entra outages and
//! read-after-write lag. Changed at run time through the control API.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// The faults currently injected. All default to "off".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Extra latency before every Exchange answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra latency before every token endpoint answer, in milliseconds.
    pub token_latency_ms: u64,
    /// Every Exchange call fails with this status (429, 500, 503 or 504).
    pub exchange_status: Option<u16>,
    /// The next Exchange calls fail with these statuses, in order (consumed one per call).
    pub exchange_fail_next: Vec<u16>,
    /// Every Nth Exchange call is answered 429 (0 = off).
    pub throttle_every: u32,
    /// `Retry-After` seconds on injected 429 and 503 answers.
    pub retry_after_secs: u64,
    /// The token endpoint answers 503 (Entra outage).
    pub entra_outage: bool,
    /// The next token requests fail with these statuses (429, 500 or 503), in order.
    pub entra_fail_next: Vec<u16>,
    /// New objects stay invisible to reads for this long, in milliseconds.
    pub read_after_write_lag_ms: u64,
    /// Every Nth successful Exchange answer claims `Content-Encoding: gzip` over a body that is
    /// not gzip (observed intermittently on the real gateway; 0 = off).
    pub corrupt_gzip_every: u32,
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    /// Answer with this status (and `Retry-After` seconds where relevant).
    Status(u16, u64),
    /// Proceed normally.
    Pass,
}

/// Live fault configuration plus the call counter used by `throttle_every`.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    faults: Mutex<Faults>,
    exchange_calls: AtomicU64,
    successes: AtomicU64,
}

impl FaultState {
    pub(crate) fn get(&self) -> Faults {
        self.faults.lock().clone()
    }

    pub(crate) fn set(&self, faults: Faults) {
        *self.faults.lock() = faults;
        self.exchange_calls.store(0, Ordering::Relaxed);
        self.successes.store(0, Ordering::Relaxed);
    }

    /// Whether this successful Exchange answer should be corrupted.
    pub(crate) fn corrupt_success(&self) -> bool {
        let every = u64::from(self.faults.lock().corrupt_gzip_every);
        let n = self.successes.fetch_add(1, Ordering::Relaxed) + 1;
        every > 0 && n.is_multiple_of(every)
    }

    /// Decide the fate of one Exchange call.
    pub(crate) fn exchange(&self) -> Injected {
        let n = self.exchange_calls.fetch_add(1, Ordering::Relaxed) + 1;
        let mut f = self.faults.lock();
        let retry = if f.retry_after_secs == 0 {
            1
        } else {
            f.retry_after_secs
        };
        if !f.exchange_fail_next.is_empty() {
            return Injected::Status(f.exchange_fail_next.remove(0), retry);
        }
        if let Some(s) = f.exchange_status {
            return Injected::Status(s, retry);
        }
        if f.throttle_every > 0 && n.is_multiple_of(u64::from(f.throttle_every)) {
            return Injected::Status(429, retry);
        }
        Injected::Pass
    }

    /// Decide the fate of one token request.
    pub(crate) fn entra(&self) -> Injected {
        let mut f = self.faults.lock();
        let retry = if f.retry_after_secs == 0 {
            1
        } else {
            f.retry_after_secs
        };
        if !f.entra_fail_next.is_empty() {
            return Injected::Status(f.entra_fail_next.remove(0), retry);
        }
        if f.entra_outage {
            return Injected::Status(503, retry);
        }
        Injected::Pass
    }
}
