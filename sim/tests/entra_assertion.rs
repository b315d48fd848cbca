//! Client assertions (RS256+x5t, PS256+x5t#S256): accepted variants, every failure, tampering,
//! and a client built the way Microsoft's libraries build requests (discovery first).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn assertion_ps256_x5t_s256_and_rs256_x5t() {
    let sim = sim().await;
    let url = sim.token_url(TENANT);
    for a in [Assertion::new(&url), Assertion::new(&url).rs256()] {
        let jwt = a.sign();
        let (s, v) = sim.post_form(TENANT, &assertion_form(CERT_APP, &jwt)).await;
        assert_eq!(s, 200, "{v}");
        let c = sim
            .server
            .control()
            .verify_token(v["access_token"].as_str().unwrap())
            .unwrap();
        assert_eq!((c.appid.as_str(), c.appidacr.as_str()), (CERT_APP, "2"));
    }
    assert_eq!(sim.server.control().counters().tokens(CERT_APP, "ok"), 2);
}

#[tokio::test]
async fn assertion_claim_variants_accepted() {
    let sim = sim().await;
    let url = sim.token_url(TENANT);
    let n = now();
    // MSAL.NET: nbf/exp as numeric strings, no iat
    let mut a = Assertion::new(&url);
    a.claims["nbf"] = json!(n.to_string());
    a.claims["exp"] = json!((n + 600).to_string());
    // MSAL Python: no nbf, iat present; extra claims and x5c ignored
    let mut b = Assertion::new(&url).rs256();
    b.claims.as_object_mut().unwrap().remove("nbf");
    b.claims["iat"] = json!(n);
    b.claims["client_ip"] = json!("10.0.0.1");
    b.header["x5c"] = json!(["ignored"]);
    // Azure Rust SDK: standard base64 thumbprint; single-element aud array; domain-form aud
    let mut c = Assertion::new(&url);
    c.header["x5t#S256"] = json!(x5t_s256_standard());
    c.claims["aud"] = json!([format!(
        "{}/{DOMAIN}/oauth2/v2.0/token",
        sim.server.authority()
    )]);
    for a in [a, b, c] {
        let (s, v) = sim
            .post_form(TENANT, &assertion_form(CERT_APP, &a.sign()))
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

#[tokio::test]
async fn assertion_failures() {
    let sim = sim().await;
    let url = sim.token_url(TENANT);
    let post = |jwt: String| {
        let sim = &sim;
        async move { sim.post_form(TENANT, &assertion_form(CERT_APP, &jwt)).await }
    };
    // tampered signature
    let jwt = Assertion::new(&url).sign();
    let mut bytes = jwt.into_bytes();
    let at = bytes.len() - 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let jwt = String::from_utf8(bytes).unwrap();
    let (s, v) = post(jwt).await;
    assert_aad_error(s, &v, 401, "invalid_client", 700027);
    // tampered payload, original signature
    let good = Assertion::new(&url).sign();
    let mut other = Assertion::new(&url);
    other.claims["jti"] = json!("changed");
    let forged = other.sign();
    let parts: Vec<&str> = good.split('.').collect();
    let fparts: Vec<&str> = forged.split('.').collect();
    let (s, v) = post(format!("{}.{}.{}", parts[0], fparts[1], parts[2])).await;
    assert_aad_error(s, &v, 401, "invalid_client", 700027);
    // SHA-256 thumbprint in x5t (wrong kind): key not found, hex echoed
    let mut a = Assertion::new(&url).rs256();
    a.header["x5t"] = json!(x5t_s256());
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 700027);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("Thumbprint of key used by client: 'B2C1FB98")
    );
    // expired and not-yet-valid
    let mut a = Assertion::new(&url);
    a.claims["nbf"] = json!(now() - 7200);
    a.claims["exp"] = json!(now() - 3600);
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 700024);
    let mut a = Assertion::new(&url);
    a.claims["nbf"] = json!(now() + 3600);
    a.claims["exp"] = json!(now() + 4200);
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 700024);
    // two audiences, wrong audience
    let mut a = Assertion::new(&url);
    a.claims["aud"] = json!([
        url.clone(),
        "https://login.microsoftonline.com/x/oauth2/v2.0/token"
    ]);
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 5002741);
    let mut a = Assertion::new(&url);
    a.claims["aud"] = json!("https://login.microsoftonline.com/common/oauth2/v2.0/token");
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 50012);
    // sub != iss; iss != client_id
    let mut a = Assertion::new(&url);
    a.claims["sub"] = json!(SECRET_APP);
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 50048);
    let mut a = Assertion::new(&url);
    a.claims["iss"] = json!(SECRET_APP);
    a.claims["sub"] = json!(SECRET_APP);
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 700021);
    // unsupported alg; garbage
    let mut a = Assertion::new(&url);
    a.header["alg"] = json!("ES256");
    let (s, v) = post(a.sign()).await;
    assert_aad_error(s, &v, 401, "invalid_client", 5002738);
    let (s, v) = post("not.a.jwt".to_owned()).await;
    assert_aad_error(s, &v, 400, "invalid_request", 50027);
    // a certificate-less app cannot use an assertion
    let jwt = Assertion::new(&url).sign();
    let (s, v) = sim
        .post_form(TENANT, &assertion_form(SECRET_APP, &jwt))
        .await;
    assert_eq!(s, 401, "{}", v["error"]);
}

/// A client built the way Microsoft's libraries build requests: instance discovery, OpenID
/// metadata, then a PS256 assertion whose `aud` is the discovered token endpoint, with MSAL.NET's
/// string-typed `nbf`/`exp`.
#[tokio::test]
async fn msal_style_client_discovers_and_gets_a_token() {
    let sim = sim().await;
    let authority = sim.server.authority();
    let inst: Value = sim
        .client
        .get(format!(
            "{authority}/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            form_urlencoded::byte_serialize(
                format!("{authority}/{TENANT}/oauth2/v2.0/authorize").as_bytes()
            )
            .collect::<String>()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let oidc_url = inst["tenant_discovery_endpoint"].as_str().unwrap();
    let oidc: Value = sim
        .client
        .get(oidc_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["issuer"], format!("{authority}/{TENANT}/v2.0"));
    let token_endpoint = oidc["token_endpoint"].as_str().unwrap();
    let jwks: Value = sim
        .client
        .get(oidc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    let n = now();
    let mut a = Assertion::new(token_endpoint);
    a.claims = json!({"aud": token_endpoint, "iss": CERT_APP, "sub": CERT_APP, "nbf": n.to_string(), "exp": (n + 600).to_string(), "jti": uuid::Uuid::new_v4().to_string()});
    let r = sim
        .client
        .post(token_endpoint)
        .header("x-client-SKU", "MSAL.NetCore")
        .form(&assertion_form(CERT_APP, &a.sign()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // unknown tenant on discovery: invalid_tenant
    let r = sim
        .client
        .get(format!(
            "{authority}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_tenant");
    assert_eq!(v["error_codes"], json!([90002]));
}
