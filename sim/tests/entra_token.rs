//! Token endpoint: both credential kinds, both assertion pairs, every AADSTS error of the
//! reference checklist §7, form encoding, tampering, faults and discovery.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::*;
use serde_json::Value;

fn form<'a>(app: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", app),
        ("client_secret", secret),
        ("scope", SCOPE),
    ]
}

#[tokio::test]
async fn secret_in_body_issues_a_v1_exchange_token() {
    let sim = sim().await;
    let (status, headers, v) = sim
        .post_raw(
            TENANT,
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form(SECRET_APP, SECRET))
                .finish(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let exp_in = v["expires_in"].as_i64().unwrap();
    assert!((3600..=5399).contains(&exp_in), "{exp_in}");
    assert_eq!(v["ext_expires_in"], v["expires_in"]);
    assert!(v.get("refresh_in").is_none());
    assert_eq!(headers["cache-control"], "no-store, no-cache");
    assert_eq!(headers["pragma"], "no-cache");
    let c = sim
        .server
        .control()
        .verify_token(v["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(c.aud, "https://outlook.office365.com");
    assert_eq!(c.iss, format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(c.tid, TENANT);
    assert_eq!(c.appid, SECRET_APP);
    assert_eq!(c.appidacr, "1");
    assert_eq!(c.oid, "aaaaaaaa-bbbb-4ccc-8ddd-000000000001");
    assert_eq!(c.roles, vec!["Exchange.ManageAsApp".to_owned()]);
    assert_eq!(c.idtyp, "app");
    assert_eq!(c.ver, "1.0");
    assert_eq!(c.exp - c.iat, exp_in);
    assert_eq!(sim.server.control().counters().tokens(SECRET_APP, "ok"), 1);
}

#[tokio::test]
async fn token_json_claims_are_integers_and_roles_omitted_without_consent() {
    let sim = sim().await;
    let t = sim.secret_token(NOCONSENT_APP, NOCONSENT_SECRET).await;
    let payload = t.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert!(claims["exp"].is_i64() && claims["iat"].is_i64() && claims["nbf"].is_i64());
    assert!(claims.get("roles").is_none(), "{claims}");
}

#[tokio::test]
async fn secret_via_basic_auth_and_domain_tenant() {
    let sim = sim().await;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc(SECRET_APP),
        enc(SECRET)
    ));
    let r = sim
        .client
        .post(sim.token_url(DOMAIN))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["access_token"].is_string());
}

#[tokio::test]
async fn unencoded_plus_in_secret_is_a_space_and_fails() {
    let sim = sim().await;
    let body = format!(
        "grant_type=client_credentials&client_id={SECRET_APP}&client_secret={SECRET}&scope={SCOPE}"
    );
    let (s, _, v) = sim.post_raw(TENANT, body).await;
    assert_aad_error(s, &v, 401, "invalid_client", 7000215);
    // properly encoded, the same secret works
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form(SECRET_APP, SECRET))
        .finish();
    assert!(body.contains("%2B"));
    assert_eq!(sim.post_raw(TENANT, body).await.0, 200);
}

#[tokio::test]
async fn secret_errors() {
    let sim = sim().await;
    let (s, v) = sim.post_form(TENANT, &form(SECRET_APP, "wrong")).await;
    assert_aad_error(s, &v, 401, "invalid_client", 7000215);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("not the client secret ID")
    );
    let (s, v) = sim.post_form(TENANT, &form(SECRET_APP, SECRET_ID)).await;
    assert_aad_error(s, &v, 401, "invalid_client", 7000215);
    let (s, v) = sim
        .post_form(TENANT, &form(SECRET_APP, EXPIRED_SECRET))
        .await;
    assert_aad_error(s, &v, 401, "invalid_client", 7000222);
    sim.server
        .control()
        .expire_secret(uuid(SECRET_APP))
        .unwrap();
    let (s, v) = sim.post_form(TENANT, &form(SECRET_APP, SECRET)).await;
    assert_aad_error(s, &v, 401, "invalid_client", 7000222);
    let c = sim.server.control().counters();
    assert_eq!(c.tokens(SECRET_APP, "AADSTS7000215"), 2);
    assert_eq!(c.tokens(SECRET_APP, "AADSTS7000222"), 2);
}

#[tokio::test]
async fn request_and_tenant_errors() {
    let sim = sim().await;
    let (s, v) = sim
        .post_form(
            TENANT,
            &form("99999999-2222-4333-8444-000000000001", SECRET),
        )
        .await;
    assert_aad_error(s, &v, 400, "unauthorized_client", 700016);
    let (s, v) = sim
        .post_form(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_aad_error(s, &v, 400, "invalid_request", 7000218);
    let (s, v) = sim
        .post_form(
            TENANT,
            &[
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_aad_error(s, &v, 400, "invalid_request", 900144);
    let (s, v) = sim
        .post_form(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
            ],
        )
        .await;
    assert_aad_error(s, &v, 400, "invalid_request", 900144);
    assert!(v["error_description"].as_str().unwrap().contains("'scope'"));
    let (s, v) = sim
        .post_form(
            TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "unsupported_grant_type")
    );
    let mut f = form(SECRET_APP, SECRET);
    f.push(("resource", "https://outlook.office365.com"));
    let (s, v) = sim.post_form(TENANT, &f).await;
    assert_aad_error(s, &v, 400, "invalid_request", 901002);
    let (s, v) = sim
        .post_form("not_a_tenant!", &form(SECRET_APP, SECRET))
        .await;
    assert_aad_error(s, &v, 400, "invalid_request", 900023);
    let (s, v) = sim
        .post_form("fabrikam.onmicrosoft.com", &form(SECRET_APP, SECRET))
        .await;
    assert_aad_error(s, &v, 400, "invalid_request", 90002);
    let (s, v) = sim.post_form("common", &form(SECRET_APP, SECRET)).await;
    assert_aad_error(s, &v, 400, "invalid_request", 9001023);
    let r = sim.client.get(sim.token_url(TENANT)).send().await.unwrap();
    let s = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_aad_error(s, &v, 400, "invalid_request", 900561);
    let (s, v) = sim
        .post_form(TENANT, &form(DISABLED_APP, DISABLED_SECRET))
        .await;
    assert_aad_error(s, &v, 400, "unauthorized_client", 7000112);
}

#[tokio::test]
async fn scope_rules() {
    let sim = sim().await;
    let with_scope = |scope: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", scope),
        ]
    };
    let (s, v) = sim
        .post_form(
            TENANT,
            &with_scope("https://outlook.office365.com/Exchange.ManageAsApp"),
        )
        .await;
    assert_aad_error(s, &v, 400, "invalid_scope", 1002012);
    let (s, v) = sim
        .post_form(
            TENANT,
            &with_scope(
                "https://outlook.office365.com/.default https://graph.microsoft.com/.default",
            ),
        )
        .await;
    assert_aad_error(s, &v, 400, "invalid_scope", 700022);
    let (s, v) = sim
        .post_form(TENANT, &with_scope("https://nothing.example.com/.default"))
        .await;
    assert_aad_error(s, &v, 400, "invalid_resource", 500011);
    let (s, v) = sim
        .post_form(TENANT, &with_scope("https://outlook.office.com/.default"))
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn entra_outage_and_throttling_faults() {
    let sim = sim().await;
    let control = sim.server.control();
    control.set_faults(airlock_sim::Faults {
        entra_outage: true,
        retry_after_secs: 7,
        ..Default::default()
    });
    let (s, h, v) = sim
        .post_raw(
            TENANT,
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form(SECRET_APP, SECRET))
                .finish(),
        )
        .await;
    assert_eq!(s, 503);
    assert_eq!(h["retry-after"], "7");
    assert_eq!(v["error"], "temporarily_unavailable");
    control.set_faults(airlock_sim::Faults {
        entra_fail_next: vec![429, 500],
        ..Default::default()
    });
    assert_eq!(
        sim.post_form(TENANT, &form(SECRET_APP, SECRET)).await.0,
        429
    );
    assert_eq!(
        sim.post_form(TENANT, &form(SECRET_APP, SECRET)).await.0,
        500
    );
    assert_eq!(
        sim.post_form(TENANT, &form(SECRET_APP, SECRET)).await.0,
        200
    );
    let c = control.counters();
    assert_eq!(c.tokens(SECRET_APP, "fault_503"), 1);
    assert_eq!(c.tokens(SECRET_APP, "fault_429"), 1);
    assert_eq!(c.tokens_total(SECRET_APP), 4);
    control.reset_counters();
    assert_eq!(control.counters().tokens_total(SECRET_APP), 0);
}

#[tokio::test]
async fn fixed_lifetime_and_long_lived_mode() {
    let mut f = airlock_sim::Fixture::contoso();
    f.settings.token_lifetime_secs = Some(3599);
    f.settings.long_lived_tokens = true;
    let sim = sim_with(f).await;
    let (s, v) = sim.post_form(TENANT, &form(SECRET_APP, SECRET)).await;
    assert_eq!(s, 200);
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["refresh_in"], 1799);
}

#[tokio::test]
async fn http2_via_alpn() {
    let sim = sim().await;
    let client = client_for(sim.server.ca_cert_pem(), true);
    let r = client
        .post(sim.token_url(TENANT))
        .form(&form(SECRET_APP, SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn credential_shape_errors_and_invalid_instance() {
    let sim = sim().await;
    let jwt = Assertion::new(&sim.token_url(TENANT)).sign();
    let mut both = assertion_form(CERT_APP, &jwt);
    both.push(("client_secret", SECRET));
    let (s, v) = sim.post_form(TENANT, &both).await;
    assert_aad_error(s, &v, 400, "invalid_request", 90023);
    let no_type: Vec<_> = assertion_form(CERT_APP, &jwt)
        .into_iter()
        .filter(|(k, _)| *k != "client_assertion_type")
        .collect();
    let (s, v) = sim.post_form(TENANT, &no_type).await;
    assert_aad_error(s, &v, 400, "invalid_request", 900144);
    let wrong_type: Vec<_> = assertion_form(CERT_APP, &jwt)
        .into_iter()
        .map(|(k, v)| {
            if k == "client_assertion_type" {
                (
                    k,
                    "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                )
            } else {
                (k, v)
            }
        })
        .collect();
    let (s, v) = sim.post_form(TENANT, &wrong_type).await;
    assert_aad_error(s, &v, 401, "invalid_client", 70002);
    let authority = sim.server.authority();
    let r = sim
        .client
        .get(format!(
            "{authority}/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            form_urlencoded::byte_serialize(
                b"https://login.example.invalid/x/oauth2/v2.0/authorize"
            )
            .collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_aad_error(s, &v, 400, "invalid_instance", 50049);
}
