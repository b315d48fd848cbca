//! The tenant fixture: the TOML file that describes tenants, apps and directory objects.
//!
//! The format is documented in `sim/README.md`. Parsing is pure: certificate paths are resolved
//! against a base directory and their PEM text is read into the fixture, so the running server
//! never touches the file system.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Why a fixture could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The fixture file (or a certificate it names) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML did not parse into the fixture format.
    #[error("invalid fixture: {0}")]
    Toml(#[from] toml::de::Error),
    /// The fixture parsed but is inconsistent (duplicate IDs, unknown references...).
    #[error("invalid fixture: {0}")]
    Invalid(String),
}

/// A parsed tenant fixture (see `sim/README.md` for the format).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Simulator-wide behaviour.
    #[serde(default)]
    pub settings: Settings,
    /// The tenants served.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantSpec>,
}

/// Simulator-wide behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Fixed `expires_in` for issued tokens; `None` draws 3600–5399 s at random.
    pub token_lifetime_secs: Option<u64>,
    /// Add `refresh_in` (= half the lifetime) to token responses ("long-lived token" mode).
    pub long_lived_tokens: bool,
    /// Clock skew tolerated on client assertion `nbf`/`exp`, in seconds.
    pub assertion_skew_secs: i64,
    /// Reject RS256 with `x5t#S256` and PS256 with `x5t` (mixed pairs are accepted by default).
    pub strict_thumbprint_pairs: bool,
    /// Accept standard base64 (with `+`, `/`, `=`) thumbprints as well as base64url.
    pub accept_standard_base64_thumbprints: bool,
    /// Serve the unauthenticated `/_sim/` control API on the listener (in-process
    /// [`crate::SimControl`] works either way). Turn off when listening beyond loopback.
    pub control_api: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_lifetime_secs: None,
            long_lived_tokens: false,
            assertion_skew_secs: 300,
            strict_thumbprint_pairs: false,
            accept_standard_base64_thumbprints: true,
            control_api: true,
        }
    }
}

/// One tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Tenant (directory) ID.
    pub id: Uuid,
    /// Verified domains; the first `*.onmicrosoft.com` one is the initial domain.
    pub domains: Vec<String>,
    /// Organisation display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Exchange throttling budget for each app in this tenant.
    #[serde(default)]
    pub throttle: ThrottleSpec,
    /// App registrations.
    #[serde(default, rename = "app")]
    pub apps: Vec<AppSpec>,
    /// Extra or overriding management role definitions (role name → cmdlets).
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleSpec>,
    /// User, shared, room and equipment mailboxes.
    #[serde(default)]
    pub mailboxes: Vec<MailboxSpec>,
    /// Distribution and mail-enabled security groups.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

/// Per-app Exchange request budget: `budget` calls per `window_secs`, then 429.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSpec {
    /// Calls allowed per window; 0 disables throttling.
    pub budget: u32,
    /// Window length in seconds.
    pub window_secs: u64,
}

impl Default for ThrottleSpec {
    fn default() -> Self {
        ThrottleSpec {
            budget: 0,
            window_secs: 60,
        }
    }
}

/// An app registration (and its service principal).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Display name.
    pub name: String,
    /// Application (client) ID.
    pub app_id: Uuid,
    /// Object ID of the enterprise application (service principal); becomes the token's `oid`.
    pub object_id: Uuid,
    /// A disabled service principal gets AADSTS7000112.
    #[serde(default)]
    pub disabled: bool,
    /// Granted application permissions on Exchange (e.g. `Exchange.ManageAsApp`).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    /// Registered certificates (public part only).
    #[serde(default)]
    pub certificates: Vec<CertificateSpec>,
    /// Exchange-side registration (`New-ServicePrincipal` + role assignments).
    #[serde(default)]
    pub exchange: ExchangeRegistration,
}

/// A client secret. `Debug` never shows the value.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    /// Secret ID (what the portal shows next to the value; never accepted as the secret).
    pub id: Uuid,
    /// Secret value (TEST ONLY values live in fixtures).
    pub value: String,
    /// Expiry; a secret past it gets AADSTS7000222.
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
}

/// A registered certificate: by path (resolved against the fixture's directory) or inline PEM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// Path of a PEM file holding the certificate (other PEM blocks are ignored).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Inline PEM; filled from `path` when loading.
    #[serde(default)]
    pub pem: Option<String>,
}

/// Exchange service principal registration and management role assignments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeRegistration {
    /// Whether `New-ServicePrincipal` was run for this app.
    pub registered: bool,
    /// Assigned management roles (built-in names or `[[tenant.role]]` names).
    pub roles: Vec<String>,
    /// Seconds after registration (or simulator start) before Exchange honours it.
    pub propagation_delay_secs: u64,
}

/// A management role definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Role name.
    pub name: String,
    /// Cmdlets the role allows (case-insensitive; `*` allows everything).
    pub cmdlets: Vec<String>,
}

/// A mailbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSpec {
    /// Alias (mail nickname); also the local part of the default address.
    pub alias: String,
    /// Name (unique); also the display name unless given.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `UserMailbox`, `SharedMailbox`, `RoomMailbox` or `EquipmentMailbox`.
    #[serde(default = "default_mailbox_type", rename = "type")]
    pub kind: String,
    /// Primary SMTP address; defaults to `alias@<first custom or initial domain>`.
    #[serde(default)]
    pub primary_smtp: Option<String>,
    /// UPN; defaults to the primary SMTP address.
    #[serde(default)]
    pub upn: Option<String>,
    /// Extra proxy addresses (without prefix).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Initial `ForwardingSmtpAddress` (without `smtp:`).
    #[serde(default)]
    pub forwarding_smtp_address: Option<String>,
    /// Initial `HiddenFromAddressListsEnabled`.
    #[serde(default)]
    pub hidden: bool,
    /// Mailboxes (identities) holding FullAccess on this mailbox.
    #[serde(default)]
    pub full_access: Vec<String>,
    /// Recipients (identities) holding SendAs on this mailbox.
    #[serde(default)]
    pub send_as: Vec<String>,
    /// Recipients (identities) in GrantSendOnBehalfTo.
    #[serde(default)]
    pub send_on_behalf: Vec<String>,
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSpec")
            .field("id", &self.id)
            .field("value", &"[secret elided]")
            .field("expires", &self.expires)
            .finish()
    }
}

fn default_mailbox_type() -> String {
    "UserMailbox".to_owned()
}

/// A distribution group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Name (unique).
    pub name: String,
    /// Alias.
    pub alias: String,
    /// Display name; defaults to the name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary SMTP address; defaults to `alias@<default domain>`.
    #[serde(default)]
    pub primary_smtp: Option<String>,
    /// `Distribution` or `Security`.
    #[serde(default = "default_group_type", rename = "type")]
    pub kind: String,
    /// Members (identities of mailboxes or groups).
    #[serde(default)]
    pub members: Vec<String>,
    /// Owners (`ManagedBy`, identities of mailboxes).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Hidden from address lists.
    #[serde(default)]
    pub hidden: bool,
}

fn default_group_type() -> String {
    "Distribution".to_owned()
}

impl Fixture {
    /// Parse a fixture from TOML text; certificate paths are resolved against `base_dir`.
    pub fn from_toml_str(s: &str, base_dir: &Path) -> Result<Fixture, FixtureError> {
        let mut fixture: Fixture = toml::from_str(s)?;
        for tenant in &mut fixture.tenants {
            for app in &mut tenant.apps {
                for cert in &mut app.certificates {
                    load_certificate(cert, base_dir)?;
                }
            }
        }
        fixture.validate()?;
        Ok(fixture)
    }

    /// Read and parse a fixture file; relative paths inside it are resolved against its directory.
    pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Fixture::from_toml_str(&text, base)
    }

    /// The committed sample tenant `sim/fixtures/contoso.toml` (see `sim/README.md`).
    #[expect(
        clippy::expect_used,
        reason = "the committed fixture is parsed by a unit test"
    )]
    pub fn contoso() -> Fixture {
        let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
        Fixture::from_toml_str(include_str!("../fixtures/contoso.toml"), base)
            .expect("sim/fixtures/contoso.toml is valid")
    }

    /// Find an app by client ID across tenants (mutable, to tweak a fixture in tests).
    pub fn app_mut(&mut self, app_id: Uuid) -> Option<&mut AppSpec> {
        self.tenants
            .iter_mut()
            .flat_map(|t| t.apps.iter_mut())
            .find(|a| a.app_id == app_id)
    }

    fn validate(&self) -> Result<(), FixtureError> {
        let mut ids = std::collections::HashSet::new();
        for tenant in &self.tenants {
            if tenant.domains.is_empty() {
                return Err(FixtureError::Invalid(format!(
                    "tenant {} has no domains",
                    tenant.id
                )));
            }
            if !ids.insert(tenant.id) {
                return Err(FixtureError::Invalid(format!(
                    "duplicate tenant {}",
                    tenant.id
                )));
            }
            let mut apps = std::collections::HashSet::new();
            for app in &tenant.apps {
                if !apps.insert(app.app_id) {
                    return Err(FixtureError::Invalid(format!(
                        "duplicate app {}",
                        app.app_id
                    )));
                }
            }
        }
        Ok(())
    }
}

fn load_certificate(cert: &mut CertificateSpec, base_dir: &Path) -> Result<(), FixtureError> {
    if cert.pem.is_some() {
        return Ok(());
    }
    let Some(rel) = &cert.path else {
        return Err(FixtureError::Invalid(
            "a certificate needs `path` or `pem`".to_owned(),
        ));
    };
    let path = base_dir.join(rel);
    let text =
        std::fs::read_to_string(&path).map_err(|source| FixtureError::Io { path, source })?;
    cert.pem = Some(text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secret_values() {
        let f = Fixture::contoso();
        let text = format!("{f:?}");
        assert!(!text.contains("TEST-ONLY"), "secret value in Debug output");
        assert!(text.contains("[secret elided]"));
    }

    const TENANT: &str = "[[tenant]]\nid = \"8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70\"\ndomains = [\"x.onmicrosoft.com\"]\n";

    #[test]
    fn fixture_errors() {
        let base = Path::new("/nonexistent");
        let missing_cert = format!(
            "{TENANT}[[tenant.app]]\nname = \"a\"\napp_id = \"11111111-2222-4333-8444-000000000001\"\nobject_id = \"11111111-2222-4333-8444-000000000002\"\ncertificates = [{{ path = \"nope.pem\" }}]\n"
        );
        assert!(matches!(
            Fixture::from_toml_str(&missing_cert, base),
            Err(FixtureError::Io { .. })
        ));
        let dup = format!("{TENANT}{TENANT}");
        assert!(matches!(
            Fixture::from_toml_str(&dup, base),
            Err(FixtureError::Invalid(_))
        ));
        let unknown_key = format!("{TENANT}colour = \"blue\"\n");
        assert!(matches!(
            Fixture::from_toml_str(&unknown_key, base),
            Err(FixtureError::Toml(_))
        ));
        let bad_member = format!(
            "{TENANT}groups = [{{ name = \"G\", alias = \"g\", members = [\"ghost\"] }}]\n"
        );
        let f = Fixture::from_toml_str(&bad_member, base).unwrap();
        let e = crate::state::SimState::new(f).unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
    }

    #[test]
    fn contoso_parses() {
        let f = Fixture::contoso();
        assert_eq!(f.tenants.len(), 1);
        assert!(f.tenants[0].mailboxes.len() >= 20);
        assert!(f.tenants[0].apps.iter().any(|a| !a.certificates.is_empty()));
    }
}
