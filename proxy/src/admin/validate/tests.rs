use super::*;

#[test]
fn tenants() {
    assert_eq!(
        tenant_id(" 8A3F0C2E-5B7D-4E19-9C61-2F4D8B6A1E70 ").unwrap(),
        "8a3f0c2e-5b7d-4e19-9c61-2f4d8b6a1e70"
    );
    assert_eq!(
        tenant_id("Contoso.onmicrosoft.com").unwrap(),
        "contoso.onmicrosoft.com"
    );
    for bad in [
        "common",
        "Organizations",
        "consumers",
        "",
        "not a tenant",
        "contoso",
        "a/b.com",
        "x.123",
    ] {
        let e = tenant_id(bad).unwrap_err();
        assert_eq!(e.field, "tenant_id", "{bad}");
        let s = e.to_airlock().to_status();
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert!(s.message().starts_with("tenant_id"));
    }
    assert!(
        tenant_id("common")
            .unwrap_err()
            .problem
            .contains("multi-tenant")
    );
}

#[test]
fn app_ids_and_connection_ids() {
    assert!(app_id("11111111-2222-4333-8444-000000000001").is_ok());
    assert!(app_id("{11111111-2222-4333-8444-000000000001}").is_ok());
    for bad in [
        "",
        "11111111",
        "contoso.onmicrosoft.com",
        "zzzzzzzz-2222-4333-8444-000000000001",
    ] {
        assert_eq!(app_id(bad).unwrap_err().field, "app_id");
    }
    assert_eq!(connection_id("x").unwrap_err().field, "connection_id");
}

#[test]
fn organizations_and_names() {
    assert_eq!(
        organization("Contoso.OnMicrosoft.com").unwrap(),
        "contoso.onmicrosoft.com"
    );
    for bad in [
        "",
        "contoso",
        "-bad.com",
        "bad-.com",
        "a..com",
        "has space.com",
        &format!("{}.com", "a".repeat(64)),
    ] {
        assert_eq!(
            organization(bad).unwrap_err().field,
            "organization",
            "{bad}"
        );
    }
    assert_eq!(instance_name("  Contoso prod ").unwrap(), "Contoso prod");
    assert!(instance_name(&"x".repeat(129)).is_err());
    assert!(instance_name("tab\there").is_err());
}

#[test]
fn secrets_are_checked_but_never_echoed() {
    assert!(client_secret("TEST-ONLY~abc+def/=").is_ok());
    for bad in ["", " lead", "trail\n", "in\nside"] {
        let e = client_secret(bad).unwrap_err();
        assert_eq!(e.field, "credential.client_secret");
        if !bad.trim().is_empty() {
            assert!(!e.to_string().contains(bad.trim()));
        }
    }
    assert!(client_secret(&"s".repeat(1025)).is_err());
}

#[test]
fn hosts() {
    assert_eq!(
        host_url("f", "", DEFAULT_AUTHORITY).unwrap(),
        DEFAULT_AUTHORITY
    );
    assert_eq!(
        host_url("f", "https://login.microsoftonline.us/", "").unwrap(),
        "https://login.microsoftonline.us"
    );
    assert_eq!(
        host_url("f", "https://127.0.0.1:8443", "").unwrap(),
        "https://127.0.0.1:8443"
    );
    for bad in [
        "http://login.microsoftonline.com",
        "https://login.microsoftonline.com/tenant",
        "https://u:p@x.com",
        "https://x.com/?a=b",
        "nonsense",
        &format!("https://{}.com", "a".repeat(260)),
    ] {
        assert!(
            host_url("environment.authority_host", bad, "").is_err(),
            "{bad}"
        );
    }
}

#[test]
fn paging() {
    assert_eq!(page_size(0).unwrap(), 100);
    assert!(page_size(1001).is_err());
    assert_eq!(page_token("").unwrap(), 0);
    assert_eq!(page_token("42").unwrap(), 42);
    assert!(page_token("abc").is_err());
    assert!(page_token("-1").is_err());
}
