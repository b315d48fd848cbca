//! The v2.0 Admin API endpoints (`/adminapi/v2.0/{tenant}/{Endpoint}`) and Get-AcceptedDomain.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::*;
use serde_json::{Value, json};

async fn v2(sim: &Sim, token: &str, endpoint: &str, cmdlet: &str, params: Value) -> (u16, Value) {
    let r = sim
        .client
        .post(format!(
            "{}/adminapi/v2.0/{TENANT}/{endpoint}",
            sim.server.exchange()
        ))
        .bearer_auth(token)
        .header("Prefer", "odata.maxpagesize=2")
        .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn v2_endpoints_need_manage_as_app_v2_and_restrict_cmdlets() {
    let mut f = airlock_sim::Fixture::contoso();
    f.app_mut(uuid(CERT_APP)).unwrap().permissions = vec!["Exchange.ManageAsAppV2".into()];
    let sim = sim_with(f).await;
    let v1 = sim.token().await;
    assert_eq!(
        v2(
            &sim,
            &v1,
            "Mailbox",
            "Get-Mailbox",
            json!({"Identity": "alexw"})
        )
        .await
        .0,
        401
    );
    let t = sim.cert_token().await;
    // a ManageAsAppV2-only token is refused by the beta gateway
    assert_eq!(
        sim.invoke_with(&t, TENANT, "Get-Mailbox", json!({}))
            .await
            .0,
        401
    );
    let (s, v) = v2(
        &sim,
        &t,
        "Mailbox",
        "Get-Mailbox",
        json!({"Identity": "alexw"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/adminapi/v2.0/")
    );
    sim.ok("Get-Mailbox", json!({"Identity": "alexw"})).await;
    let (s, _) = v2(&sim, &t, "Mailbox", "Set-Mailbox", json!({"Identity": "alexw", "GrantSendOnBehalfTo": {"@odata.type": "#Exchange.GenericHashTable", "add": ["meganb"]}})).await;
    assert_eq!(s, 200);
    assert_eq!(
        sim.dir()
            .mailbox("alexw")
            .unwrap()
            .grant_send_on_behalf_to
            .len(),
        1
    );
    let (s, v) = v2(
        &sim,
        &t,
        "Mailbox",
        "Set-Mailbox",
        json!({"Identity": "alexw", "HiddenFromAddressListsEnabled": true}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = v2(
        &sim,
        &t,
        "Mailbox",
        "New-DistributionGroup",
        json!({"Name": "x"}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = v2(
        &sim,
        &t,
        "DistributionGroupMember",
        "Get-DistributionGroupMember",
        json!({"Identity": "salesteam"}),
    )
    .await;
    assert_eq!(s, 200);
    let next = v["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("/adminapi/v2.0/") && next.contains("/DistributionGroupMember?"),
        "{next}"
    );
    let (s, v) = v2(&sim, &t, "AcceptedDomain", "Get-AcceptedDomain", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    assert_eq!(v["value"][0]["InitialDomain"], true);
    let (s, v) = v2(
        &sim,
        &t,
        "OrganizationConfig",
        "Get-OrganizationConfig",
        json!({}),
    )
    .await;
    assert_eq!((s, v["value"][0]["Name"].as_str().unwrap()), (200, DOMAIN));
}
