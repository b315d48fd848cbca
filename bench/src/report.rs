//! Percentiles, the throughput ratio, the JSON document and the readable summary.

use serde::Serialize;

use crate::Args;
use crate::load::{Results, Samples};

/// Target of the architecture: AcquireToken throughput / empty-call throughput.
pub const TARGET_RATIO: f64 = 0.7;

/// One workload's figures.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Successful calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Successful calls per second.
    pub throughput_per_sec: f64,
    /// Median latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
}

/// The whole result.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What was compared.
    pub benchmark: &'static str,
    /// AcquireToken throughput / baseline throughput (absent when `--only` skipped one).
    pub throughput_ratio: Option<f64>,
    /// The target ratio.
    pub target_ratio: f64,
    /// Whether the ratio meets the target (absent when `--only` skipped one workload).
    pub meets_target: Option<bool>,
    /// The empty mTLS call (grpc.health.v1.Health/Check).
    pub baseline: Figures,
    /// Cached AcquireToken, audit on.
    pub acquire_token: Figures,
    /// Audit fsync policy in force.
    pub audit_fsync: &'static str,
    /// Audit group-commit delay, microseconds.
    pub audit_commit_delay_us: u64,
    /// Audit records written during the run (chain verified).
    pub audit_records: u64,
    /// Calls in flight.
    pub concurrency: usize,
    /// mTLS connections.
    pub channels: usize,
    /// Seconds per round and rounds per workload.
    pub round_secs: u64,
    /// Rounds per workload.
    pub rounds: u32,
    /// CPUs available to this process.
    pub cpus: usize,
    /// 1-minute load average before and after (other work on the machine skews results).
    pub loadavg_before: Option<f64>,
    /// After.
    pub loadavg_after: Option<f64>,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn figures(mut s: Samples) -> Figures {
    s.latencies_us.sort_unstable();
    let calls = s.latencies_us.len() as u64;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    Figures {
        calls,
        errors: s.errors,
        throughput_per_sec: calls as f64 / secs,
        p50_us: percentile(&s.latencies_us, 0.50),
        p99_us: percentile(&s.latencies_us, 0.99),
    }
}

/// The 1-minute load average (Linux).
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Report {
    /// Builds the report.
    pub fn new(
        args: &Args,
        r: Results,
        audit_records: u64,
        loadavg_before: Option<f64>,
        loadavg_after: Option<f64>,
    ) -> Self {
        let baseline = figures(r.baseline);
        let acquire_token = figures(r.acquire);
        let ratio = args
            .only
            .is_none()
            .then(|| acquire_token.throughput_per_sec / baseline.throughput_per_sec.max(1e-9));
        Self {
            benchmark: "cached AcquireToken over mTLS with audit on vs empty mTLS gRPC call (health Check), same server",
            throughput_ratio: ratio.map(|r| (r * 1000.0).round() / 1000.0),
            target_ratio: TARGET_RATIO,
            meets_target: ratio.map(|r| r >= TARGET_RATIO),
            baseline,
            acquire_token,
            audit_fsync: if args.fsync == "never" {
                "never"
            } else {
                "always"
            },
            audit_commit_delay_us: args.commit_delay_us,
            audit_records,
            concurrency: args.concurrency,
            channels: args.channels,
            round_secs: args.round_secs,
            rounds: args.rounds,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            loadavg_before,
            loadavg_after,
        }
    }

    /// A readable summary.
    pub fn summary(&self) -> String {
        let line = |name: &str, f: &Figures| {
            format!(
                "  {name:<24} {:>9.0} calls/s   p50 {:>6} µs   p99 {:>6} µs   ({} calls, {} errors)",
                f.throughput_per_sec, f.p50_us, f.p99_us, f.calls, f.errors
            )
        };
        let verdict = match (self.throughput_ratio, self.meets_target) {
            (Some(r), Some(met)) => format!(
                "throughput ratio {r:.3} (target ≥ {TARGET_RATIO}) {}",
                if met { "MET" } else { "NOT MET" }
            ),
            _ => "no ratio: --only ran one workload".to_owned(),
        };
        format!(
            "airlock-bench ({} CPUs, concurrency {}, {} channels, audit fsync {}, commit delay {} µs, load {:?} → {:?})\n{}\n{}\n  {verdict}\n  audit records written and chain-verified: {}",
            self.cpus,
            self.concurrency,
            self.channels,
            self.audit_fsync,
            self.audit_commit_delay_us,
            self.loadavg_before,
            self.loadavg_after,
            line("empty call (Health)", &self.baseline),
            line("AcquireToken (cached)", &self.acquire_token),
            self.audit_records
        )
    }
}
