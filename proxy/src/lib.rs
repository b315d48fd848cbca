//! airlock-proxy: the privileged credential proxy.
//!
//! # Layout
//! - [`seal`] — AES-256-GCM sealing under the master key; the master key file.
//! - [`store`] — the connection store trait, its SQLite backend and the [`store::Vault`].

pub mod seal;
pub mod store;
pub mod pem;
pub mod tokens;
pub mod admin;
