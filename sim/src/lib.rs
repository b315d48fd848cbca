//! airlock-sim: a faithful local Entra ID token endpoint and Exchange Online admin endpoint,
//! for Airlock's tests and demo. Behaviour follows `shared/reference/` (see `sim/README.md`).
//!
//! # Layout
//! - [`contoso`]: IDs and TEST ONLY credentials of the committed sample tenant
//! - [`fixture`]: the tenant fixture (TOML) — tenants, apps, credentials, roles, directory
//! - `state`: the running simulator's shared state built from the fixture
//! - `entra/`: token endpoint (client secret, client assertion), discovery, JWKS, AADSTS errors
//! - `exchange/`: `InvokeCommand` — auth and RBAC, parameter decoding, cmdlets, envelopes, paging
//! - [`directory`]: the in-memory mailboxes, groups and permissions, identity resolution
//! - [`faults`]: fault injection (latency, 5xx, 429, Entra outage, read-after-write lag)
//! - [`counters`]: request counters per app/cmdlet and outcome
//! - [`control`]: [`SimControl`] and the `/_sim/` JSON API
//! - [`clock`]: the adjustable simulator clock
//! - `tls`: the CA and leaf generated at start-up
//! - [`server`]: [`SimServer`], the HTTPS listener (rustls + hyper, HTTP/1.1 and h2)

pub mod clock;
pub mod contoso;
pub mod control;
pub mod counters;
pub mod directory;
mod entra;
mod exchange;
pub mod faults;
pub mod fixture;
pub mod server;
mod state;
mod tls;

pub use control::SimControl;
pub use counters::CounterSnapshot;
pub use directory::DirectorySnapshot;
pub use entra::AccessClaims;
pub use exchange::cmdlet_names;
pub use faults::Faults;
pub use fixture::{Fixture, FixtureError};
pub use server::SimServer;

/// Why the simulator could not start or a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Socket error.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// TLS set-up failed.
    #[error("tls: {0}")]
    Tls(String),
    /// A key could not be generated or used.
    #[error("crypto: {0}")]
    Crypto(&'static str),
    /// The fixture is inconsistent.
    #[error("fixture: {0}")]
    Fixture(String),
    /// No app with this client ID.
    #[error("unknown app {0}")]
    UnknownApp(uuid::Uuid),
    /// No tenant with this ID or domain.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
}

impl From<FixtureError> for SimError {
    fn from(e: FixtureError) -> Self {
        SimError::Fixture(e.to_string())
    }
}
