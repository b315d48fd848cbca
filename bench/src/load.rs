//! Closed-loop load: `concurrency` tasks, spread over the channels, each issuing its next call
//! as soon as the previous one answers, recording every latency. Baseline and AcquireToken
//! rounds alternate so machine-load drift affects both alike.

use std::time::{Duration, Instant};

use airlock_proto as pb;
use airlock_proto::token_broker_service_client::TokenBrokerServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::Args;
use crate::setup::Bench;

/// Which call is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `grpc.health.v1.Health/Check`: mTLS, authorization layer, empty work.
    Baseline,
    /// `TokenBroker/AcquireToken` from cache, audit on.
    AcquireToken,
}

/// Everything measured for one workload.
#[derive(Debug, Default)]
pub struct Samples {
    /// Latencies of successful calls, microseconds.
    pub latencies_us: Vec<u64>,
    /// Failed calls.
    pub errors: u64,
    /// Time spent measuring.
    pub elapsed: Duration,
    /// CPU time the whole process (client, proxy, audit writer) used meanwhile; `None` where
    /// `/proc` cannot tell.
    pub cpu: Option<Duration>,
}

/// CPU time (user + system) used so far by this process, including threads that have exited
/// (Linux: `utime` and `stime` of `/proc/self/stat`, in USER_HZ ticks, which Linux fixes at 100
/// per second for user space; over a round of seconds on every CPU, 10 ms is fine enough).
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14.
    let mut fields = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Both workloads' samples.
#[derive(Debug)]
pub struct Results {
    /// The empty call.
    pub baseline: Samples,
    /// AcquireToken.
    pub acquire: Samples,
}

async fn one_call(w: Workload, ch: Channel, handle: &str) -> bool {
    match w {
        Workload::Baseline => HealthClient::new(ch)
            .check(HealthCheckRequest::default())
            .await
            .is_ok(),
        Workload::AcquireToken => {
            let req = pb::AcquireTokenRequest {
                handle: handle.to_owned(),
            };
            TokenBrokerServiceClient::new(ch)
                .acquire_token(req)
                .await
                .is_ok()
        }
    }
}

/// Runs `w` for `secs`; returns its samples (empty when `record` is false: warm-up).
async fn round(bench: &Bench, w: Workload, concurrency: usize, secs: u64) -> Samples {
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let cpu_before = process_cpu();
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let ch = bench.channels[i % bench.channels.len()].clone();
            let handle = bench.handle.clone();
            tokio::spawn(async move {
                let mut s = Samples::default();
                while Instant::now() < until {
                    let t = Instant::now();
                    if one_call(w, ch.clone(), &handle).await {
                        s.latencies_us.push(t.elapsed().as_micros() as u64);
                    } else {
                        s.errors += 1;
                    }
                }
                s
            })
        })
        .collect();
    let mut all = Samples::default();
    for t in tasks {
        if let Ok(s) = t.await {
            all.latencies_us.extend(s.latencies_us);
            all.errors += s.errors;
        }
    }
    all.elapsed = started.elapsed();
    all.cpu = cpu_before
        .zip(process_cpu())
        .map(|(before, after)| after.saturating_sub(before));
    all
}

fn merge(into: &mut Samples, s: Samples) {
    into.latencies_us.extend(s.latencies_us);
    into.errors += s.errors;
    into.elapsed += s.elapsed;
    // Unknown for any round: unknown in total.
    into.cpu = into.cpu.zip(s.cpu).map(|(a, b)| a + b);
}

/// Warm-up, then `args.rounds` alternating rounds of each workload.
pub async fn run(bench: &Bench, args: &Args) -> anyhow::Result<Results> {
    let only = match args.only.as_deref() {
        Some("baseline") => Some(Workload::Baseline),
        Some(_) => Some(Workload::AcquireToken),
        None => None,
    };
    let wanted = |w: Workload| only.is_none_or(|o| o == w);
    for w in [Workload::Baseline, Workload::AcquireToken] {
        if !wanted(w) {
            continue;
        }
        let warm = round(bench, w, args.concurrency, args.warmup_secs).await;
        anyhow::ensure!(
            !warm.latencies_us.is_empty(),
            "{w:?} warm-up had no successful call ({} errors)",
            warm.errors
        );
    }
    let zero = || Samples {
        cpu: Some(Duration::ZERO),
        ..Samples::default()
    };
    let mut results = Results {
        baseline: zero(),
        acquire: zero(),
    };
    for _ in 0..args.rounds {
        if wanted(Workload::Baseline) {
            let b = round(bench, Workload::Baseline, args.concurrency, args.round_secs).await;
            merge(&mut results.baseline, b);
        }
        if wanted(Workload::AcquireToken) {
            let a = round(
                bench,
                Workload::AcquireToken,
                args.concurrency,
                args.round_secs,
            )
            .await;
            merge(&mut results.acquire, a);
        }
    }
    Ok(results)
}
