//! airlock-shared: the foundation every Airlock program builds on. It opens no sockets and
//! starts no processes of its own.
//!
//! # Layout
//! - [`secret`] — secret newtypes (redacted `Debug`, zeroized on drop, `expose_secret()`).
//! - [`catalogue`] — the error catalogue and the one conversion to `tonic::Status`.

pub mod catalogue;
pub mod secret;

pub use catalogue::{AirlockError, ErrorCode};
pub use secret::{SecretBytes, SecretString};
