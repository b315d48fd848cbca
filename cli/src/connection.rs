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

/// Where the proxy is and who we are.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Proxy address, e.g. https://localhost:7443.
    #[arg(long, env = "AIRLOCK_SERVER", value_name = "URL")]
    pub server: String,
    /// Which mTLS identity to present.
    #[command(flatten)]
    pub identity: IdentityArgs,
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

/// Prints a connection as aligned `key: value` lines.
pub fn print_connection(out: &mut dyn Write, c: &Connection) -> std::io::Result<()> {
    let env = c.environment.clone().unwrap_or_default();
    writeln!(out, "id:            {}", c.connection_id)?;
    writeln!(out, "name:          {}", c.instance_name)?;
    writeln!(out, "tenant:        {}", c.tenant_id)?;
    writeln!(out, "app:           {}", c.app_id)?;
    writeln!(out, "organization:  {}", c.organization)?;
    writeln!(
        out,
        "auth method:   {}",
        c.auth_method()
            .as_str_name()
            .trim_start_matches("AUTH_METHOD_")
    )?;
    writeln!(out, "authority:     {}", env.authority_host)?;
    writeln!(out, "exchange:      {}", env.exchange_host)?;
    if let Some(cert) = &c.certificate {
        writeln!(
            out,
            "certificate:   {} ({} bits, {})",
            cert.subject,
            cert.key_bits,
            cert.assertion_algorithm()
                .as_str_name()
                .trim_start_matches("ASSERTION_ALGORITHM_")
        )?;
        writeln!(out, "  sha1:        {}", cert.sha1_thumbprint)?;
        writeln!(out, "  sha256:      {}", cert.sha256_thumbprint)?;
        writeln!(
            out,
            "  valid:       {} .. {}",
            ts(&cert.not_before),
            ts(&cert.not_after)
        )?;
    }
    writeln!(out, "created:       {}", ts(&c.create_time))?;
    writeln!(out, "rotated:       {}", ts(&c.credential_rotate_time))?;
    writeln!(out, "version:       {}", c.version)
}

/// Formats a protobuf timestamp as RFC 3339 (UTC).
pub fn ts(t: &Option<prost_types::Timestamp>) -> String {
    let Some(t) = t else { return "-".into() };
    time::OffsetDateTime::from_unix_timestamp(t.seconds)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

fn environment(authority: Option<String>, exchange: Option<String>) -> Option<Environment> {
    (authority.is_some() || exchange.is_some()).then(|| Environment {
        authority_host: authority.unwrap_or_default(),
        exchange_host: exchange.unwrap_or_default(),
    })
}

/// Runs a `connection` subcommand. Returns false when a test found a problem.
pub async fn run(command: ConnectionCommand, out: &mut dyn Write) -> anyhow::Result<bool> {
    match command {
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
            for warning in &resp.warnings {
                writeln!(out, "warning: {warning}")?;
            }
            print_connection(out, &resp.connection.unwrap_or_default())?;
        }
        ConnectionCommand::List { target } => {
            let mut client = client(&target).await?;
            let mut page_token = String::new();
            let h = ["ID", "NAME", "AUTH", "ORGANIZATION", "CREATED"];
            writeln!(
                out,
                "{:<36}  {:<20}  {:<13}  {:<30}  {}",
                h[0], h[1], h[2], h[3], h[4]
            )?;
            loop {
                let page = client
                    .list_connections(ListConnectionsRequest {
                        page_size: 100,
                        page_token,
                    })
                    .await
                    .map_err(explain)?
                    .into_inner();
                for c in &page.connections {
                    let auth = c
                        .auth_method()
                        .as_str_name()
                        .trim_start_matches("AUTH_METHOD_")
                        .to_owned();
                    writeln!(
                        out,
                        "{:<36}  {:<20}  {:<13}  {:<30}  {}",
                        c.connection_id,
                        c.instance_name,
                        auth,
                        c.organization,
                        ts(&c.create_time)
                    )?;
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
        ConnectionCommand::Get { target, id } => {
            let resp = client(&target)
                .await?
                .get_connection(GetConnectionRequest { connection_id: id })
                .await
                .map_err(explain)?;
            print_connection(out, &resp.into_inner().connection.unwrap_or_default())?;
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
            print_connection(out, &resp.into_inner().connection.unwrap_or_default())?;
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
            for warning in &resp.warnings {
                writeln!(out, "warning: {warning}")?;
            }
            print_connection(out, &resp.connection.unwrap_or_default())?;
        }
        ConnectionCommand::Delete { target, id } => {
            let resp = client(&target)
                .await?
                .delete_connection(DeleteConnectionRequest {
                    connection_id: id.clone(),
                })
                .await
                .map_err(explain)?;
            writeln!(
                out,
                "deleted {id}; {} session(s) revoked",
                resp.into_inner().revoked_sessions
            )?;
        }
        ConnectionCommand::Test { target, id } => {
            let resp = client(&target)
                .await?
                .test_connection(TestConnectionRequest { connection_id: id })
                .await
                .map_err(explain)?;
            return Ok(print_test(out, &resp.into_inner())?);
        }
    }
    Ok(true)
}

/// Prints a TestConnection diagnosis; returns whether the connection works.
pub fn print_test(
    out: &mut dyn Write,
    resp: &airlock_proto::TestConnectionResponse,
) -> std::io::Result<bool> {
    for step in &resp.steps {
        let ms = step
            .elapsed
            .as_ref()
            .map_or(0, |d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000);
        writeln!(
            out,
            "  {:<9} {} ({ms} ms)",
            step.name,
            if step.ok { "ok" } else { "FAILED" }
        )?;
    }
    if resp.ok {
        writeln!(
            out,
            "  OK: Exchange organization {:?}",
            resp.exchange_organization
        )?;
    } else if let Some(err) = &resp.error {
        let code = airlock_proto::ErrorCode::try_from(err.code)
            .map(|c| c.reason())
            .unwrap_or("UNKNOWN");
        writeln!(out, "  {code}: {}", err.message)?;
        writeln!(out, "  remedy: {}", err.remediation)?;
        if err.retryable {
            writeln!(out, "  (retryable)")?;
        }
    }
    Ok(resp.ok)
}
