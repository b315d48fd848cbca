//! Parsing of a token request: form fields, HTTP Basic credentials, tenant segment and scope.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use uuid::Uuid;

use super::errors::AadError;

/// The JWT-bearer client assertion type.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Exchange resources (App ID URIs and the resource app ID) the simulator issues tokens for.
pub(crate) const EXCHANGE_RESOURCES: &[&str] = &[
    "https://outlook.office365.com",
    "https://outlook.office.com",
    "00000002-0000-0ff1-ce00-000000000000",
];

/// Other resources known to exist in every tenant (tokens carry no Exchange roles).
const OTHER_RESOURCES: &[&str] = &[
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
];

/// The decoded form plus the Basic credentials, if any.
#[derive(Default)]
pub(crate) struct TokenForm {
    fields: Vec<(String, String)>,
    basic: Option<(String, Vec<String>)>,
}

impl TokenForm {
    /// Decode an `application/x-www-form-urlencoded` body (`+` is a space) and the
    /// `Authorization: Basic` header (RFC 6749 §2.3.1: id and secret are form-encoded).
    pub(crate) fn parse(body: &[u8], headers: &HeaderMap) -> TokenForm {
        let fields = form_urlencoded::parse(body).into_owned().collect();
        let basic = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Basic ")
                    .or_else(|| v.strip_prefix("basic "))
            })
            .and_then(|b64| STANDARD.decode(b64.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|s| {
                let (id, secret) = s.split_once(':')?;
                let dec = |x: &str| -> String {
                    form_urlencoded::parse(format!("v={x}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                // The RFC-encoded form first, then the raw value (tolerant of unencoded secrets).
                Some((dec(id), vec![dec(secret), secret.to_owned()]))
            });
        TokenForm { fields, basic }
    }

    /// A form field (first occurrence), ignoring empty values.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `client_id` from the body, else from Basic.
    pub(crate) fn client_id(&self) -> Option<String> {
        self.get("client_id")
            .map(str::to_owned)
            .or_else(|| self.basic.as_ref().map(|(id, _)| id.clone()))
    }

    /// Candidate secrets: the body's, or Basic's (decoded, then raw).
    pub(crate) fn secrets(&self) -> Vec<String> {
        if let Some(s) = self.get("client_secret") {
            return vec![s.to_owned()];
        }
        self.basic
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
}

/// Whether a tenant segment is a GUID or a DNS-like name.
pub(crate) fn tenant_is_well_formed(t: &str) -> bool {
    if Uuid::parse_str(t).is_ok() {
        return true;
    }
    let labels: Vec<&str> = t.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        })
}

/// Check the scope rules of checklist §7 and return the single resource.
pub(crate) fn resource_of(scope: &str, tenant_name: &str) -> Result<String, AadError> {
    let mut resources: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        let Some(resource) = s.strip_suffix("/.default") else {
            return Err(AadError::invalid_scope(
                1002012,
                format!(
                    "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        };
        let resource = resource.trim_end_matches('/').to_ascii_lowercase();
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    match resources.as_slice() {
        [] => Err(AadError::missing_parameter("scope")),
        [one]
            if EXCHANGE_RESOURCES.contains(&one.as_str())
                || OTHER_RESOURCES.contains(&one.as_str()) =>
        {
            Ok(one.clone())
        }
        [one] => Err(AadError::invalid_resource(
            500011,
            format!(
                "The resource principal named {one} was not found in the tenant named {tenant_name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )),
        _ => Err(AadError::invalid_scope(
            700022,
            format!(
                "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid."
            ),
        )),
    }
}

/// The `aud` of the issued token for a resource.
pub(crate) fn token_audience(resource: &str) -> String {
    if resource == "00000002-0000-0ff1-ce00-000000000000" {
        "https://outlook.office365.com".to_owned()
    } else {
        resource.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_forms() {
        assert!(tenant_is_well_formed(
            "8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70"
        ));
        assert!(tenant_is_well_formed("contoso.onmicrosoft.com"));
        assert!(!tenant_is_well_formed("contoso"));
        assert!(!tenant_is_well_formed("{tenant}"));
        assert!(!tenant_is_well_formed("a..b"));
    }

    #[test]
    fn scope_rules() {
        assert_eq!(
            resource_of("https://outlook.office365.com/.default", "t").unwrap(),
            "https://outlook.office365.com"
        );
        assert_eq!(
            resource_of("HTTPS://OUTLOOK.OFFICE365.COM/.default", "t").unwrap(),
            "https://outlook.office365.com"
        );
        assert_eq!(
            resource_of(
                "https://outlook.office365.com/.default https://outlook.office365.com/.default",
                "t"
            )
            .unwrap(),
            "https://outlook.office365.com"
        );
        assert_eq!(
            resource_of("https://outlook.office365.com/full_access_as_app", "t")
                .unwrap_err()
                .code,
            1002012
        );
        assert_eq!(
            resource_of("https://a.example/.default https://b.example/.default", "t")
                .unwrap_err()
                .code,
            700022
        );
        assert_eq!(
            resource_of("https://a.example/.default", "t")
                .unwrap_err()
                .code,
            500011
        );
        assert_eq!(resource_of("   ", "t").unwrap_err().code, 900144);
    }

    #[test]
    fn basic_credentials_are_form_decoded_with_a_raw_fallback() {
        use base64::Engine;
        let mut h = HeaderMap::new();
        let b = base64::engine::general_purpose::STANDARD.encode("app:a%2Bb+c");
        h.insert(
            http::header::AUTHORIZATION,
            format!("Basic {b}").parse().unwrap(),
        );
        let f = TokenForm::parse(b"grant_type=client_credentials", &h);
        assert_eq!(f.client_id().as_deref(), Some("app"));
        assert_eq!(f.secrets(), vec!["a+b c".to_owned(), "a%2Bb+c".to_owned()]);
        let f = TokenForm::parse(b"client_secret=x%2By+z", &h);
        assert_eq!(f.secrets(), vec!["x+y z".to_owned()]);
    }
}
