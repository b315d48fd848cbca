//! `airlockctl connection …`: the ConnectionAdmin API from the command line (admin role).
//! Secrets and PEMs are read from files (or stdin with `-`), never from arguments, so they do
//! not land in shell history or `ps` output.

use std::{io::Read as _, io::Write, path::PathBuf};

use airlock_proto::{
    AssertionAlgorithm, CertificateCredential, Connection, CreateConnectionRequest, Credential,
    DeleteConnectionRequest, Environment, GetConnectionRequest, ListConnectionsRequest,
    RotateCredentialRequest, TestConnectionRequest, UpdateConnectionRequest,
    connection_admin_service_client::ConnectionAdminServiceClient, credential,
};
use airlock_shared::{AirlockError, SecretString};
use anyhow::Context as _;
use tonic::transport::Channel;

use crate::identity::IdentityArgs;

mod render;

pub use render::{print_connection, print_test, ts};

/// Where the proxy is and who we are.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Proxy address, e.g. https://localhost:7443.
    #[arg(long, env = "AIRLOCK_SERVER", value_name = "URL")]
    pub server: String,
    /// Which mTLS identity to present.
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Print JSON instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// The credential of a create or rotate.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct CredentialArgs {
    /// File holding the client secret value (`-` for stdin). Option A of the setup guide.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// File holding the combined certificate + private key PEM (`-` for stdin). Option B.
    #[arg(long, value_name = "FILE")]
    pub certificate_file: Option<PathBuf>,
}

/// Assertion algorithm flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Assertion {
    /// PS256 with x5t#S256 (default).
    Ps256,
    /// RS256 with x5t.
    Rs256,
}

/// `connection` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConnectionCommand {
    /// Create a connection (the "Connect" form).
    Create {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
        /// Directory (tenant) ID: a GUID, or the tenant domain.
        #[arg(long)]
        tenant: String,
        /// Application (client) ID.
        #[arg(long)]
        app: String,
        /// Microsoft 365 tenant domain, e.g. contoso.onmicrosoft.com.
        #[arg(long)]
        organization: String,
        /// Friendly name.
        #[arg(long, default_value = "")]
        name: String,
        /// The new credential.
        #[command(flatten)]
        credential: CredentialArgs,
        /// Assertion algorithm for a certificate.
        #[arg(long, value_enum)]
        assertion: Option<Assertion>,
        /// Entra ID authority host (sovereign clouds, the simulator).
        #[arg(long, value_name = "URL")]
        authority_host: Option<String>,
        /// Exchange Online host (sovereign clouds, the simulator).
        #[arg(long, value_name = "URL")]
        exchange_host: Option<String>,
    },
    /// List connections.
    List {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
    },
    /// Show one connection.
    Get {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
        /// Connection ID.
        id: String,
    },
    /// Change a connection's name or organization.
    Update {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
        /// Connection ID.
        id: String,
        /// New friendly name.
        #[arg(long)]
        name: Option<String>,
        /// New organization domain.
        #[arg(long)]
        organization: Option<String>,
    },
    /// Replace a connection's secret or certificate.
    Rotate {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
        /// Connection ID.
        id: String,
        /// The new credential.
        #[command(flatten)]
        credential: CredentialArgs,
        /// Assertion algorithm for a certificate.
        #[arg(long, value_enum)]
        assertion: Option<Assertion>,
    },
    /// Delete a connection and revoke its sessions.
    Delete {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
        /// Connection ID.
        id: String,
    },
    /// Get a token and call Get-OrganizationConfig; print the diagnosis.
    Test {
        /// Server and identity.
        #[command(flatten)]
        target: Target,
        /// Connection ID.
        id: String,
    },
}

async fn client(target: &Target) -> anyhow::Result<ConnectionAdminServiceClient<Channel>> {
    let tls = airlock_shared::tls::client_config(&target.identity.files()?)?;
    let channel = airlock_shared::tls::connect(&target.server, tls).await?;
    Ok(ConnectionAdminServiceClient::new(channel))
}

/// Turns a refusal into an error that shows the code and the remedy.
pub fn explain(status: tonic::Status) -> anyhow::Error {
    match AirlockError::from_status(&status) {
        Some(err) => anyhow::anyhow!("{err}\n  remedy: {}", err.remediation()),
        None => anyhow::anyhow!("{} ({:?})", status.message(), status.code()),
    }
}

fn read_secret(path: &PathBuf) -> anyhow::Result<SecretString> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(SecretString::new(text))
}

/// Builds the credential message from the flags.
pub fn credential(
    args: &CredentialArgs,
    assertion: Option<Assertion>,
) -> anyhow::Result<Credential> {
    let kind = match (&args.client_secret_file, &args.certificate_file) {
        (Some(path), _) => {
            let secret = read_secret(path)?;
            // A trailing newline from `echo secret > file` is never part of a secret value.
            credential::Kind::ClientSecret(
                secret
                    .expose_secret()
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            )
        }
        (None, Some(path)) => credential::Kind::Certificate(CertificateCredential {
            pem: read_secret(path)?.expose_secret().to_owned(),
            assertion_algorithm: match assertion {
                Some(Assertion::Rs256) => AssertionAlgorithm::Rs256,
                Some(Assertion::Ps256) | None => AssertionAlgorithm::Ps256,
            } as i32,
        }),
        (None, None) => anyhow::bail!("give --client-secret-file or --certificate-file"),
    };
    Ok(Credential { kind: Some(kind) })
}

fn environment(authority: Option<String>, exchange: Option<String>) -> Option<Environment> {
    (authority.is_some() || exchange.is_some()).then(|| Environment {
        authority_host: authority.unwrap_or_default(),
        exchange_host: exchange.unwrap_or_default(),
    })
}

/// What a subcommand produced, rendered as text or JSON.
enum Outcome {
    One(Box<Connection>, Vec<String>),
    Many(Vec<Connection>),
    Deleted(String, u32),
    Tested(airlock_proto::TestConnectionResponse),
}

/// Runs a `connection` subcommand. Returns false when a test found a problem.
pub async fn run(command: ConnectionCommand, out: &mut dyn Write) -> anyhow::Result<bool> {
    let json = match &command {
        ConnectionCommand::Create { target, .. }
        | ConnectionCommand::List { target }
        | ConnectionCommand::Get { target, .. }
        | ConnectionCommand::Update { target, .. }
        | ConnectionCommand::Rotate { target, .. }
        | ConnectionCommand::Delete { target, .. }
        | ConnectionCommand::Test { target, .. } => target.json,
    };
    let outcome = execute(command).await?;
    let ok = !matches!(&outcome, Outcome::Tested(t) if !t.ok);
    if json {
        let value = match &outcome {
            Outcome::One(c, warnings) => render::connection_json(c, warnings),
            Outcome::Many(list) => render::list_json(list),
            Outcome::Deleted(id, n) => {
                serde_json::json!({"connection_id": id, "revoked_sessions": n})
            }
            Outcome::Tested(t) => render::test_json(t),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(ok);
    }
    match &outcome {
        Outcome::One(c, warnings) => {
            for warning in warnings {
                writeln!(out, "warning: {warning}")?;
            }
            render::print_connection(out, c)?;
        }
        Outcome::Many(list) => render::print_list(out, list)?,
        Outcome::Deleted(id, n) => writeln!(out, "deleted {id}; {n} session(s) revoked")?,
        Outcome::Tested(t) => {
            render::print_test(out, t)?;
        }
    }
    Ok(ok)
}

async fn execute(command: ConnectionCommand) -> anyhow::Result<Outcome> {
    Ok(match command {
        ConnectionCommand::Create {
            target,
            tenant,
            app,
            organization,
            name,
            credential: cred,
            assertion,
            authority_host,
            exchange_host,
        } => {
            let request = CreateConnectionRequest {
                instance_name: name,
                tenant_id: tenant,
                app_id: app,
                organization,
                credential: Some(credential(&cred, assertion)?),
                environment: environment(authority_host, exchange_host),
            };
            let resp = client(&target)
                .await?
                .create_connection(request)
                .await
                .map_err(explain)?
                .into_inner();
            Outcome::One(Box::new(resp.connection.unwrap_or_default()), resp.warnings)
        }
        ConnectionCommand::List { target } => {
            Outcome::Many(list_all(&mut client(&target).await?).await?)
        }
        ConnectionCommand::Get { target, id } => {
            let resp = client(&target)
                .await?
                .get_connection(GetConnectionRequest { connection_id: id })
                .await
                .map_err(explain)?;
            Outcome::One(
                Box::new(resp.into_inner().connection.unwrap_or_default()),
                vec![],
            )
        }
        ConnectionCommand::Update {
            target,
            id,
            name,
            organization,
        } => {
            anyhow::ensure!(
                name.is_some() || organization.is_some(),
                "nothing to change: give --name or --organization"
            );
            let request = UpdateConnectionRequest {
                connection_id: id,
                instance_name: name,
                organization,
                environment: None,
            };
            let resp = client(&target)
                .await?
                .update_connection(request)
                .await
                .map_err(explain)?;
            Outcome::One(
                Box::new(resp.into_inner().connection.unwrap_or_default()),
                vec![],
            )
        }
        ConnectionCommand::Rotate {
            target,
            id,
            credential: cred,
            assertion,
        } => {
            let request = RotateCredentialRequest {
                connection_id: id,
                credential: Some(credential(&cred, assertion)?),
            };
            let resp = client(&target)
                .await?
                .rotate_credential(request)
                .await
                .map_err(explain)?
                .into_inner();
            Outcome::One(Box::new(resp.connection.unwrap_or_default()), resp.warnings)
        }
        ConnectionCommand::Delete { target, id } => {
            let request = DeleteConnectionRequest {
                connection_id: id.clone(),
            };
            let resp = client(&target)
                .await?
                .delete_connection(request)
                .await
                .map_err(explain)?;
            Outcome::Deleted(id, resp.into_inner().revoked_sessions)
        }
        ConnectionCommand::Test { target, id } => {
            let request = TestConnectionRequest { connection_id: id };
            Outcome::Tested(
                client(&target)
                    .await?
                    .test_connection(request)
                    .await
                    .map_err(explain)?
                    .into_inner(),
            )
        }
    })
}

async fn list_all(
    client: &mut ConnectionAdminServiceClient<Channel>,
) -> anyhow::Result<Vec<Connection>> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_connections(ListConnectionsRequest {
                page_size: 100,
                page_token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        all.extend(page.connections);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}
