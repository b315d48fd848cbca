//! `airlock-proxy`: init | serve [--check-config]. Thin: parse arguments, set up logging, load
//! the config, run the library.

use std::path::PathBuf;
use std::process::ExitCode;

use airlock_shared::shutdown::Shutdown;
use airlock_shared::telemetry::{self, LogFormat};
use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the hot path allocates across threads (tasks move between
/// workers, the audit writer frees what callers built) and glibc's arena locks and
/// consolidation were ~12 % of AcquireToken's CPU profile (docs/proxy.md §9).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a bad configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

/// Airlock's privileged credential proxy.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log format: json or human.
    #[arg(
        long,
        global = true,
        default_value = "json",
        env = "AIRLOCK_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the master key file, the store and the session-signing key (never overwrites).
    Init {
        /// The proxy configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the gRPC server over mTLS.
    Serve {
        /// The proxy configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Validate the configuration (and open the store) and exit.
        #[arg(long)]
        check_config: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, "info");
    let (path, init, check) = match &cli.command {
        Command::Init { config } => (config, true, false),
        Command::Serve {
            config,
            check_config,
        } => (config, false, *check_config),
    };
    let config = match airlock_proxy::ProxyConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        if init {
            let report = airlock_proxy::init(&config).await?;
            eprintln!(
                "created {} and {}",
                report.master_key_file.display(),
                report.store.display()
            );
            return Ok(());
        }
        if check {
            airlock_proxy::check(&config).await?;
            eprintln!("configuration OK");
            return Ok(());
        }
        let shutdown = Shutdown::new();
        let _signals = shutdown.trigger_on_signals();
        airlock_proxy::run(config, async move { shutdown.wait().await }).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("airlock-proxy: {e}");
            ExitCode::from(if check { EXIT_CONFIG } else { 1 })
        }
    }
}
