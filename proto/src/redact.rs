//! Redacted `Debug` for the generated messages that carry secrets. `build.rs` switches off the
//! derived `Debug` for exactly these types, so `{:?}` on a request never prints a secret.

use std::fmt;

use crate::v1::{
    AcquireTokenRequest, AcquireTokenResponse, AuditHashRequest, CertificateCredential, Credential,
    MintSessionResponse, RunJobRequest, credential,
};

/// Formats a secret as its length only.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted {} bytes]", self.0)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Debug for credential::Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret(s) => f
                .debug_tuple("ClientSecret")
                .field(&Redacted(s.len()))
                .finish(),
            Self::Certificate(c) => f.debug_tuple("Certificate").field(c).finish(),
        }
    }
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("pem", &Redacted(self.pem.len()))
            .field("assertion_algorithm", &self.assertion_algorithm())
            .finish()
    }
}

impl fmt::Debug for MintSessionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintSessionResponse")
            .field("session_id", &self.session_id)
            .field("handle", &Redacted(self.handle.len()))
            .field("expire_time", &self.expire_time)
            .finish()
    }
}

impl fmt::Debug for AcquireTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireTokenRequest")
            .field("handle", &Redacted(self.handle.len()))
            .finish()
    }
}

impl fmt::Debug for AcquireTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireTokenResponse")
            .field("access_token", &Redacted(self.access_token.len()))
            .field("expire_time", &self.expire_time)
            .field("tenant_id", &self.tenant_id)
            .field("organization", &self.organization)
            .field("exchange_endpoint", &self.exchange_endpoint)
            .field("allowed_cmdlets", &self.allowed_cmdlets)
            .field("session_id", &self.session_id)
            .field("job_id", &self.job_id)
            .field("connection_id", &self.connection_id)
            .finish()
    }
}

impl fmt::Debug for RunJobRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunJobRequest")
            .field("job_id", &self.job_id)
            .field("handle", &Redacted(self.handle.len()))
            .field("action", &self.action)
            .field("executor", &self.executor())
            .finish()
    }
}

impl fmt::Debug for AuditHashRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditHashRequest")
            .field("value", &Redacted(self.value.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t+VALUE~do-not-print";

    fn assert_redacted(debug: String) {
        assert!(!debug.contains(SECRET), "Debug output contains the secret");
        assert!(
            debug.contains("redacted"),
            "Debug output lacks the redaction marker: {debug}"
        );
    }

    #[test]
    fn credential_debug_hides_secret_and_pem() {
        let secret = Credential {
            kind: Some(credential::Kind::ClientSecret(SECRET.into())),
        };
        assert_redacted(format!("{secret:?}"));
        let cert = Credential {
            kind: Some(credential::Kind::Certificate(CertificateCredential {
                pem: SECRET.into(),
                assertion_algorithm: 0,
            })),
        };
        assert_redacted(format!("{cert:?}"));
        let create = crate::CreateConnectionRequest {
            credential: Some(cert),
            ..Default::default()
        };
        assert_redacted(format!("{create:#?}"));
    }

    #[test]
    fn handle_and_token_messages_hide_values() {
        let mint = MintSessionResponse {
            handle: SECRET.into(),
            ..Default::default()
        };
        assert_redacted(format!("{mint:?}"));
        let req = AcquireTokenRequest {
            handle: SECRET.into(),
        };
        assert_redacted(format!("{req:?}"));
        let resp = AcquireTokenResponse {
            access_token: SECRET.into(),
            ..Default::default()
        };
        assert_redacted(format!("{resp:?}"));
        let job = RunJobRequest {
            handle: SECRET.into(),
            ..Default::default()
        };
        assert_redacted(format!("{job:?}"));
        let hash = AuditHashRequest {
            value: SECRET.into(),
        };
        assert_redacted(format!("{hash:?}"));
    }

    #[test]
    fn error_code_reason_round_trips() {
        for value in 1..=25 {
            let code = crate::ErrorCode::try_from(value).unwrap();
            assert!(!code.reason().starts_with("ERROR_CODE_"));
            assert_eq!(crate::ErrorCode::from_reason(code.reason()), Some(code));
        }
        assert_eq!(
            crate::ErrorCode::CredentialInvalid.reason(),
            "CREDENTIAL_INVALID"
        );
    }
}
