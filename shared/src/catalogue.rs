//! The error catalogue: every failure Airlock reports has one [`ErrorCode`] (defined in the
//! `airlock.v1` API), and this module says, for each code, which gRPC status it travels as,
//! whether a retry can succeed and after how long, a one-line message, and the remedy — quoting
//! the product's troubleshooting guide where it has an entry.
//!
//! [`AirlockError`] is the typed error crates return at their edges; [`AirlockError::to_status`]
//! is the one conversion to `tonic::Status` (with `google.rpc.ErrorInfo`, reason = the code,
//! domain `airlock`, and `google.rpc.RetryInfo` when retryable) and
//! [`AirlockError::from_status`] the one way back for clients.

use std::{borrow::Cow, collections::BTreeMap, collections::HashMap, fmt, time::Duration};

pub use airlock_proto::ErrorCode;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every Airlock error.
pub const ERROR_DOMAIN: &str = "airlock";

/// What the catalogue says about one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The code.
    pub code: ErrorCode,
    /// The gRPC status code it travels as.
    pub grpc_code: Code,
    /// Whether retrying the same request can succeed.
    pub retryable: bool,
    /// Default wait before a retry, when retryable.
    pub retry_delay: Option<Duration>,
    /// One line: what went wrong.
    pub message: &'static str,
    /// What to do next.
    pub remediation: &'static str,
}

const fn entry(
    code: ErrorCode,
    grpc_code: Code,
    retry_delay_ms: Option<u64>,
    message: &'static str,
    remediation: &'static str,
) -> CatalogueEntry {
    let retry_delay = match retry_delay_ms {
        Some(ms) => Some(Duration::from_millis(ms)),
        None => None,
    };
    CatalogueEntry {
        code,
        grpc_code,
        retryable: retry_delay.is_some(),
        retry_delay,
        message,
        remediation,
    }
}

/// Remedy of the seed's "AADSTS7000215: Invalid client secret" entry.
const REMEDY_SECRET: &str = "Verify the secret hasn't expired in Azure AD → App registrations → Certificates & secrets. \
     Generate a new secret and update the integration in Airlock (airlockctl connection rotate).";
/// Remedy of the seed's "AADSTS700016: Application not found" entry.
const REMEDY_APP: &str = "Double-check the Application (client) ID from the app registration's Overview page. \
     Verify the Directory (tenant) ID matches your Azure AD tenant.";
/// Remedy of the seed's "PEM must contain a private key" entry.
pub const REMEDY_PEM: &str = "Ensure your PEM file contains both a BEGIN CERTIFICATE and a BEGIN PRIVATE KEY block. \
     If you generated separate cert.pem and key.pem files, combine them: cat cert.pem key.pem > combined.pem. \
     Paste the full contents of the combined file.";
/// Remedy of the seed's "Exchange commands fail with UnAuthorized" entry.
const REMEDY_SP: &str = "Complete Step 5 in the setup guide to register the service principal via PowerShell \
     (New-ServicePrincipal -AppId \"<your-app-client-id>\" -ObjectId \"<enterprise-app-object-id>\"). \
     If already registered, the role assignment may not have propagated yet — wait up to 30 minutes.";
/// Remedy of the seed's "Exchange commands fail with Access Denied" entry.
const REMEDY_ROLE: &str = "Verify the role assignment in Azure AD → Roles and administrators → Exchange Administrator. \
     Ensure admin consent was granted for the Exchange.ManageAsApp permission. \
     Verify the Exchange Online management role assignment via Get-ManagementRoleAssignment -RoleAssignee <object-id>.";
/// Remedy of the seed's "The term 'Get-Mailbox' is not recognized" entry.
const REMEDY_CMDLET: &str = "The Exchange Online PowerShell module may not be available on the worker: install it \
     (Install-Module -Name ExchangeOnlineManagement) or run the job with the rest executor. If the module is \
     present, assign the app a management role that includes the cmdlet.";

/// The catalogue entry of `code`. Exhaustive: adding a code without an entry does not compile.
pub fn describe(code: ErrorCode) -> CatalogueEntry {
    use ErrorCode as E;
    match code {
        E::CredentialInvalid => entry(
            code,
            Code::FailedPrecondition,
            None,
            "Entra ID rejected the client credential (invalid client secret)",
            REMEDY_SECRET,
        ),
        E::CredentialExpired => entry(
            code,
            Code::FailedPrecondition,
            None,
            "the client secret or certificate has expired",
            "Verify the secret hasn't expired in Azure AD → App registrations → Certificates & secrets. \
             Generate a new secret (or upload a new certificate) and update the integration in Airlock \
             (airlockctl connection rotate).",
        ),
        E::AppNotFound => entry(
            code,
            Code::FailedPrecondition,
            None,
            "application not found in the tenant",
            REMEDY_APP,
        ),
        E::TenantNotFound => entry(
            code,
            Code::FailedPrecondition,
            None,
            "tenant not found",
            "Verify the Directory (tenant) ID matches your Azure AD tenant: copy it from the app \
             registration's Overview page (a GUID) or use the primary domain (e.g. contoso.onmicrosoft.com).",
        ),
        E::CertificateNotRegistered => entry(
            code,
            Code::FailedPrecondition,
            None,
            "the certificate is not registered on the app registration",
            "In your app registration, go to Certificates & secrets → Certificates tab, click Upload \
             certificate and upload cert.pem (the certificate only, not the private key). Compare the \
             thumbprint shown there with the connection's SHA-1 thumbprint.",
        ),
        E::PemInvalid => entry(
            code,
            Code::InvalidArgument,
            None,
            "the certificate PEM cannot be used",
            REMEDY_PEM,
        ),
        E::SpNotRegistered => entry(
            code,
            Code::FailedPrecondition,
            Some(60_000),
            "Exchange rejected the token (UnAuthorized): the service principal is not registered in Exchange Online",
            REMEDY_SP,
        ),
        E::RoleMissing => entry(
            code,
            Code::PermissionDenied,
            None,
            "Exchange denied the cmdlet (Access Denied): a management role is missing",
            REMEDY_ROLE,
        ),
        E::CmdletUnavailable => entry(
            code,
            Code::FailedPrecondition,
            None,
            "the cmdlet is not recognized",
            REMEDY_CMDLET,
        ),
        E::NotFound => entry(
            code,
            Code::NotFound,
            None,
            "the Exchange object was not found",
            "Check the identity (name, alias, primary SMTP address, UPN or GUID). An object created a \
             moment ago may take a few seconds to become visible.",
        ),
        E::AlreadyExists => entry(
            code,
            Code::AlreadyExists,
            None,
            "the name or address is already in use",
            "Choose another name, alias or address, or act on the existing object.",
        ),
        E::InvalidArgument => entry(
            code,
            Code::InvalidArgument,
            None,
            "the request is invalid",
            "Fix the field named in the message and send the request again.",
        ),
        E::Throttled => entry(
            code,
            Code::ResourceExhausted,
            Some(30_000),
            "throttled by Exchange Online or Entra ID",
            "Retry after the delay given (Retry-After); spread bulk work over time.",
        ),
        E::Transient => entry(
            code,
            Code::Unavailable,
            Some(2_000),
            "a transient failure at Microsoft's side",
            "Retry after the delay given; if it persists, check the Microsoft 365 service health page.",
        ),
        E::DeniedByPolicy => entry(
            code,
            Code::PermissionDenied,
            None,
            "refused by policy",
            "Use an identity whose role may call this method (see the role policy file), or mint a \
             session handle whose allow-list includes the cmdlet.",
        ),
        E::HandleInvalid => entry(
            code,
            Code::Unauthenticated,
            None,
            "the session handle is not valid",
            "Mint a new session handle with SessionBrokerService.MintSession and pass it unchanged.",
        ),
        E::HandleExpired => entry(
            code,
            Code::Unauthenticated,
            None,
            "the session handle has expired",
            "Mint a new session handle; choose a TTL that covers the job's run time.",
        ),
        E::HandleRevoked => entry(
            code,
            Code::Unauthenticated,
            None,
            "the session handle was revoked",
            "The session was revoked or its connection deleted; mint a new handle if the job should still run.",
        ),
        E::Timeout => entry(
            code,
            Code::DeadlineExceeded,
            None,
            "the deadline passed before the job finished",
            "Give the job a longer deadline, or check with GetJob whether it completed before retrying.",
        ),
        E::Cancelled => entry(
            code,
            Code::Cancelled,
            None,
            "the job was cancelled",
            "Run the job again if it is still wanted.",
        ),
        E::AuditUnavailable => entry(
            code,
            Code::Unavailable,
            Some(1_000),
            "the audit event could not be written, so the request was refused",
            "Check the proxy's audit directory (space, permissions) and audit sink; the proxy acts \
             again as soon as events can be written.",
        ),
        E::Internal => entry(
            code,
            Code::Internal,
            None,
            "an internal error",
            "This is a bug in Airlock: report it with the time and the request's job or connection ID.",
        ),
        E::ConnectionNotFound => entry(
            code,
            Code::NotFound,
            None,
            "connection not found",
            "List connections with airlockctl connection list and use an existing connection ID.",
        ),
        E::CapacityExhausted => entry(
            code,
            Code::ResourceExhausted,
            Some(200),
            "the worker is at capacity",
            "Send the job to another worker, or retry after the delay.",
        ),
        E::Draining => entry(
            code,
            Code::Unavailable,
            Some(100),
            "the server is shutting down",
            "Send the request to another replica.",
        ),
        E::Unspecified => entry(
            code,
            Code::Internal,
            None,
            "an unspecified error",
            "Upgrade the client: the server sent a code it does not know.",
        ),
    }
}

/// Every catalogue code, in enum order (UNSPECIFIED excluded).
pub fn all_codes() -> impl Iterator<Item = ErrorCode> {
    (1..).map_while(|v| ErrorCode::try_from(v).ok())
}

/// A failure with its catalogue code: what crates return at their gRPC edges.
#[derive(Clone, PartialEq, Eq)]
pub struct AirlockError {
    code: ErrorCode,
    detail: Cow<'static, str>,
    remediation: Option<Cow<'static, str>>,
    retry_after: Option<Duration>,
    metadata: BTreeMap<String, String>,
}

impl AirlockError {
    /// A failure with `code` and a specific message (never a secret).
    pub fn new(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            detail: detail.into(),
            remediation: None,
            retry_after: None,
            metadata: BTreeMap::new(),
        }
    }

    /// A failure with `code` and the catalogue's own message.
    pub fn bare(code: ErrorCode) -> Self {
        Self::new(code, describe(code).message)
    }

    /// Replaces the catalogue remedy with a more specific one.
    pub fn with_remediation(mut self, remediation: impl Into<Cow<'static, str>>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    /// Overrides the retry delay (for example from a `Retry-After` header).
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Adds an upstream identifier for the operator (`aadsts_codes`, `trace_id`, ...).
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let mut value: String = value.into();
        truncate_utf8(&mut value, 1024);
        self.metadata.insert(key.into(), value);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The specific message.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The remedy: the specific one if set, else the catalogue's.
    pub fn remediation(&self) -> &str {
        self.remediation
            .as_deref()
            .unwrap_or(describe(self.code).remediation)
    }

    /// Whether a retry can succeed.
    pub fn retryable(&self) -> bool {
        describe(self.code).retryable
    }

    /// How long to wait before retrying, when retryable.
    pub fn retry_delay(&self) -> Option<Duration> {
        if self.retryable() {
            self.retry_after.or(describe(self.code).retry_delay)
        } else {
            None
        }
    }

    /// Upstream identifiers.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The one conversion to a gRPC status: the catalogue's status code, the specific message,
    /// `ErrorInfo { reason: code, domain: "airlock", metadata: remediation + upstream ids }`, and
    /// `RetryInfo` when retryable.
    pub fn to_status(&self) -> Status {
        let entry = describe(self.code);
        let mut metadata: HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        metadata.insert("remediation".into(), self.remediation().to_owned());
        let mut details = ErrorDetails::new();
        details.set_error_info(self.code.reason(), ERROR_DOMAIN, metadata);
        if let Some(delay) = self.retry_delay() {
            details.set_retry_info(Some(delay));
        }
        Status::with_error_details(entry.grpc_code, self.detail.to_string(), details)
    }

    /// Reads an Airlock error back from a status (client side). `None` when the status carries
    /// no Airlock `ErrorInfo` (for example a transport error).
    pub fn from_status(status: &Status) -> Option<Self> {
        let details = status.get_error_details();
        let info = details.error_info().filter(|i| i.domain == ERROR_DOMAIN)?;
        let code = ErrorCode::from_reason(&info.reason)?;
        let mut err = Self::new(code, status.message().to_owned());
        for (k, v) in &info.metadata {
            if k == "remediation" {
                err.remediation = Some(Cow::Owned(v.clone()));
            } else {
                err.metadata.insert(k.clone(), v.clone());
            }
        }
        err.retry_after = details.retry_info().and_then(|r| r.retry_delay);
        Some(err)
    }

    /// The failure as an `ErrorDetail` message for response bodies (job results, tests).
    pub fn to_detail(&self) -> airlock_proto::ErrorDetail {
        airlock_proto::ErrorDetail {
            code: self.code as i32,
            message: self.detail.to_string(),
            remediation: self.remediation().to_owned(),
            retryable: self.retryable(),
            retry_delay: self.retry_delay().and_then(prost_types_duration),
            metadata: self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

fn prost_types_duration(d: Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(d).ok()
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

impl fmt::Debug for AirlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AirlockError")
            .field("code", &self.code.reason())
            .field("detail", &self.detail)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl fmt::Display for AirlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.reason(), self.detail)
    }
}

impl std::error::Error for AirlockError {}

impl From<AirlockError> for Status {
    fn from(err: AirlockError) -> Self {
        err.to_status()
    }
}

#[cfg(test)]
mod tests;
