//! Fault injection, throttling, read-after-write lag and the `/_sim/` control API over HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::{Duration, Instant};

use airlock_sim::Faults;
use common::*;
use serde_json::{Value, json};

async fn get_mailbox(sim: &Sim, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    sim.invoke_with(token, TENANT, "Get-Mailbox", json!({"Identity": "alexw"}))
        .await
}

#[tokio::test]
async fn latency_and_failing_statuses() {
    let sim = sim().await;
    let t = sim.token().await;
    let control = sim.server.control();
    control.set_faults(Faults {
        latency_ms: 150,
        ..Default::default()
    });
    let start = Instant::now();
    assert_eq!(get_mailbox(&sim, &t).await.0, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
    control.set_faults(Faults {
        exchange_status: Some(503),
        retry_after_secs: 3,
        ..Default::default()
    });
    let (s, h, v) = get_mailbox(&sim, &t).await;
    assert_eq!((s, h["retry-after"].to_str().unwrap()), (503, "3"));
    assert_eq!(v["error"]["code"], "ServiceUnavailable");
    control.set_faults(Faults {
        exchange_status: Some(504),
        ..Default::default()
    });
    assert_eq!(get_mailbox(&sim, &t).await.0, 504);
    control.set_faults(Faults {
        exchange_fail_next: vec![503, 429, 500],
        ..Default::default()
    });
    assert_eq!(get_mailbox(&sim, &t).await.0, 503);
    let (s, h, v) = get_mailbox(&sim, &t).await;
    assert_eq!((s, h["retry-after"].to_str().unwrap()), (429, "1"));
    assert_eq!(
        v["error"]["message"],
        "You have reached the maximum number of concurrent requests per tenant. Please wait and try again"
    );
    let (s, h, v) = get_mailbox(&sim, &t).await;
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (500, "InternalServerError")
    );
    assert!(h.contains_key("x-exceptiontype"));
    assert_eq!(get_mailbox(&sim, &t).await.0, 200);
    control.set_faults(Faults {
        throttle_every: 3,
        ..Default::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get_mailbox(&sim, &t).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 429, 200, 200, 429]);
    control.set_faults(Faults {
        corrupt_gzip_every: 2,
        ..Default::default()
    });
    assert!(get_mailbox(&sim, &t).await.2.is_object());
    let (s, h, v) = get_mailbox(&sim, &t).await;
    assert_eq!((s, h["content-encoding"].to_str().unwrap()), (200, "gzip"));
    assert!(v.is_null(), "body is not JSON");
    let c = control.counters();
    assert_eq!(c.invokes("Get-Mailbox", "fault_429"), 3);
    assert_eq!(c.invokes("Get-Mailbox", "fault_503"), 2);
}

#[tokio::test]
async fn throttling_budget_with_retry_after() {
    let mut f = airlock_sim::Fixture::contoso();
    f.tenants[0].throttle.budget = 3;
    f.tenants[0].throttle.window_secs = 60;
    let sim = sim_with(f).await;
    let t = sim.token().await;
    let (s, h, _) = get_mailbox(&sim, &t).await;
    assert_eq!(s, 200);
    assert_eq!(h["rate-limit-limit"], "3");
    assert_eq!(h["rate-limit-remaining"], "2");
    assert!(h["rate-limit-reset"].to_str().unwrap().ends_with('Z'));
    for _ in 0..2 {
        assert_eq!(get_mailbox(&sim, &t).await.0, 200);
    }
    let (s, h, _) = get_mailbox(&sim, &t).await;
    assert_eq!(s, 429);
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // another app has its own budget
    let other = sim.server.control().issue_token(uuid(CERT_APP)).unwrap();
    assert_eq!(get_mailbox(&sim, &other).await.0, 200);
    sim.server
        .control()
        .advance_clock(Duration::from_secs(retry));
    assert_eq!(get_mailbox(&sim, &t).await.0, 200);
    assert_eq!(
        sim.server
            .control()
            .counters()
            .invokes("Get-Mailbox", "throttled"),
        1
    );
}

#[tokio::test]
async fn read_after_write_lag() {
    let sim = sim().await;
    sim.server.control().set_faults(Faults {
        read_after_write_lag_ms: 30_000,
        ..Default::default()
    });
    sim.ok("New-DistributionGroup", json!({"Name": "Lagging"}))
        .await;
    let (s, _) = sim
        .invoke("Get-DistributionGroup", json!({"Identity": "Lagging"}))
        .await;
    assert_eq!(s, 404);
    let (s, _) = sim
        .invoke(
            "Add-DistributionGroupMember",
            json!({"Identity": "Lagging", "Member": "alexw"}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(sim.dir().group("Lagging").is_some(), "the write happened");
    sim.server.control().advance_clock(Duration::from_secs(31));
    assert_eq!(
        sim.ok("Get-DistributionGroup", json!({"Identity": "Lagging"}))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn control_api_over_https() {
    let sim = sim().await;
    let base = sim.server.authority();
    let c = &sim.client;
    assert_eq!(
        c.get(format!("{base}/_sim/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .put(format!("{base}/_sim/faults"))
        .json(&json!({"entra_outage": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let f: Value = c
        .get(format!("{base}/_sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["entra_outage"], true);
    assert_eq!(
        sim.post_form(TENANT, &[("grant_type", "client_credentials")])
            .await
            .0,
        503
    );
    c.put(format!("{base}/_sim/faults"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let counters: Value = c
        .get(format!("{base}/_sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["token_requests"][""]["fault_503"], 1);
    c.post(format!("{base}/_sim/counters/reset"))
        .send()
        .await
        .unwrap();
    let r = c
        .post(format!("{base}/_sim/apps/{SECRET_APP}/expire-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = sim
        .post_form(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_eq!((s, v["error_codes"][0].as_u64().unwrap()), (401, 7000222));
    let r = c
        .delete(format!("{base}/_sim/apps/{CERT_APP}/service-principal"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = sim.server.control().issue_token(uuid(CERT_APP)).unwrap();
    assert_eq!(
        sim.invoke_with(&t, TENANT, "Get-OrganizationConfig", json!({}))
            .await
            .0,
        401
    );
    c.post(format!("{base}/_sim/apps/{CERT_APP}/service-principal"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sim.invoke_with(&t, TENANT, "Get-OrganizationConfig", json!({}))
            .await
            .0,
        200
    );
    let r = c
        .put(format!("{base}/_sim/apps/{CERT_APP}/roles"))
        .json(&json!(["View-Only Configuration"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        sim.invoke_with(&t, TENANT, "Get-Mailbox", json!({}))
            .await
            .0,
        401
    );
    let dir: Value = c
        .get(format!("{base}/_sim/tenants/{DOMAIN}/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dir["mailboxes"].as_array().unwrap().len(), 39);
    assert_eq!(dir["groups"].as_array().unwrap().len(), 6);
    let r = c
        .post(format!("{base}/_sim/clock/advance"))
        .json(&json!({"secs": 7200}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        sim.invoke_with(&t, TENANT, "Get-OrganizationConfig", json!({}))
            .await
            .0,
        401,
        "token expired"
    );
    let r = c
        .post(format!(
            "{base}/_sim/apps/00000000-0000-0000-0000-000000000000/expire-secret"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn many_concurrent_clients() {
    let sim = sim().await;
    let t = sim.token().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = sim.client.clone();
        let url = sim.invoke_url(TENANT);
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let r = client
                    .post(&url)
                    .bearer_auth(&t)
                    .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": "alexw"}}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        sim.server.control().counters().invokes("Get-Mailbox", "ok"),
        80
    );
    sim.server.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_listener() {
    let sim = sim().await;
    let url = format!("{}/_sim/health", sim.server.authority());
    assert_eq!(sim.client.get(&url).send().await.unwrap().status(), 200);
    let client = client_for(sim.server.ca_cert_pem(), false);
    sim.server.shutdown().await;
    assert!(client.get(&url).send().await.is_err());
    let other = common::sim().await;
    let url = format!("{}/_sim/health", other.server.authority());
    let client = client_for(other.server.ca_cert_pem(), false);
    drop(other);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client.get(&url).send().await.is_err());
}

#[tokio::test]
async fn control_api_can_be_disabled() {
    let mut f = airlock_sim::Fixture::contoso();
    f.settings.control_api = false;
    let sim = sim_with(f).await;
    let r = sim
        .client
        .get(format!("{}/_sim/counters", sim.server.authority()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(sim.server.control().counters().tokens_total(SECRET_APP), 0);
}
