//! Validation of ConnectionAdmin requests: every rejection names the field and says what to do.

use airlock_shared::{AirlockError, ErrorCode};

/// Longest instance name, in characters.
pub const MAX_INSTANCE_NAME: usize = 128;
/// Longest client secret, in characters.
pub const MAX_SECRET: usize = 1024;
/// Longest host URL.
pub const MAX_HOST_URL: usize = 256;
/// Default Entra authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Default Exchange host.
pub const DEFAULT_EXCHANGE: &str = "https://outlook.office365.com";

/// A rejected field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Invalid {
    /// The request field.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub remedy: &'static str,
}

impl Invalid {
    fn new(field: &'static str, problem: impl Into<String>, remedy: &'static str) -> Self {
        Self {
            field,
            problem: problem.into(),
            remedy,
        }
    }

    /// As a catalogue error (INVALID_ARGUMENT with the field in the metadata).
    pub fn to_airlock(&self) -> AirlockError {
        AirlockError::new(ErrorCode::InvalidArgument, self.to_string())
            .with_remediation(self.remedy)
            .with_metadata("field", self.field)
    }
}

const REMEDY_TENANT: &str = "Copy the Directory (tenant) ID from the app registration's Overview page (a GUID), or use the tenant's primary domain such as contoso.onmicrosoft.com. `common`, `organizations` and `consumers` cannot be used for app-only access.";
const REMEDY_APP: &str = "Copy the Application (client) ID from the app registration's Overview page: a GUID like 11111111-2222-4333-8444-000000000001.";
const REMEDY_ORG: &str = "Enter your Microsoft 365 tenant domain, found in Azure Active Directory → Overview → Primary domain (e.g. contoso.onmicrosoft.com).";
const REMEDY_NAME: &str =
    "Use a friendly name of at most 128 characters without control characters.";
const REMEDY_SECRET: &str = "Paste the client secret *Value* (not the Secret ID) from Certificates & secrets, without surrounding spaces or line breaks.";
const REMEDY_HOST: &str = "Use an https URL without a path, e.g. https://login.microsoftonline.com or https://outlook.office365.com; leave it empty for the global cloud.";
const REMEDY_CRED: &str = "Set exactly one credential: client_secret (Option A) or certificate.pem (Option B, the combined cert + key PEM).";
const REMEDY_ID: &str =
    "Use a connection ID as returned by CreateConnection or ListConnections (a UUID).";

/// A GUID, in any case, with or without braces.
pub fn guid(field: &'static str, value: &str, remedy: &'static str) -> Result<uuid::Uuid, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid::new(field, "is required", remedy));
    }
    uuid::Uuid::try_parse(v.trim_start_matches('{').trim_end_matches('}'))
        .map_err(|_| Invalid::new(field, format!("{:?} is not a GUID", truncate(v)), remedy))
}

/// A connection ID.
pub fn connection_id(value: &str) -> Result<uuid::Uuid, Invalid> {
    guid("connection_id", value, REMEDY_ID)
}

/// The application (client) ID.
pub fn app_id(value: &str) -> Result<uuid::Uuid, Invalid> {
    guid("app_id", value, REMEDY_APP)
}

fn truncate(v: &str) -> String {
    v.chars().take(64).collect()
}

/// True for a DNS name with at least two labels and an alphabetic top-level label.
pub fn is_domain(v: &str) -> bool {
    let labels: Vec<&str> = v.split('.').collect();
    v.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()))
}

/// The tenant: a GUID or a domain, never `common`, `organizations` or `consumers`. Returned
/// normalised (GUIDs lower-case hyphenated, domains lower-case).
pub fn tenant_id(value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid::new("tenant_id", "is required", REMEDY_TENANT));
    }
    let lower = v.to_ascii_lowercase();
    if ["common", "organizations", "consumers"].contains(&lower.as_str()) {
        return Err(Invalid::new(
            "tenant_id",
            format!("{lower:?} is a multi-tenant alias; client credentials need a specific tenant"),
            REMEDY_TENANT,
        ));
    }
    if let Ok(g) = guid("tenant_id", v, REMEDY_TENANT) {
        return Ok(g.to_string());
    }
    if is_domain(&lower) {
        return Ok(lower);
    }
    Err(Invalid::new(
        "tenant_id",
        format!("{:?} is neither a GUID nor a domain name", truncate(v)),
        REMEDY_TENANT,
    ))
}

/// The organization: a domain name.
pub fn organization(value: &str) -> Result<String, Invalid> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Err(Invalid::new("organization", "is required", REMEDY_ORG));
    }
    if !is_domain(&v) {
        return Err(Invalid::new(
            "organization",
            format!("{:?} is not a domain name", truncate(&v)),
            REMEDY_ORG,
        ));
    }
    Ok(v)
}

/// The instance name: optional, bounded.
pub fn instance_name(value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    if v.chars().count() > MAX_INSTANCE_NAME {
        return Err(Invalid::new(
            "instance_name",
            "is longer than 128 characters",
            REMEDY_NAME,
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Invalid::new(
            "instance_name",
            "contains control characters",
            REMEDY_NAME,
        ));
    }
    Ok(v.to_owned())
}

/// Checks a client secret without copying it. Never echoes the value.
pub fn client_secret(value: &str) -> Result<(), Invalid> {
    let field = "credential.client_secret";
    if value.is_empty() {
        return Err(Invalid::new(field, "is empty", REMEDY_SECRET));
    }
    if value.chars().count() > MAX_SECRET {
        return Err(Invalid::new(
            field,
            "is longer than 1024 characters",
            REMEDY_SECRET,
        ));
    }
    if value.chars().any(|c| c.is_control()) || value.trim() != value {
        return Err(Invalid::new(
            field,
            "has surrounding spaces, a line break or a control character",
            REMEDY_SECRET,
        ));
    }
    Ok(())
}

/// A credential is missing.
pub fn missing_credential() -> Invalid {
    Invalid::new("credential", "is required", REMEDY_CRED)
}

/// A host URL: https, no path/query/fragment/user; empty takes `default`. Returns
/// `https://host[:port]`.
pub fn host_url(field: &'static str, value: &str, default: &str) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(default.to_owned());
    }
    if v.len() > MAX_HOST_URL {
        return Err(Invalid::new(
            field,
            "is longer than 256 characters",
            REMEDY_HOST,
        ));
    }
    let url = url::Url::parse(v)
        .map_err(|e| Invalid::new(field, format!("is not a URL ({e})"), REMEDY_HOST))?;
    let plain = url.scheme() == "https"
        && url.host_str().is_some()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !plain {
        return Err(Invalid::new(
            field,
            "must be an https URL with a host and no path",
            REMEDY_HOST,
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Page size: 0 means 100; at most 1000.
pub fn page_size(v: u32) -> Result<u32, Invalid> {
    match v {
        0 => Ok(100),
        1..=1000 => Ok(v),
        _ => Err(Invalid::new(
            "page_size",
            "must be between 1 and 1000",
            "Ask for at most 1000 connections per page.",
        )),
    }
}

/// Page token: empty or the previous page's token.
pub fn page_token(v: &str) -> Result<i64, Invalid> {
    if v.is_empty() {
        return Ok(0);
    }
    v.parse::<i64>().ok().filter(|p| *p > 0).ok_or_else(|| {
        Invalid::new(
            "page_token",
            "is not a token this proxy issued",
            "Pass next_page_token from the previous response unchanged, or leave it empty.",
        )
    })
}

#[cfg(test)]
mod tests;
