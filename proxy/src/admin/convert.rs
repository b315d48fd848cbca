//! Stored records → API messages (never a secret), and the edge mapping of admin failures.

use airlock_proto as pb;
use airlock_shared::{AirlockError, ErrorCode};
use std::time::Instant;

use time::OffsetDateTime;

use super::validate::Invalid;
use crate::pem::PemError;
use crate::store::{AssertionAlg, AuthKind, CertificateMeta, ConnectionRecord, StoreError};

/// A wall-clock time as a protobuf timestamp.
pub fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// The API enum for an algorithm.
pub fn algorithm_to_pb(a: AssertionAlg) -> pb::AssertionAlgorithm {
    match a {
        AssertionAlg::Ps256 => pb::AssertionAlgorithm::Ps256,
        AssertionAlg::Rs256 => pb::AssertionAlgorithm::Rs256,
    }
}

/// The stored algorithm for an API value (unset → PS256).
pub fn algorithm_from_pb(v: i32) -> AssertionAlg {
    match pb::AssertionAlgorithm::try_from(v) {
        Ok(pb::AssertionAlgorithm::Rs256) => AssertionAlg::Rs256,
        _ => AssertionAlg::Ps256,
    }
}

fn certificate(c: &CertificateMeta) -> pb::CertificateInfo {
    pb::CertificateInfo {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        sha1_thumbprint: c.sha1_thumbprint.clone(),
        sha256_thumbprint: c.sha256_thumbprint.clone(),
        not_before: Some(timestamp(c.not_before)),
        not_after: Some(timestamp(c.not_after)),
        serial_number: c.serial_number.clone(),
        assertion_algorithm: algorithm_to_pb(c.algorithm) as i32,
        key_bits: c.key_bits,
    }
}

/// The API view of a connection.
pub fn connection(r: &ConnectionRecord) -> pb::Connection {
    pb::Connection {
        connection_id: r.id.to_string(),
        instance_name: r.instance_name.clone(),
        tenant_id: r.tenant_id.clone(),
        app_id: r.app_id.to_string(),
        organization: r.organization.clone(),
        auth_method: match r.auth {
            AuthKind::ClientSecret => pb::AuthMethod::ClientSecret,
            AuthKind::Certificate => pb::AuthMethod::Certificate,
        } as i32,
        environment: Some(pb::Environment {
            authority_host: r.authority_host.clone(),
            exchange_host: r.exchange_host.clone(),
        }),
        certificate: r.certificate.as_ref().map(certificate),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
        credential_rotate_time: Some(timestamp(r.credential_rotate_time)),
        version: r.version,
    }
}

/// Everything a ConnectionAdmin call can fail with, before the edge mapping.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A malformed field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// An unusable PEM.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// The one mapping to the catalogue.
    pub fn to_airlock(&self) -> AirlockError {
        match self {
            Self::Invalid(i) => i.to_airlock(),
            Self::Pem(p) => {
                let code = match p {
                    PemError::Expired(_) => ErrorCode::CredentialExpired,
                    _ => ErrorCode::PemInvalid,
                };
                AirlockError::new(code, p.to_string())
                    .with_remediation(p.remedy())
                    .with_metadata("field", "credential.certificate.pem")
            }
            Self::Store(e) => e.to_airlock(),
        }
    }
}

impl From<AdminError> for tonic::Status {
    fn from(e: AdminError) -> Self {
        e.to_airlock().to_status()
    }
}

/// One TestConnection step with its duration.
pub fn step(name: &str, ok: bool, started: Instant) -> pb::TestStep {
    pb::TestStep {
        name: name.to_owned(),
        ok,
        elapsed: prost_types::Duration::try_from(started.elapsed()).ok(),
    }
}

/// A TestConnection diagnosis as an error, for the event's reason.
pub fn diagnosis_error(d: &airlock_proto::ErrorDetail) -> airlock_shared::AirlockError {
    let code =
        airlock_shared::ErrorCode::try_from(d.code).unwrap_or(airlock_shared::ErrorCode::Internal);
    airlock_shared::AirlockError::new(code, d.message.clone())
}
