//! Well-known IDs and TEST ONLY credentials of the committed sample tenant
//! (`sim/fixtures/contoso.toml`), so other crates' tests don't repeat magic strings.

use std::path::PathBuf;

/// Tenant (directory) ID.
pub const TENANT_ID: &str = "8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70";
/// Initial (organisation) domain.
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
/// The Exchange scope clients request.
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

/// Client-secret app with full Exchange access.
pub const SECRET_APP_ID: &str = "11111111-2222-4333-8444-000000000001";
/// Its enterprise application (service principal) object ID.
pub const SECRET_APP_OBJECT_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001";
/// Its valid secret (TEST ONLY; contains `+`, `/` and `=`).
pub const SECRET_APP_SECRET: &str = "TEST-ONLY~sim+secret/Value=42";
/// Its expired secret (AADSTS7000222).
pub const SECRET_APP_EXPIRED_SECRET: &str = "TEST-ONLY~expired+secret";

/// Certificate app with full Exchange access.
pub const CERT_APP_ID: &str = "11111111-2222-4333-8444-000000000002";
/// Its service principal object ID.
pub const CERT_APP_OBJECT_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-000000000002";

/// App whose service principal is not registered in Exchange ("UnAuthorized").
pub const UNREGISTERED_APP_ID: &str = "11111111-2222-4333-8444-000000000003";
/// Its secret.
pub const UNREGISTERED_APP_SECRET: &str = "TEST-ONLY-unregistered-secret";
/// App registered in Exchange without any role ("User is not allowed to call ...").
pub const NO_ROLE_APP_ID: &str = "11111111-2222-4333-8444-000000000004";
/// Its secret.
pub const NO_ROLE_APP_SECRET: &str = "TEST-ONLY-norole-secret";
/// App with only the "Mail Recipients" role.
pub const RECIPIENTS_APP_ID: &str = "11111111-2222-4333-8444-000000000005";
/// Its secret.
pub const RECIPIENTS_APP_SECRET: &str = "TEST-ONLY-recipients-secret";
/// Disabled app (AADSTS7000112).
pub const DISABLED_APP_ID: &str = "11111111-2222-4333-8444-000000000006";
/// Its secret.
pub const DISABLED_APP_SECRET: &str = "TEST-ONLY-disabled-secret";
/// App without admin consent (token has no `roles`; Exchange says "Access Denied").
pub const NO_CONSENT_APP_ID: &str = "11111111-2222-4333-8444-000000000007";
/// Its secret.
pub const NO_CONSENT_APP_SECRET: &str = "TEST-ONLY-noconsent-secret";

fn certs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/certs"))
}

/// `cert.pem` + `key.pem` of the certificate app, as the seed's "Certificate (PEM)" field takes it.
pub fn combined_pem_path() -> PathBuf {
    certs_dir().join("combined.pem")
}

/// The certificate app's certificate (public part only).
pub fn cert_pem_path() -> PathBuf {
    certs_dir().join("cert.pem")
}

/// The certificate app's private key (PKCS#8, TEST ONLY).
pub fn key_pem_path() -> PathBuf {
    certs_dir().join("key.pem")
}

/// The fixture file itself (for the binary's `--fixture`).
pub fn fixture_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/contoso.toml"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fixture;

    #[test]
    fn constants_match_the_fixture() {
        let f = Fixture::contoso();
        let t = &f.tenants[0];
        assert_eq!(t.id.to_string(), TENANT_ID);
        assert_eq!(t.domains[0], DOMAIN);
        let app = |id: &str| t.apps.iter().find(|a| a.app_id.to_string() == id).unwrap();
        assert_eq!(app(SECRET_APP_ID).secrets[0].value, SECRET_APP_SECRET);
        assert_eq!(
            app(SECRET_APP_ID).secrets[1].value,
            SECRET_APP_EXPIRED_SECRET
        );
        assert_eq!(
            app(SECRET_APP_ID).object_id.to_string(),
            SECRET_APP_OBJECT_ID
        );
        assert_eq!(app(CERT_APP_ID).object_id.to_string(), CERT_APP_OBJECT_ID);
        assert_eq!(
            app(UNREGISTERED_APP_ID).secrets[0].value,
            UNREGISTERED_APP_SECRET
        );
        assert_eq!(app(NO_ROLE_APP_ID).secrets[0].value, NO_ROLE_APP_SECRET);
        assert_eq!(
            app(RECIPIENTS_APP_ID).secrets[0].value,
            RECIPIENTS_APP_SECRET
        );
        assert_eq!(app(DISABLED_APP_ID).secrets[0].value, DISABLED_APP_SECRET);
        assert_eq!(
            app(NO_CONSENT_APP_ID).secrets[0].value,
            NO_CONSENT_APP_SECRET
        );
        let combined = std::fs::read_to_string(combined_pem_path()).unwrap();
        assert!(combined.contains("BEGIN CERTIFICATE") && combined.contains("BEGIN PRIVATE KEY"));
        assert!(cert_pem_path().exists() && key_pem_path().exists() && fixture_path().exists());
    }
}
