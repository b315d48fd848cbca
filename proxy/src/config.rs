//! The proxy's configuration: TOML plus `AIRLOCK_PROXY__…` environment overrides, loaded by
//! `airlock_shared::config` (unknown keys rejected, all problems reported at once). Secrets and
//! keys appear only as file paths.
//!
//! ```toml
//! listen = "0.0.0.0:7443"
//! policy_file = "/etc/airlock/policy.toml"
//! [tls]
//! ca = "/etc/airlock/ca.pem"
//! cert = "/etc/airlock/proxy.pem"
//! key = "/etc/airlock/proxy-key.pem"
//! [store]
//! path = "/var/lib/airlock/proxy.db"
//! master_key_file = "/var/lib/airlock/master.key"
//! [entra]
//! extra_ca_file = "/etc/airlock/sim-ca.pem"   # optional: the simulator's CA
//! [sessions]                    # optional; defaults shown
//! default_ttl_secs = 900
//! max_ttl_secs = 3600
//! clock_skew_secs = 30
//! [audit]                       # optional; defaults shown except dir (default: `audit/` next to the store)
//! dir = "/var/lib/airlock/audit"
//! max_file_bytes = 67108864     # rotate audit.log beyond 64 MiB
//! fsync = "always"              # or "never" (flush to the OS only)
//! write_deadline_ms = 2000      # fail requests with AUDIT_UNAVAILABLE after this
//! stdout = false                # also print each line (container log shipping)
//! checkpoint_interval_secs = 60 # signed checkpoints; 0 = only at shutdown
//! commit_delay_us = 400         # group commit under load: wait this long for more events; 0 = off
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_shared::config::{ConfigError, Validate};
use airlock_shared::tls::TlsFiles;
use serde::Deserialize;

pub use crate::audit::AuditConfig;

/// Environment override prefix.
pub const ENV_PREFIX: &str = "AIRLOCK_PROXY";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct ProxyConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Role policy file (see `airlock_shared::policy`).
    pub policy_file: PathBuf,
    /// The proxy's mTLS identity.
    pub tls: TlsFiles,
    /// Store location and master key.
    pub store: StoreConfig,
    /// Outbound HTTPS to Entra ID and Exchange.
    #[serde(default)]
    pub entra: EntraConfig,
    /// Serve gRPC reflection.
    #[serde(default)]
    pub reflection: bool,
    /// Seconds in-flight calls get after shutdown is requested.
    #[serde(default = "default_grace")]
    pub grace_secs: u64,
    /// Session handle lifetimes.
    #[serde(default)]
    pub sessions: SessionsConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
}

/// `[sessions]`: handle lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SessionsConfig {
    /// TTL of a handle whose MintSession sets none, seconds.
    pub default_ttl_secs: u64,
    /// Longest TTL MintSession accepts, seconds.
    pub max_ttl_secs: u64,
    /// Clock difference allowed when checking expiry, seconds (at most
    /// [`MAX_CLOCK_SKEW_SECS`]).
    pub clock_skew_secs: u64,
}

/// The largest `clock_skew_secs` accepted. The store keeps each session (and so its
/// revocation) until this long after its handle expires, so a revoked handle is refused for as
/// long as any configuration could still accept it, across restarts and skew changes.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            default_ttl_secs: 900,
            max_ttl_secs: 3600,
            clock_skew_secs: 30,
        }
    }
}

/// Store settings.
#[derive(Debug, Clone, Deserialize)]
pub struct StoreConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// The master key file (32 bytes, mode 0600), created by `airlock-proxy init`.
    pub master_key_file: PathBuf,
}

/// Outbound HTTPS settings.
#[derive(Debug, Clone, Deserialize)]
pub struct EntraConfig {
    /// Extra CA certificate(s) to trust (PEM), e.g. the simulator's CA.
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
    /// Timeout of one HTTP request, seconds.
    #[serde(default = "default_timeout")]
    pub http_timeout_secs: u64,
    /// Longest Retry-After a token request waits out before failing with THROTTLED, seconds.
    #[serde(default = "default_max_wait")]
    pub max_retry_wait_secs: u64,
}

impl Default for EntraConfig {
    fn default() -> Self {
        Self {
            extra_ca_file: None,
            http_timeout_secs: default_timeout(),
            max_retry_wait_secs: default_max_wait(),
        }
    }
}

fn default_grace() -> u64 {
    30
}
fn default_timeout() -> u64 {
    30
}
fn default_max_wait() -> u64 {
    10
}

impl ProxyConfig {
    /// Loads and validates `path` with environment overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        airlock_shared::config::load(path, ENV_PREFIX)
    }

    /// The audit directory: `audit.dir`, or `audit/` next to the store file when unset (never
    /// relative to wherever the proxy happened to be started).
    pub fn audit_dir(&self) -> PathBuf {
        if !self.audit.dir.as_os_str().is_empty() {
            return self.audit.dir.clone();
        }
        let store_dir = self
            .store
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        store_dir.join("audit")
    }

    /// The audit configuration with [`ProxyConfig::audit_dir`] filled in.
    pub fn audit_config(&self) -> AuditConfig {
        AuditConfig {
            dir: self.audit_dir(),
            ..self.audit.clone()
        }
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_secs)
    }
}

fn require_file(problems: &mut Vec<String>, key: &str, path: &Path) {
    if !path.is_file() {
        problems.push(format!("{key}: file {} does not exist", path.display()));
    }
}

impl Validate for ProxyConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        require_file(problems, "policy_file", &self.policy_file);
        require_file(problems, "tls.ca", &self.tls.ca);
        require_file(problems, "tls.cert", &self.tls.cert);
        require_file(problems, "tls.key", &self.tls.key);
        if let Some(ca) = &self.entra.extra_ca_file {
            require_file(problems, "entra.extra_ca_file", ca);
        }
        match self.store.path.parent() {
            Some(dir) if dir.as_os_str().is_empty() || dir.is_dir() => {}
            _ => problems.push(format!(
                "store.path: directory of {} does not exist",
                self.store.path.display()
            )),
        }
        if !(1..=600).contains(&self.entra.http_timeout_secs) {
            problems.push("entra.http_timeout_secs: must be 1 to 600".into());
        }
        if self.entra.max_retry_wait_secs > 300 {
            problems.push(
                "entra.max_retry_wait_secs: at most 300 (0 fails every throttled request at once)"
                    .into(),
            );
        }
        if self.grace_secs > 3600 {
            problems.push("grace_secs: at most 3600".into());
        }
        let s = &self.sessions;
        if !(1..=86_400).contains(&s.max_ttl_secs) {
            problems.push("sessions.max_ttl_secs: must be 1 to 86400".into());
        }
        if s.default_ttl_secs == 0 || s.default_ttl_secs > s.max_ttl_secs {
            problems.push("sessions.default_ttl_secs: must be 1 to max_ttl_secs".into());
        }
        if s.clock_skew_secs > MAX_CLOCK_SKEW_SECS {
            problems.push(format!(
                "sessions.clock_skew_secs: at most {MAX_CLOCK_SKEW_SECS}"
            ));
        }
        if !(4096..=(1 << 40)).contains(&self.audit.max_file_bytes) {
            problems
                .push("audit.max_file_bytes: must be 4096 (4 KiB) to 1099511627776 (1 TiB)".into());
        }
        if self.audit.checkpoint_interval_secs > 86_400 {
            problems.push(
                "audit.checkpoint_interval_secs: at most 86400 (a day); 0 = only at shutdown"
                    .into(),
            );
        }
        if !(10..=60_000).contains(&self.audit.write_deadline_ms) {
            problems.push("audit.write_deadline_ms: must be 10 to 60000".into());
        }
        if self.audit.commit_delay_us > 100_000
            || self.audit.commit_delay_us / 1000 >= self.audit.write_deadline_ms / 2
        {
            problems.push(
                "audit.commit_delay_us: at most 100000 (100 ms) and under half of write_deadline_ms; 0 turns it off"
                    .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn text(dir: &Path) -> String {
        for f in ["policy.toml", "ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        format!(
            "listen = \"127.0.0.1:0\"\npolicy_file = \"{d}/policy.toml\"\n[tls]\nca = \"{d}/ca.pem\"\ncert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"\n[store]\npath = \"{d}/proxy.db\"\nmaster_key_file = \"{d}/master.key\"\n",
            d = dir.display()
        )
    }

    #[test]
    fn loads_with_defaults_and_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = [(
            "AIRLOCK_PROXY__ENTRA__HTTP_TIMEOUT_SECS".to_owned(),
            "5".to_owned(),
        )]
        .into();
        let c: ProxyConfig =
            airlock_shared::config::load_str(&text(dir.path()), "t", ENV_PREFIX, &env).unwrap();
        assert_eq!(c.entra.http_timeout_secs, 5);
        assert_eq!(c.grace_secs, 30);
        assert!(c.entra.extra_ca_file.is_none());
        assert!(format!("{c:?}").contains("master_key_file"));
        // No [audit] dir: the log goes next to the store, not into the working directory.
        assert_eq!(c.audit_dir(), dir.path().join("audit"));
        let mut explicit = c.clone();
        explicit.audit.dir = "/var/log/airlock".into();
        assert_eq!(
            explicit.audit_config().dir,
            std::path::Path::new("/var/log/airlock")
        );
    }

    /// Every problem loading `text` reports (it must fail).
    fn problems(text: &str) -> String {
        airlock_shared::config::load_str::<ProxyConfig>(text, "t", ENV_PREFIX, &BTreeMap::new())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reports_every_problem_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let bad = text(dir.path()).replace("policy.toml", "missing.toml")
            + "bogus = 1\n[entra]\nhttp_timeout_secs = 0\n";
        let all = problems(&bad);
        assert!(all.contains("bogus"), "{all}");
        assert!(all.contains("policy_file"), "{all}");
        assert!(all.contains("http_timeout_secs"), "{all}");
    }

    #[test]
    fn out_of_range_audit_and_entra_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad = text(dir.path())
            + "[entra]\nmax_retry_wait_secs = 9223372036854775807\n"
            + "[audit]\nmax_file_bytes = 0\ncheckpoint_interval_secs = 9223372036854775807\n";
        let all = problems(&bad);
        for field in [
            "entra.max_retry_wait_secs",
            "audit.max_file_bytes",
            "audit.checkpoint_interval_secs",
        ] {
            assert!(all.contains(field), "{field}: {all}");
        }
    }

    #[test]
    fn commit_delay_is_bounded_by_the_write_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let load = |audit: &str| {
            airlock_shared::config::load_str::<ProxyConfig>(
                &(text(dir.path()) + "[audit]\n" + audit),
                "t",
                ENV_PREFIX,
                &BTreeMap::new(),
            )
        };
        let c = load("").unwrap();
        assert_eq!(c.audit.timing().commit_delay, Duration::from_micros(400));
        assert!(load("commit_delay_us = 0\n").is_ok(), "0 turns it off");
        for bad in [
            "commit_delay_us = 100001\n",
            "write_deadline_ms = 10\ncommit_delay_us = 5000\n",
        ] {
            let err = load(bad).unwrap_err().to_string();
            assert!(err.contains("audit.commit_delay_us"), "{bad}: {err}");
        }
    }
}
