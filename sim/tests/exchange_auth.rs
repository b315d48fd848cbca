//! InvokeCommand authorisation: bearer checks, service principal registration and propagation,
//! RBAC, consent, unknown cmdlets.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn call(sim: &Sim, token: &str, cmdlet: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    sim.invoke_with(token, TENANT, cmdlet, json!({"ResultSize": 1}))
        .await
}

#[tokio::test]
async fn tokens_from_both_credentials_are_accepted() {
    let sim = sim().await;
    let t = sim.secret_token(SECRET_APP, SECRET).await;
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 200);
    let t = sim.cert_token().await;
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 200);
}

#[tokio::test]
async fn bearer_failures() {
    let sim = sim().await;
    let r = sim
        .client
        .post(sim.invoke_url(TENANT))
        .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\"")
    );
    let (s, _, _) = call(&sim, "garbage.token.value", "Get-Mailbox").await;
    assert_eq!(s, 401);
    let good = sim.token().await;
    let mut forged = good.clone();
    forged.insert(good.find('.').unwrap() + 3, 'x');
    assert_eq!(call(&sim, &forged, "Get-Mailbox").await.0, 401);
    let (s, _, _) = sim
        .invoke_with(&good, "fabrikam.onmicrosoft.com", "Get-Mailbox", json!({}))
        .await;
    assert_eq!(s, 401);
    // a Graph token is not an Exchange token
    let (st, v) = sim
        .post_form(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        call(&sim, v["access_token"].as_str().unwrap(), "Get-Mailbox")
            .await
            .0,
        401
    );
    // expiry follows the simulator clock
    sim.server
        .control()
        .advance_clock(Duration::from_secs(2 * 3600));
    let (s, _, v) = call(&sim, &good, "Get-Mailbox").await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["message"], "The access token has expired.");
    assert_eq!(
        sim.server
            .control()
            .counters()
            .invokes("Get-Mailbox", "invalid_token"),
        6
    );
}

#[tokio::test]
async fn unregistered_service_principal_is_unauthorized() {
    let sim = sim().await;
    let t = sim
        .secret_token(UNREGISTERED_APP, UNREGISTERED_SECRET)
        .await;
    let (s, _, v) = call(&sim, &t, "Get-Mailbox").await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], "Unauthorized");
    assert_eq!(v["error"]["message"], "UnAuthorized");
    sim.server
        .control()
        .register_service_principal(uuid(UNREGISTERED_APP))
        .unwrap();
    assert_eq!(
        call(&sim, &t, "Get-Mailbox").await.0,
        401,
        "registered, but no role yet"
    );
    sim.server
        .control()
        .set_roles(uuid(UNREGISTERED_APP), vec!["Mail Recipients".into()])
        .unwrap();
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 200);
    sim.server
        .control()
        .unregister_service_principal(uuid(UNREGISTERED_APP))
        .unwrap();
    assert_eq!(
        call(&sim, &t, "Get-Mailbox").await.2["error"]["message"],
        "UnAuthorized"
    );
}

#[tokio::test]
async fn role_assignment_propagation_delay() {
    let mut f = airlock_sim::Fixture::contoso();
    let app = f.app_mut(uuid(UNREGISTERED_APP)).unwrap();
    app.exchange.propagation_delay_secs = 1800;
    app.exchange.roles = vec!["Application Exchange Full Access".into()];
    let sim = sim_with(f).await;
    let t = sim
        .secret_token(UNREGISTERED_APP, UNREGISTERED_SECRET)
        .await;
    sim.server
        .control()
        .register_service_principal(uuid(UNREGISTERED_APP))
        .unwrap();
    let (s, _, v) = call(&sim, &t, "Get-Mailbox").await;
    assert_eq!(
        (s, v["error"]["message"].as_str().unwrap()),
        (401, "UnAuthorized")
    );
    sim.server
        .control()
        .advance_clock(Duration::from_secs(1700));
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 401);
    sim.server.control().advance_clock(Duration::from_secs(101));
    let t = sim
        .secret_token(UNREGISTERED_APP, UNREGISTERED_SECRET)
        .await;
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 200);
    let c = sim.server.control().counters();
    assert_eq!(c.invokes("Get-Mailbox", "sp_not_registered"), 2);
    // a role change propagates with the same delay
    sim.server
        .control()
        .set_roles(
            uuid(UNREGISTERED_APP),
            vec!["View-Only Configuration".into()],
        )
        .unwrap();
    assert_eq!(
        call(&sim, &t, "Get-Mailbox").await.0,
        200,
        "old roles still cached"
    );
    sim.server
        .control()
        .advance_clock(Duration::from_secs(1801));
    let t = sim
        .secret_token(UNREGISTERED_APP, UNREGISTERED_SECRET)
        .await;
    let (s, _, v) = call(&sim, &t, "Get-Mailbox").await;
    assert_eq!(
        (s, v["error"]["message"].as_str().unwrap()),
        (401, "User is not allowed to call Get-Mailbox")
    );
}

#[tokio::test]
async fn real_time_propagation_delay() {
    let mut f = airlock_sim::Fixture::contoso();
    let app = f.app_mut(uuid(SECRET_APP)).unwrap();
    app.exchange.propagation_delay_secs = 1;
    let sim = sim_with(f).await;
    let t = sim.token().await;
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 401);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 200);
}

#[tokio::test]
async fn rbac_not_allowed_and_consent() {
    let sim = sim().await;
    let t = sim.secret_token(NOROLE_APP, NOROLE_SECRET).await;
    let (s, h, v) = call(&sim, &t, "Get-Mailbox").await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], "Unauthorized");
    assert_eq!(
        v["error"]["message"],
        "User is not allowed to call Get-Mailbox"
    );
    assert_eq!(
        v["error"]["innererror"]["type"],
        "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
    );
    assert!(h.contains_key("request-id"));
    let t = sim.secret_token(RECIPIENTS_APP, RECIPIENTS_SECRET).await;
    assert_eq!(call(&sim, &t, "Get-Mailbox").await.0, 200);
    let (s, _, v) = sim
        .invoke_with(&t, TENANT, "New-DistributionGroup", json!({"Name": "x"}))
        .await;
    assert_eq!(s, 401);
    assert_eq!(
        v["error"]["message"],
        "User is not allowed to call New-DistributionGroup"
    );
    let (s, _, v) = sim
        .invoke_with(&t, TENANT, "get-organizationconfig", json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["message"].as_str().unwrap()),
        (401, "User is not allowed to call Get-OrganizationConfig")
    );
    let t = sim.secret_token(NOCONSENT_APP, NOCONSENT_SECRET).await;
    let (s, _, v) = call(&sim, &t, "Get-Mailbox").await;
    assert_eq!(
        (s, v["error"]["message"].as_str().unwrap()),
        (401, "Access Denied")
    );
    // custom role from the fixture
    sim.server
        .control()
        .set_roles(uuid(NOROLE_APP), vec!["Helpdesk Read Only".into()])
        .unwrap();
    let t = sim.secret_token(NOROLE_APP, NOROLE_SECRET).await;
    assert_eq!(call(&sim, &t, "Get-DistributionGroup").await.0, 200);
    assert_eq!(call(&sim, &t, "Get-OrganizationConfig").await.0, 401);
}

#[tokio::test]
async fn unknown_cmdlet_is_a_403_with_a_broken_gzip_body() {
    let sim = sim().await;
    let t = sim.token().await;
    let r = sim
        .client
        .post(sim.invoke_url(TENANT))
        .bearer_auth(&t)
        .json(&json!({"CmdletInput": {"CmdletName": "Get-Unicorn", "Parameters": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let body = r.bytes().await.unwrap();
    assert!(!body.is_empty() && body.iter().all(|b| *b == 0));
    assert_eq!(
        sim.server
            .control()
            .counters()
            .invokes("Get-Unicorn", "unknown_cmdlet"),
        1
    );
    let (s, _, _) = sim.invoke_with(&t, TENANT, "", json!({})).await;
    assert_eq!(s, 403);
    let r = sim
        .client
        .post(sim.invoke_url(TENANT))
        .bearer_auth(&t)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
