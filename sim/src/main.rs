//! `airlock-sim --fixture FILE [--listen 127.0.0.1:0] [--ready-file PATH] [--ca-file PATH]`:
//! serve the simulator until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;

use airlock_sim::{Fixture, SimServer};
use anyhow::Context;
use clap::Parser;

/// A faithful local Entra ID and Exchange Online for Airlock's tests and demo.
#[derive(Parser, Debug)]
#[command(name = "airlock-sim", version)]
struct Args {
    /// Tenant fixture (TOML); see sim/README.md.
    #[arg(long)]
    fixture: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write the ready JSON line here once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Where to write the CA certificate PEM (default: next to the ready file, else the temp dir).
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

fn ca_path(args: &Args) -> PathBuf {
    if let Some(p) = &args.ca_file {
        return p.clone();
    }
    let name = format!("airlock-sim-{}-ca.pem", std::process::id());
    match args.ready_file.as_ref().and_then(|r| r.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => std::env::temp_dir().join(name),
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let fixture = match Fixture::load(&args.fixture) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("airlock-sim: {e}");
            std::process::exit(64);
        }
    };
    let server = SimServer::start_on(fixture, args.listen)
        .await
        .context("starting the simulator")?;
    let ca = ca_path(&args);
    std::fs::write(&ca, server.ca_cert_pem())
        .with_context(|| format!("writing {}", ca.display()))?;
    let ready = serde_json::json!({
        "authority": server.authority(),
        "exchange": server.exchange(),
        "ca_cert": ca,
        "pid": std::process::id(),
    })
    .to_string();
    if let Some(path) = &args.ready_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{ready}\n")).context("writing the ready file")?;
        std::fs::rename(&tmp, path).context("writing the ready file")?;
    }
    println!("{ready}");
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
