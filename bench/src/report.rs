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
    /// CPU time of the whole process (client and server share it) per successful call,
    /// microseconds.
    pub cpu_us_per_call: Option<f64>,
    /// CPUs kept busy on average (of `cpus`): below `cpus` means the workload left them idle.
    pub cpus_busy: Option<f64>,
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
    /// The empty call's CPU per call / AcquireToken's: the throughput ratio both would reach
    /// if both kept the CPUs equally busy. Next to `throughput_ratio` it separates what each
    /// call costs from how much the workload idles the CPUs.
    pub cpu_cost_ratio: Option<f64>,
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
    let cpu = s.cpu.filter(|_| calls > 0).map(|c| c.as_secs_f64());
    Figures {
        calls,
        errors: s.errors,
        throughput_per_sec: calls as f64 / secs,
        p50_us: percentile(&s.latencies_us, 0.50),
        p99_us: percentile(&s.latencies_us, 0.99),
        cpu_us_per_call: cpu.map(|c| round_to(c * 1e6 / calls as f64, 1)),
        cpus_busy: cpu.map(|c| round_to(c / secs, 2)),
    }
}

/// `x` rounded to `decimals` places (for readable JSON).
fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
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
        let cpu_cost_ratio = baseline
            .cpu_us_per_call
            .zip(acquire_token.cpu_us_per_call)
            .filter(|_| args.only.is_none())
            .map(|(b, a)| round_to(b / a.max(1e-9), 3));
        Self {
            benchmark: "cached AcquireToken over mTLS with audit on vs empty mTLS gRPC call (health Check), same server",
            throughput_ratio: ratio.map(|r| round_to(r, 3)),
            target_ratio: TARGET_RATIO,
            meets_target: ratio.map(|r| r >= TARGET_RATIO),
            cpu_cost_ratio,
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
            let cpu = match (f.cpu_us_per_call, f.cpus_busy) {
                (Some(per_call), Some(busy)) => {
                    format!("   CPU {per_call:.1} µs/call, {busy:.2} CPUs busy")
                }
                _ => String::new(),
            };
            format!(
                "  {name:<24} {:>9.0} calls/s   p50 {:>6} µs   p99 {:>6} µs   ({} calls, {} errors){cpu}",
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
        let verdict = match self.cpu_cost_ratio {
            Some(c) => format!("{verdict}; CPU cost ratio {c:.3}"),
            None => verdict,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn samples(latencies: &[u64], secs: u64, cpu: Option<Duration>) -> Samples {
        Samples {
            latencies_us: latencies.to_vec(),
            errors: 1,
            elapsed: Duration::from_secs(secs),
            cpu,
        }
    }

    #[test]
    fn figures_divide_cpu_by_calls_and_by_time() {
        let f = figures(samples(&[40, 10, 30, 20], 2, Some(Duration::from_secs(1))));
        assert_eq!((f.calls, f.errors), (4, 1));
        assert_eq!(f.throughput_per_sec, 2.0);
        assert_eq!((f.p50_us, f.p99_us), (30, 40));
        assert_eq!(f.cpu_us_per_call, Some(250_000.0));
        assert_eq!(f.cpus_busy, Some(0.5));
    }

    #[test]
    fn unknown_cpu_or_no_calls_give_no_cpu_figures() {
        let f = figures(samples(&[10], 1, None));
        assert_eq!((f.cpu_us_per_call, f.cpus_busy), (None, None));
        let f = figures(samples(&[], 1, Some(Duration::from_secs(1))));
        assert_eq!((f.calls, f.cpu_us_per_call), (0, None));
    }

    #[test]
    fn process_cpu_counts_this_process_work() {
        let before = crate::load::process_cpu().expect("Linux /proc");
        // Busy until the count moves (a tick is 10 ms), with a bound for a starved machine.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while crate::load::process_cpu().expect("Linux /proc") == before
            && started.elapsed() < Duration::from_secs(20)
        {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        let after = crate::load::process_cpu().expect("Linux /proc");
        assert!(after > before, "{before:?} → {after:?} ({x})");
    }
}
