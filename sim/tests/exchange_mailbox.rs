//! InvokeCommand: mailbox cmdlets, permissions, auto-reply, envelopes, paging and `$select`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::*;
use serde_json::{Value, json};

fn details(v: &Value) -> (String, String) {
    let msg = v["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = msg.splitn(3, '|').collect();
    assert_eq!(parts.len(), 3, "{msg}");
    (parts[1].to_owned(), parts[2].to_owned())
}

#[tokio::test]
async fn get_mailbox_by_every_identity_form() {
    let sim = sim().await;
    let guid = sim.dir().mailbox("alexw").unwrap().guid.to_string();
    for id in [
        "alexw",
        "Alex Wilber",
        "alexw@contoso.onmicrosoft.com",
        "ALEXW@CONTOSO.ONMICROSOFT.COM",
        guid.as_str(),
    ] {
        let v = sim.ok("Get-Mailbox", json!({"Identity": id})).await;
        assert_eq!(v.len(), 1);
        assert_eq!(v[0]["Alias"], "alexw", "{id}");
        assert_eq!(v[0]["EmailAddresses@odata.type"], "#Collection(String)");
    }
    let v = sim
        .ok(
            "Get-Mailbox",
            json!({"Identity": "megan.bowen@contoso.com"}),
        )
        .await;
    assert_eq!(v[0]["Alias"], "meganb");
    // cmdlet names are case-insensitive
    let v = sim.ok("get-mailbox", json!({"Identity": "pattif"})).await;
    assert_eq!(
        v[0]["ForwardingSmtpAddress"],
        "smtp:patti.home@fabrikam.example"
    );
}

#[tokio::test]
async fn success_envelope_and_headers() {
    let sim = sim().await;
    let t = sim.token().await;
    let (s, h, v) = sim
        .invoke_with(&t, DOMAIN, "Get-OrganizationConfig", json!({}))
        .await;
    assert_eq!(s, 200);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json;odata.metadata=minimal")
    );
    assert_eq!(h["odata-version"], "4.0");
    uuid::Uuid::parse_str(h["request-id"].to_str().unwrap()).unwrap();
    assert_eq!(
        v["@odata.context"],
        format!(
            "{}/adminapi/beta/{DOMAIN}/$metadata#Collection(Exchange.GenericHashTable)",
            sim.server.exchange()
        )
    );
    assert_eq!(v["adminapi.warnings@odata.type"], "#Collection(String)");
    assert_eq!(v["@adminapi.warnings"], json!([]));
    assert_eq!(v["value"][0]["Name"], DOMAIN);
    assert!(v.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn not_found_ambiguous_and_bad_parameter_envelopes() {
    let sim = sim().await;
    let t = sim.token().await;
    let (s, h, v) = sim
        .invoke_with(
            &t,
            TENANT,
            "Get-Mailbox",
            json!({"Identity": "nobody@contoso.com"}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "NotFound");
    assert_eq!(v["error"]["message"], "Error executing cmdlet");
    assert_eq!(v["error"]["details"][0]["code"], "Client");
    assert!(
        v["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Ex6F9304|")
    );
    let (ty, text) = details(&v);
    assert_eq!(
        ty,
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
    assert!(text.starts_with("The operation couldn't be performed because object 'nobody@contoso.com' couldn't be found on '"));
    assert_eq!(h["x-exceptiontype"], "ManagementObjectNotFoundException");
    assert!(h.contains_key("request-id"));
    assert_eq!(
        v["error"]["innererror"]["internalexception"]["message"],
        text.as_str()
    );
    let (s, _, v) = sim
        .invoke_with(
            &t,
            TENANT,
            "Get-Mailbox",
            json!({"Identity": "x", "Bogus": 1}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        details(&v).1,
        "A parameter cannot be found that matches parameter name 'Bogus'."
    );
    let (s, _, v) = sim
        .invoke_with(
            &t,
            TENANT,
            "Set-Mailbox",
            json!({"HiddenFromAddressListsEnabled": true}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        details(&v)
            .1
            .contains("missing mandatory parameters: Identity")
    );
    // a group whose display name equals a mailbox name makes that name ambiguous
    sim.ok(
        "New-DistributionGroup",
        json!({"Name": "Alex Fans", "DisplayName": "Alex Wilber"}),
    )
    .await;
    let (s, h, _) = sim
        .invoke_with(
            &t,
            TENANT,
            "Get-Recipient",
            json!({"Identity": "Alex Wilber"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(h["x-exceptiontype"], "ManagementObjectAmbiguousException");
    let c = sim.server.control().counters();
    assert_eq!(
        c.invokes("Get-Mailbox", "ManagementObjectNotFoundException"),
        1
    );
    assert_eq!(c.invokes("Get-Mailbox", "ParameterBindingException"), 1);
}

#[tokio::test]
async fn set_mailbox_forwarding_on_and_off() {
    let sim = sim().await;
    sim.ok("Set-Mailbox", json!({"Identity": "alexw", "ForwardingSmtpAddress": "alex@fabrikam.example", "DeliverToMailboxAndForward": true})).await;
    let m = sim.dir().mailbox("alexw").unwrap().clone();
    assert_eq!(
        m.forwarding_smtp_address.as_deref(),
        Some("alex@fabrikam.example")
    );
    assert!(m.deliver_to_mailbox_and_forward);
    let v = sim.ok("Get-Mailbox", json!({"Identity": "alexw"})).await;
    assert_eq!(v[0]["ForwardingSmtpAddress"], "smtp:alex@fabrikam.example");
    sim.ok(
        "Set-Mailbox",
        json!({"Identity": "alexw", "ForwardingAddress": "adelev"}),
    )
    .await;
    let v = sim.ok("Get-Mailbox", json!({"Identity": "alexw"})).await;
    assert_eq!(v[0]["ForwardingAddress"], "Adele Vance");
    sim.ok("Set-Mailbox", json!({"Identity": "alexw", "ForwardingSmtpAddress": null, "ForwardingAddress": null, "DeliverToMailboxAndForward": false})).await;
    let m = sim.dir().mailbox("alexw").unwrap().clone();
    assert!(
        m.forwarding_smtp_address.is_none()
            && m.forwarding_address.is_none()
            && !m.deliver_to_mailbox_and_forward
    );
    let (s, v) = sim
        .invoke(
            "Set-Mailbox",
            json!({"Identity": "alexw", "ForwardingAddress": "ghost"}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(details(&v).1.starts_with("Couldn't find object \"ghost\""));
}

#[tokio::test]
async fn set_mailbox_gal_type_quotas_hold_and_no_op_warning() {
    let sim = sim().await;
    sim.ok(
        "Set-Mailbox",
        json!({"Identity": "diegos", "HiddenFromAddressListsEnabled": true, "Type": "Shared"}),
    )
    .await;
    let m = sim.dir().mailbox("diegos").unwrap().clone();
    assert!(m.hidden_from_address_lists_enabled);
    assert_eq!(m.recipient_type_details, "SharedMailbox");
    sim.ok(
        "Set-Mailbox",
        json!({"Identity": "diegos", "Type": "Regular"}),
    )
    .await;
    assert_eq!(
        sim.dir().mailbox("diegos").unwrap().recipient_type_details,
        "UserMailbox"
    );
    sim.ok("Set-Mailbox", json!({"Identity": "diegos", "IssueWarningQuota": "40GB", "ProhibitSendQuota": "45 GB", "ProhibitSendReceiveQuota": "50GB"})).await;
    let v = sim.ok("Get-Mailbox", json!({"Identity": "diegos"})).await;
    assert_eq!(v[0]["ProhibitSendQuota"], "45 GB (48,318,382,080 bytes)");
    let (s, v) = sim
        .invoke(
            "Set-Mailbox",
            json!({"Identity": "diegos", "IssueWarningQuota": "49GB"}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    sim.ok(
        "Set-Mailbox",
        json!({"Identity": "diegos", "LitigationHoldEnabled": true, "LitigationHoldDuration": 365}),
    )
    .await;
    let m = sim.dir().mailbox("diegos").unwrap().clone();
    assert!(m.litigation_hold_enabled);
    assert_eq!(m.litigation_hold_duration, "365.00:00:00");
    let (s, v) = sim
        .invoke(
            "Set-Mailbox",
            json!({"Identity": "diegos", "LitigationHoldEnabled": true}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["@adminapi.warnings"],
        json!([
            "The command completed successfully but no settings of 'diegos' have been modified."
        ])
    );
    let (s, v) = sim
        .invoke(
            "Set-Mailbox",
            json!({"Identity": "diegos", "Type": "Castle"}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn send_on_behalf_hashtable_array_and_null() {
    let sim = sim().await;
    let names = |sim: &Sim| {
        let d = sim.dir();
        let mut v: Vec<String> = d
            .mailbox("helpdesk")
            .unwrap()
            .grant_send_on_behalf_to
            .iter()
            .map(|g| d.smtp_of(*g).unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&sim), vec!["meganb@contoso.onmicrosoft.com"]);
    sim.ok("Set-Mailbox", json!({"Identity": "helpdesk", "GrantSendOnBehalfTo": {"@odata.type": "#Exchange.GenericHashTable", "Add": ["alexw@contoso.onmicrosoft.com", "adelev"]}})).await;
    assert_eq!(names(&sim).len(), 3);
    sim.ok("Set-Mailbox", json!({"Identity": "helpdesk", "GrantSendOnBehalfTo": {"@odata.type": "#Exchange.GenericHashTable", "remove": "meganb"}})).await;
    assert_eq!(
        names(&sim),
        vec![
            "adelev@contoso.onmicrosoft.com",
            "alexw@contoso.onmicrosoft.com"
        ]
    );
    let v = sim.ok("Get-Mailbox", json!({"Identity": "helpdesk"})).await;
    assert_eq!(
        v[0]["GrantSendOnBehalfTo"],
        json!(["Alex Wilber", "Adele Vance"])
    );
    sim.ok(
        "Set-Mailbox",
        json!({"Identity": "helpdesk", "GrantSendOnBehalfTo": ["leeg"]}),
    )
    .await;
    assert_eq!(names(&sim), vec!["leeg@contoso.onmicrosoft.com"]);
    sim.ok(
        "Set-Mailbox",
        json!({"Identity": "helpdesk", "GrantSendOnBehalfTo": null}),
    )
    .await;
    assert!(names(&sim).is_empty());
}

#[tokio::test]
async fn get_recipient_filters_and_select() {
    let sim = sim().await;
    let shared = sim
        .ok(
            "Get-Mailbox",
            json!({"RecipientTypeDetails": ["SharedMailbox"], "ResultSize": "Unlimited"}),
        )
        .await;
    assert_eq!(shared.len(), 6);
    let v = sim
        .ok(
            "Get-Recipient",
            json!({"Filter": "RecipientTypeDetails -eq 'MailUniversalDistributionGroup'"}),
        )
        .await;
    assert_eq!(v.len(), 5);
    let v = sim
        .ok(
            "Get-Mailbox",
            json!({"Filter": "(Name -like 'A*') -and (HiddenFromAddressListsEnabled -eq $false)"}),
        )
        .await;
    let names: Vec<&str> = v.iter().map(|o| o["Name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Alex Wilber", "Adele Vance", "Allan Deyoung"]);
    let (s, _) = sim
        .invoke("Get-Mailbox", json!({"Filter": "Name = 'x'"}))
        .await;
    assert_eq!(s, 400);
    let t = sim.token().await;
    let r = sim
        .client
        .post(format!("{}?$select=Name,EmailAddresses", sim.invoke_url(TENANT)))
        .bearer_auth(&t)
        .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": "alexw"}}}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let keys: Vec<&String> = v["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
}

#[tokio::test]
async fn paging_with_maxpagesize_and_absolute_next_link() {
    let sim = sim().await;
    let t = sim.token().await;
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}});
    let mut url = sim.invoke_url(TENANT);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = sim
            .client
            .post(&url)
            .bearer_auth(&t)
            .header("Prefer", "odata.maxpagesize=10")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        pages += 1;
        let page = v["value"].as_array().unwrap();
        assert!(page.len() <= 10);
        seen.extend(page.iter().map(|o| o["Alias"].as_str().unwrap().to_owned()));
        match v["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&sim.server.exchange()), "{next}");
                assert_ne!(next, url);
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 39);
    seen.dedup();
    assert_eq!(seen.len(), 39);
    let v = sim.ok("Get-Mailbox", json!({"ResultSize": 5})).await;
    assert_eq!(v.len(), 5);
}
