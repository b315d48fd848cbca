//! `airlockctl`: Airlock's operator tool. Thin: parsing and dispatch only; the work lives in
//! the library.

use std::{path::PathBuf, process::ExitCode};

use airlockctl::{audit, connection, demo, health, identity::IdentityArgs, pki};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "airlockctl",
    version,
    about = "Operate Airlock: dev PKI, health checks, the demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Development PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Check a server's gRPC health over mTLS.
    Health {
        /// Server address, e.g. https://localhost:7443.
        #[arg(long, env = "AIRLOCK_SERVER")]
        server: String,
        /// Service name to check; empty for the whole server.
        #[arg(long, default_value = "")]
        service: String,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Manage Exchange Online connections on a proxy (admin role).
    Connection {
        #[command(subcommand)]
        command: connection::ConnectionCommand,
    },
    /// Read the proxy's audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the demo against in-process servers.
    Demo {
        /// Keep the demo's files in DIR (existing files are replaced).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain; name the first bad line and what is wrong.
    Verify(audit::VerifyArgs),
    /// Show records matching filters, as a table or JSON.
    Query(audit::QueryArgs),
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Write a CA and certificates + keys for proxy, workers, orchestrator and admin.
    Init {
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// SPIFFE trust domain.
        #[arg(long, default_value = pki::DEFAULT_TRUST_DOMAIN)]
        trust_domain: String,
        /// Number of worker certificates (worker-1..N).
        #[arg(long, default_value_t = 1)]
        workers: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    airlock_shared::telemetry::init(airlock_shared::telemetry::LogFormat::Human, "warn");
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    match cli.command {
        Command::Pki {
            command:
                PkiCommand::Init {
                    out,
                    trust_domain,
                    workers,
                    force,
                },
        } => {
            let pki = pki::DevPki::generate(&trust_domain, workers)?;
            for path in pki.write(&out, force)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Health {
            server,
            service,
            identity,
        } => {
            let tls = airlock_shared::tls::client_config(&identity.files()?)?;
            let status = health::check(&server, tls, &service).await?;
            println!("{}", status.as_str_name());
            anyhow::ensure!(
                status == tonic_health::pb::health_check_response::ServingStatus::Serving,
                "not serving"
            );
            Ok(())
        }
        Command::Connection { command } => {
            let ok = connection::run(command, &mut stdout).await?;
            anyhow::ensure!(ok, "the connection test failed");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => audit::verify(&args, &mut stdout),
        Command::Audit {
            command: AuditCommand::Query(args),
        } => {
            let shown = audit::query(&args, &mut stdout)?;
            eprintln!("{shown} record(s)");
            Ok(())
        }
        Command::Demo { dir } => demo::run(&demo::DemoOptions { dir }, &mut stdout).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
