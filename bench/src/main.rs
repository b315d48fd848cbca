//! airlock-bench: measures, in one process and one run, cached AcquireToken over mTLS with the
//! audit log on (fsync per the chosen policy) against an empty mTLS gRPC call (the health
//! Check) on the same server stack. Prints JSON on stdout and a readable summary on stderr.
//!
//! # Layout
//! - `main.rs` — arguments and the run.
//! - [`setup`] — the PKI, simulator and in-process proxy with one connection and one handle.
//! - [`load`] — closed-loop load with latency recording, alternating rounds.
//! - [`report`] — percentiles, the ratio, JSON and the summary.

/// The allocator the `airlock-proxy` binary uses, so the proxy here runs as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod load;
mod report;
mod setup;

use clap::Parser;

/// Benchmark of the credential proxy's token broker against an empty mTLS gRPC call.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// Seconds per measured round (each workload runs `rounds` rounds, alternating).
    #[arg(long, default_value_t = 4)]
    pub round_secs: u64,
    /// Rounds per workload (alternating baseline / AcquireToken to cancel out drift).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Warm-up seconds per workload before measuring.
    #[arg(long, default_value_t = 1)]
    pub warmup_secs: u64,
    /// Calls in flight at once (closed loop).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// mTLS connections (HTTP/2 channels) the calls are spread over.
    #[arg(long, default_value_t = 8)]
    pub channels: usize,
    /// Audit fsync policy: `always` (fsync each group commit, the default) or `never`.
    #[arg(long, default_value = "always")]
    pub fsync: String,
    /// Audit group-commit delay in microseconds (the proxy's `[audit] commit_delay_us`; 0 = off).
    #[arg(long, default_value_t = airlock_proxy::audit::writer::DEFAULT_COMMIT_DELAY_US)]
    pub commit_delay_us: u64,
    /// Run only one workload (`baseline` or `acquire`), for profiling; no ratio is reported.
    #[arg(long, value_parser = ["baseline", "acquire"])]
    pub only: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fsync = match args.fsync.as_str() {
        "always" => airlock_proxy::audit::FsyncPolicy::Always,
        "never" => airlock_proxy::audit::FsyncPolicy::Never,
        other => anyhow::bail!("--fsync must be always or never, not {other:?}"),
    };
    anyhow::ensure!(
        args.concurrency > 0 && args.channels > 0,
        "concurrency and channels must be positive"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let bench = setup::Bench::start(fsync, args.commit_delay_us, args.channels).await?;
        let load_before = report::loadavg();
        let results = load::run(&bench, &args).await?;
        let load_after = report::loadavg();
        let audited = bench.stop().await?;
        Ok::<_, anyhow::Error>(report::Report::new(
            &args,
            results,
            audited,
            load_before,
            load_after,
        ))
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("{}", report.summary());
    Ok(())
}
