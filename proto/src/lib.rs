//! The `airlock.v1` gRPC API: generated prost messages and tonic clients and servers.
//!
//! # Layout
//! - `airlock/v1/*.proto` — the contract (documented field by field); `build.rs` compiles it with
//!   protox, so no system `protoc` is needed.
//! - [`v1`] — the generated code, re-exported at the crate root.
//! - [`FILE_DESCRIPTOR_SET`] — the encoded descriptors, for gRPC server reflection.
//! - [`methods`] — the full gRPC method names used by role policies.
//! - `redact` — hand-written `Debug` for messages that carry a secret (client secret, PEM,
//!   handle, access token): their `Debug` prints lengths, never values.

mod redact;

/// The generated `airlock.v1` package.
#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "generated code; the .proto files carry the documentation"
)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/airlock.v1.rs"));
}

pub use v1::*;

/// Encoded `FileDescriptorSet` of the `airlock.v1` files (and their imports), for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/airlock_v1_descriptor.bin"));

/// Full gRPC service names, as they appear in the `:path` of a request (`/{service}/{method}`)
/// and in role policy files.
pub mod methods {
    /// `airlock.v1.ConnectionAdminService` (admin role).
    pub const CONNECTION_ADMIN: &str = "airlock.v1.ConnectionAdminService";
    /// `airlock.v1.SessionBrokerService` (orchestrator role).
    pub const SESSION_BROKER: &str = "airlock.v1.SessionBrokerService";
    /// `airlock.v1.TokenBrokerService` (worker role).
    pub const TOKEN_BROKER: &str = "airlock.v1.TokenBrokerService";
    /// `airlock.v1.WorkerService` (orchestrator role).
    pub const WORKER: &str = "airlock.v1.WorkerService";
    /// `airlock.v1.AuditService` (admin role).
    pub const AUDIT: &str = "airlock.v1.AuditService";
    /// `grpc.health.v1.Health` (every authenticated caller).
    pub const HEALTH: &str = "grpc.health.v1.Health";
    /// `grpc.reflection.v1.ServerReflection` (when reflection is switched on).
    pub const REFLECTION: &str = "grpc.reflection.v1.ServerReflection";
    /// `grpc.reflection.v1alpha.ServerReflection` (older reflection clients).
    pub const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";
}

impl ErrorCode {
    /// The catalogue code as clients see it in `ErrorInfo.reason`: the enum value name without
    /// the `ERROR_CODE_` prefix, for example `CREDENTIAL_INVALID`.
    pub fn reason(self) -> &'static str {
        let name = self.as_str_name();
        name.strip_prefix("ERROR_CODE_").unwrap_or(name)
    }

    /// Parses an `ErrorInfo.reason` back into a code.
    pub fn from_reason(reason: &str) -> Option<Self> {
        Self::from_str_name(&format!("ERROR_CODE_{reason}"))
    }
}
