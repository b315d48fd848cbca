//! `airlockctl demo`: the one-command walk-through against the built-in simulator. Everything
//! runs in this process on 127.0.0.1 (ephemeral ports) with real mTLS between the parts:
//!
//! 1. a development PKI and the default role policy;
//! 2. `airlock-sim` — a local Entra ID and Exchange Online with the contoso tenant;
//! 3. `airlock-proxy` — initialised (master key, sealed store) and serving over mTLS;
//! 4. an admin creates a client-secret and a certificate connection (secrets read from files);
//! 5. TestConnection on each, and on two broken setups, showing the diagnosis and remedy;
//! 6. an orchestrator mints a job-scoped session handle (one cmdlet, one worker, 5 minutes);
//! 7. the worker trades it for a token and runs Get-Mailbox on Exchange; another worker, a
//!    tampered handle and a revoked handle are refused;
//! 8. the role policy and mTLS refuse a worker calling admin methods and an anonymous client;
//!    finally the audit log is verified against the proxy's signed checkpoint.
//!
//! Each step checks what Airlock promises and the demo fails loudly if it does not hold.

use std::{io::Write, os::unix::fs::PermissionsExt as _, path::Path, path::PathBuf};

use airlock_proto::{
    ErrorCode, ListConnectionsRequest, TestConnectionRequest,
    connection_admin_service_client::ConnectionAdminServiceClient,
};
use airlock_shared::{AirlockError, shutdown::Shutdown, tls};
use airlock_sim::{Fixture, SimServer, contoso};
use anyhow::Context as _;
use tonic::transport::Channel;

mod job;

use crate::{
    connection::{CredentialArgs, credential, print_connection, print_test},
    identity::IdentityArgs,
    pki::DevPki,
};

/// Demo options.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where to keep the demo's files (PKI, proxy store, configs); a fresh temporary directory
    /// when unset. Existing demo files there are replaced.
    pub dir: Option<PathBuf>,
}

/// Runs the demo, narrating to `out`.
pub async fn run(opts: &DemoOptions, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let temp;
    let dir = match &opts.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            for stale in ["proxy.db", "proxy.db-wal", "proxy.db-shm", "master.key"] {
                let _ = std::fs::remove_file(dir.join(stale));
            }
            let _ = std::fs::remove_dir_all(dir.join("audit"));
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path().to_owned()
        }
    };
    let pki = DevPki::generate(crate::pki::DEFAULT_TRUST_DOMAIN, 2)?;
    pki.write(&dir.join("pki"), true)?;
    writeln!(
        out,
        "[1/8] development PKI in {}",
        dir.join("pki").display()
    )?;
    for identity in &pki.identities {
        writeln!(out, "      {:<13} {}", identity.name, identity.spiffe_id)?;
    }

    let sim = SimServer::start(Fixture::contoso())
        .await
        .context("cannot start the simulator")?;
    std::fs::write(dir.join("sim-ca.pem"), sim.ca_cert_pem())?;
    writeln!(
        out,
        "[2/8] simulator (Entra ID + Exchange Online, tenant {}) on {}",
        contoso::DOMAIN,
        sim.authority()
    )?;

    let shutdown = Shutdown::new();
    let (addr, proxy_task) = start_proxy(&dir, &shutdown).await?;
    writeln!(
        out,
        "[3/8] credential proxy initialised (master key 0600, sealed SQLite store) and serving mTLS on {addr}"
    )?;

    let admin = admin_client(&dir, &addr, "admin").await?;
    let ids = create_connections(&dir, &sim, admin.clone(), out).await?;
    test_connections(&ids, admin.clone(), out).await?;
    job::run(&dir, &addr, &ids[0].id, sim.ca_cert_pem(), out).await?;
    refusals(&dir, &addr, &pki, out).await?;

    shutdown.trigger();
    proxy_task
        .await?
        .context("the proxy stopped with an error")?;
    sim.shutdown().await;
    audit(&dir, out)?;
    writeln!(
        out,
        "done: secrets stayed in the proxy's sealed store; every call was mTLS-authenticated and policy-checked"
    )?;
    Ok(())
}

/// A proxy serving in this process.
pub type ProxyTask = tokio::task::JoinHandle<Result<(), airlock_proxy::StartError>>;

/// Writes `dir/proxy.toml` (PKI in `dir/pki`, store, master key and audit log in `dir`, the
/// simulator's CA from `dir/sim-ca.pem`), initialises the proxy and serves it on an ephemeral
/// port until `shutdown`. Returns its address (`https://localhost:PORT`). Tests reuse it.
pub async fn start_proxy(dir: &Path, shutdown: &Shutdown) -> anyhow::Result<(String, ProxyTask)> {
    let pki = dir.join("pki");
    let config_text = format!(
        r#"listen = "127.0.0.1:0"
policy_file = "{pki}/policy.toml"

[tls]
ca = "{pki}/ca.pem"
cert = "{pki}/proxy.pem"
key = "{pki}/proxy.key"

[store]
path = "{dir}/proxy.db"
master_key_file = "{dir}/master.key"

[entra]
extra_ca_file = "{dir}/sim-ca.pem"

[audit]
dir = "{dir}/audit"
"#,
        pki = pki.display(),
        dir = dir.display()
    );
    let config_path = dir.join("proxy.toml");
    std::fs::write(&config_path, config_text)?;
    let config =
        airlock_proxy::ProxyConfig::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    airlock_proxy::init(&config).await?;
    let proxy = airlock_proxy::open(&config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = format!("https://localhost:{}", listener.local_addr()?.port());
    let shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        airlock_proxy::serve(
            &config,
            proxy,
            listener,
            async move { shutdown.wait().await },
        )
        .await
    });
    Ok((addr, task))
}

async fn admin_client(
    dir: &Path,
    addr: &str,
    name: &str,
) -> anyhow::Result<ConnectionAdminServiceClient<Channel>> {
    let config = tls::client_config(&IdentityArgs::from_dir(dir.join("pki"), name).files()?)?;
    Ok(ConnectionAdminServiceClient::new(
        tls::connect(addr, config).await?,
    ))
}

/// A connection the demo created: its label and ID.
struct Created {
    label: &'static str,
    id: String,
    expect: Option<ErrorCode>,
}

fn secret_file(dir: &Path, name: &str, value: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, value)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

async fn create_connections(
    dir: &Path,
    sim: &SimServer,
    mut admin: ConnectionAdminServiceClient<Channel>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Vec<Created>> {
    let secret = |name: &str, value: &str| -> anyhow::Result<CredentialArgs> {
        Ok(CredentialArgs {
            client_secret_file: Some(secret_file(dir, name, value)?),
            certificate_file: None,
        })
    };
    let cert = CredentialArgs {
        client_secret_file: None,
        certificate_file: Some(contoso::combined_pem_path()),
    };
    let plan: Vec<(&'static str, &str, CredentialArgs, Option<ErrorCode>)> = vec![
        (
            "contoso (client secret)",
            contoso::SECRET_APP_ID,
            secret("secret.txt", contoso::SECRET_APP_SECRET)?,
            None,
        ),
        ("contoso (certificate)", contoso::CERT_APP_ID, cert, None),
        (
            "typo in the secret",
            contoso::SECRET_APP_ID,
            secret("typo.txt", "TEST-ONLY~not+the+secret")?,
            Some(ErrorCode::CredentialInvalid),
        ),
        (
            "no Exchange service principal",
            contoso::UNREGISTERED_APP_ID,
            secret("unregistered.txt", contoso::UNREGISTERED_APP_SECRET)?,
            Some(ErrorCode::SpNotRegistered),
        ),
    ];
    writeln!(
        out,
        "[4/8] admin creates connections (secrets read from 0600 files, never arguments):"
    )?;
    let mut created = Vec::new();
    for (label, app, cred, expect) in plan {
        let request = airlock_proto::CreateConnectionRequest {
            instance_name: label.to_owned(),
            tenant_id: contoso::TENANT_ID.to_owned(),
            app_id: app.to_owned(),
            organization: contoso::DOMAIN.to_owned(),
            credential: Some(credential(&cred, None)?),
            environment: Some(airlock_proto::Environment {
                authority_host: sim.authority(),
                exchange_host: sim.exchange(),
            }),
        };
        let resp = admin
            .create_connection(request)
            .await
            .map_err(crate::connection::explain)?
            .into_inner();
        let connection = resp.connection.context("no connection in the answer")?;
        if created.len() < 2 {
            writeln!(out, "      --- {label}")?;
            let mut text = Vec::new();
            print_connection(&mut text, &connection)?;
            for line in String::from_utf8_lossy(&text).lines() {
                writeln!(out, "      {line}")?;
            }
        }
        created.push(Created {
            label,
            id: connection.connection_id,
            expect,
        });
    }
    let listed = admin
        .list_connections(ListConnectionsRequest::default())
        .await
        .map_err(crate::connection::explain)?;
    writeln!(
        out,
        "      ({} connections stored; no API returns a secret or key)",
        listed.into_inner().connections.len()
    )?;
    Ok(created)
}

async fn test_connections(
    created: &[Created],
    mut admin: ConnectionAdminServiceClient<Channel>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    writeln!(
        out,
        "[5/8] TestConnection: get a token from Entra ID, call Get-OrganizationConfig on Exchange"
    )?;
    for c in created {
        writeln!(out, "      --- {}", c.label)?;
        let resp = admin
            .test_connection(TestConnectionRequest {
                connection_id: c.id.clone(),
            })
            .await
            .map_err(crate::connection::explain)?
            .into_inner();
        let mut text = Vec::new();
        print_test(&mut text, &resp)?;
        for line in String::from_utf8_lossy(&text).lines() {
            writeln!(out, "    {line}")?;
        }
        let got = resp
            .error
            .as_ref()
            .and_then(|e| ErrorCode::try_from(e.code).ok());
        anyhow::ensure!(
            got == c.expect,
            "{}: expected {:?}, got {:?}",
            c.label,
            c.expect,
            got
        );
    }
    Ok(())
}

async fn refusals(
    dir: &Path,
    addr: &str,
    pki: &DevPki,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let mut worker = admin_client(dir, addr, "worker-1").await?;
    let status = worker
        .list_connections(ListConnectionsRequest::default())
        .await
        .map(|_| ())
        .expect_err_or("the role policy let a worker call an admin method")?;
    let err =
        AirlockError::from_status(&status).context("refusal without an Airlock error code")?;
    anyhow::ensure!(
        err.code() == ErrorCode::DeniedByPolicy,
        "unexpected refusal: {err}"
    );
    writeln!(
        out,
        "[8/8] worker-1 calling ConnectionAdminService/ListConnections → {:?} {}",
        status.code(),
        err.code().reason()
    )?;
    let anonymous = tls::anonymous_client_config(pki.ca.cert_pem().as_bytes())?;
    match crate::health::check(addr, anonymous, "").await {
        Ok(status) => anyhow::bail!("a client without a certificate got through ({status:?})"),
        Err(e) => writeln!(
            out,
            "      client without a certificate → refused ({})",
            e.to_string().lines().next().unwrap_or_default()
        )?,
    }
    Ok(())
}

/// Verifies the audit log against the signed checkpoint the proxy wrote at shutdown, and shows
/// the demo job's events.
fn audit(dir: &Path, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let audit_dir = dir.join("audit");
    let args = crate::audit::VerifyArgs {
        files: vec![audit_dir.clone()],
        expect_last_seq: None,
        expect_last_hash: None,
        checkpoint: Some(audit_dir.join("audit.checkpoints")),
        checkpoint_key: Some(audit_dir.join("audit-checkpoint.pub")),
    };
    let mut verified = Vec::new();
    crate::audit::verify(&args, &mut verified)?;
    writeln!(
        out,
        "      audit log: {}",
        String::from_utf8_lossy(&verified)
            .lines()
            .next()
            .unwrap_or_default()
    )?;
    let query = crate::audit::QueryArgs {
        files: vec![audit_dir.clone()],
        job: Some(job::JOB_ID.to_owned()),
        connection: None,
        actor: None,
        event: None,
        outcome: None,
        since: None,
        until: None,
        format: crate::audit::Format::Table,
    };
    let mut table = Vec::new();
    crate::audit::query(&query, &mut table)?;
    writeln!(
        out,
        "      events of {} (airlockctl audit query {} --job {}):",
        job::JOB_ID,
        audit_dir.display(),
        job::JOB_ID
    )?;
    for line in String::from_utf8_lossy(&table).lines() {
        writeln!(out, "      {}", line.trim_end())?;
    }
    Ok(())
}

/// `Result<(), E>` → the error, or a failure when the call unexpectedly succeeded.
trait ExpectErr<E> {
    fn expect_err_or(self, msg: &str) -> anyhow::Result<E>;
}

impl<E> ExpectErr<E> for Result<(), E> {
    fn expect_err_or(self, msg: &str) -> anyhow::Result<E> {
        match self {
            Ok(()) => Err(anyhow::anyhow!("{msg}")),
            Err(e) => Ok(e),
        }
    }
}
