//! airlockctl: Airlock's operator tool, as a library so tests and the demo share its code.
//!
//! # Layout
//! - [`audit`] — `airlockctl audit verify|query`: checking and reading the proxy's audit log.
//! - [`connection`] — `airlockctl connection …`: the ConnectionAdmin API (admin role).
//! - [`pki`] — the development PKI (`airlockctl pki init`).
//! - [`identity`] — choosing an mTLS identity from `--tls-dir`/`--as` or explicit files.
//! - [`health`] — `airlockctl health`: a gRPC health check over mTLS.
//! - [`demo`] — `airlockctl demo`: the one-command walk-through against in-process servers.

pub mod audit;
pub mod connection;
pub mod demo;
pub mod health;
pub mod identity;
pub mod pki;
