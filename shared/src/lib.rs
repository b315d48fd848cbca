//! airlock-shared: the foundation every Airlock program builds on. It opens no sockets and
//! starts no processes of its own.
//!
//! # Layout
//! - [`secret`] — secret newtypes (redacted `Debug`, zeroized on drop, `expose_secret()`).
//! - [`catalogue`] — the error catalogue and the one conversion to `tonic::Status`.
//! - [`identity`] — SPIFFE IDs from client certificates; the caller identity handlers see.
//! - [`policy`] — the role policy file (role → SPIFFE ID patterns → methods), default deny.
//! - [`tls`] — rustls (ring) mTLS server/client configurations from PEM files; tonic channels.
//! - [`authz`] — the tower layer that authorizes every RPC by full method name; refusal observer.
//! - [`coalesce`] — write coalescing below TLS: one system call per burst of HTTP/2 frames.
//! - [`server`] — the mTLS accept loop and [`server::serve`]: policy layer, health, reflection, drain.
//! - [`config`] — TOML + environment overrides into typed structs; unknown keys rejected; all errors at once.
//! - [`telemetry`] — tracing setup (JSON or human).
//! - [`shutdown`] — the shutdown switch and SIGTERM/SIGINT handling.
//! - [`audit`] — the audit log format: hash-chained records, fingerprints, checkpoints, verification.

pub mod catalogue;
pub mod coalesce;
pub mod secret;

pub use catalogue::{AirlockError, ErrorCode};
pub use secret::{SecretBytes, SecretString};
pub mod audit;
pub mod authz;
pub mod config;
pub mod identity;
pub mod policy;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
