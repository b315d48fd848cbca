//! Request counters: token requests per app and outcome, invoke calls per cmdlet and outcome.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Outcome label of a successful request.
pub const OK: &str = "ok";

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSnapshot {
    /// client_id → outcome (`ok`, `AADSTS7000215`, `fault_503`...) → count.
    pub token_requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Cmdlet (canonical case) → outcome (`ok`, exception type, `throttled`...) → count.
    pub invoke_calls: BTreeMap<String, BTreeMap<String, u64>>,
}

impl CounterSnapshot {
    /// Token requests of one app with one outcome.
    pub fn tokens(&self, app_id: &str, outcome: &str) -> u64 {
        lookup(&self.token_requests, app_id, outcome)
    }

    /// All token requests of one app.
    pub fn tokens_total(&self, app_id: &str) -> u64 {
        total(&self.token_requests, app_id)
    }

    /// Invoke calls of one cmdlet with one outcome.
    pub fn invokes(&self, cmdlet: &str, outcome: &str) -> u64 {
        lookup(&self.invoke_calls, cmdlet, outcome)
    }

    /// All invoke calls of one cmdlet.
    pub fn invokes_total(&self, cmdlet: &str) -> u64 {
        total(&self.invoke_calls, cmdlet)
    }
}

fn key_match<'a, V>(map: &'a BTreeMap<String, V>, key: &str) -> Option<&'a V> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn lookup(map: &BTreeMap<String, BTreeMap<String, u64>>, key: &str, outcome: &str) -> u64 {
    key_match(map, key)
        .and_then(|m| m.get(outcome))
        .copied()
        .unwrap_or(0)
}

fn total(map: &BTreeMap<String, BTreeMap<String, u64>>, key: &str) -> u64 {
    key_match(map, key).map(|m| m.values().sum()).unwrap_or(0)
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    inner: Mutex<CounterSnapshot>,
}

impl Counters {
    pub(crate) fn token(&self, app_id: &str, outcome: &str) {
        let mut c = self.inner.lock();
        *c.token_requests
            .entry(app_id.to_ascii_lowercase())
            .or_default()
            .entry(outcome.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn invoke(&self, cmdlet: &str, outcome: &str) {
        let mut c = self.inner.lock();
        *c.invoke_calls
            .entry(cmdlet.to_owned())
            .or_default()
            .entry(outcome.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        self.inner.lock().clone()
    }

    pub(crate) fn reset(&self) {
        *self.inner.lock() = CounterSnapshot::default();
    }
}
