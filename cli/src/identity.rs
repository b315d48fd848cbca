//! Choosing the mTLS identity a command presents: `--tls-dir DIR --as NAME` picks
//! `DIR/ca.pem`, `DIR/NAME.pem` and `DIR/NAME.key` (the layout `pki init` writes); `--ca`,
//! `--cert` and `--key` override single files.

use std::path::PathBuf;

use airlock_shared::tls::TlsFiles;

/// Identity flags shared by every command that talks to a server.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityArgs {
    /// Directory written by `airlockctl pki init`.
    #[arg(long, env = "AIRLOCK_TLS_DIR", value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Which identity in --tls-dir to use: admin, orchestrator, worker-1, ...
    #[arg(
        long = "as",
        id = "as_identity",
        env = "AIRLOCK_AS",
        value_name = "NAME",
        default_value = "admin"
    )]
    pub name: String,
    /// CA certificate (overrides --tls-dir).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (overrides --tls-dir).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (overrides --tls-dir).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

impl IdentityArgs {
    /// The three files, or an error saying which flag is missing.
    pub fn files(&self) -> anyhow::Result<TlsFiles> {
        let from_dir = |suffix: &str| self.tls_dir.as_ref().map(|d| d.join(suffix));
        let pick = |explicit: &Option<PathBuf>, suffix: String, flag: &str| {
            explicit.clone().or_else(|| from_dir(&suffix)).ok_or_else(|| {
                anyhow::anyhow!("no {flag} given: pass --tls-dir DIR (from `airlockctl pki init`) or --{flag} FILE")
            })
        };
        Ok(TlsFiles {
            ca: pick(&self.ca, "ca.pem".into(), "ca")?,
            cert: pick(&self.cert, format!("{}.pem", self.name), "cert")?,
            key: pick(&self.key, format!("{}.key", self.name), "key")?,
        })
    }

    /// Identity `name` from a PKI directory.
    pub fn from_dir(dir: impl Into<PathBuf>, name: &str) -> Self {
        Self {
            tls_dir: Some(dir.into()),
            name: name.to_owned(),
            ca: None,
            cert: None,
            key: None,
        }
    }
}
