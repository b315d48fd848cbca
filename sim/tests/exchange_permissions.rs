//! InvokeCommand: auto-reply, mailbox permissions, SendAs, and the confirmation protocol.
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
async fn auto_reply_set_and_get() {
    let sim = sim().await;
    sim.ok("Set-MailboxAutoReplyConfiguration", json!({"Identity": "alexw", "AutoReplyState": "Scheduled", "InternalMessage": "Away", "ExternalMessage": "<html><body>Out</body></html>", "ExternalAudience": "known", "StartTime": "2030-01-01T08:00:00", "EndTime": "2030-01-10T17:00:00Z"})).await;
    let a = sim.dir().mailbox("alexw").unwrap().auto_reply.clone();
    assert_eq!(a.state, "Scheduled");
    assert_eq!(
        a.internal_message.as_deref(),
        Some("<html><body>Away</body></html>")
    );
    assert_eq!(a.external_audience, "Known");
    assert_eq!(a.end_time.as_deref(), Some("2030-01-10T17:00:00"));
    let v = sim
        .ok(
            "Get-MailboxAutoReplyConfiguration",
            json!({"Identity": "alexw@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(v[0]["AutoReplyState"], "Scheduled");
    sim.ok(
        "Set-MailboxAutoReplyConfiguration",
        json!({"Identity": "alexw", "AutoReplyState": "Disabled", "InternalMessage": null}),
    )
    .await;
    let a = sim.dir().mailbox("alexw").unwrap().auto_reply.clone();
    assert_eq!((a.state.as_str(), a.internal_message), ("Disabled", None));
    let (s, _) = sim
        .invoke(
            "Set-MailboxAutoReplyConfiguration",
            json!({"Identity": "alexw", "AutoReplyState": "Sometimes"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = sim.invoke("Set-MailboxAutoReplyConfiguration", json!({"Identity": "alexw", "AutoReplyState": "Scheduled", "StartTime": "2030-01-10T00:00:00", "EndTime": "2030-01-01T00:00:00"})).await;
    assert_eq!(s, 400);
    let (s, _) = sim
        .invoke(
            "Get-MailboxAutoReplyConfiguration",
            json!({"Identity": "ghost"}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn mailbox_permissions() {
    let sim = sim().await;
    let v = sim.ok("Add-MailboxPermission", json!({"Identity": "sales", "User": "meganb", "AccessRights": ["FullAccess"], "InheritanceType": "All", "AutoMapping": false})).await;
    assert_eq!(v[0]["User"], "meganb@contoso.onmicrosoft.com");
    assert_eq!(v[0]["AccessRights"], json!(["FullAccess"]));
    let d = sim.dir();
    let sales = d.mailbox("sales").unwrap().guid;
    let megan = d.mailbox("meganb").unwrap().guid;
    assert!(
        d.mailbox_permissions
            .iter()
            .any(|p| p.mailbox == sales && p.user == megan && !p.auto_mapping)
    );
    let v = sim
        .ok("Get-MailboxPermission", json!({"Identity": "sales"}))
        .await;
    assert_eq!(v[0]["User"], "NT AUTHORITY\\SELF");
    assert_eq!(v.len(), 3);
    sim.ok("Remove-MailboxPermission", json!({"Identity": "sales", "User": "meganb", "AccessRights": ["FullAccess"], "Confirm": false})).await;
    assert!(
        !sim.dir()
            .mailbox_permissions
            .iter()
            .any(|p| p.mailbox == sales && p.user == megan)
    );
    let (s, v) = sim.invoke("Remove-MailboxPermission", json!({"Identity": "sales", "User": "meganb", "AccessRights": ["FullAccess"], "Confirm": false})).await;
    assert_eq!(s, 200);
    assert!(
        v["@adminapi.warnings"][0]
            .as_str()
            .unwrap()
            .contains("because the ACE doesn't exist on the object")
    );
    let (s, v) = sim
        .invoke(
            "Add-MailboxPermission",
            json!({"Identity": "sales", "User": "ghost", "AccessRights": ["FullAccess"]}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(details(&v).1.starts_with("Couldn't find object \"ghost\""));
    let (s, _) = sim
        .invoke(
            "Add-MailboxPermission",
            json!({"Identity": "sales", "User": "meganb", "AccessRights": ["Everything"]}),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn recipient_permissions_send_as() {
    let sim = sim().await;
    let v = sim.ok("Add-RecipientPermission", json!({"Identity": "hr", "Trustee": "lidiah", "AccessRights": ["SendAs"], "Confirm": false})).await;
    for k in [
        "Identity",
        "Trustee",
        "AccessControlType",
        "AccessRights",
        "IsInherited",
        "InheritanceType",
        "TrusteeSidString",
        "IsValid",
    ] {
        assert!(v[0].get(k).is_some(), "{k}");
    }
    let v = sim
        .ok("Get-RecipientPermission", json!({"Identity": "hr"}))
        .await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["Trustee"], "lidiah@contoso.onmicrosoft.com");
    sim.ok("Remove-RecipientPermission", json!({"Identity": "hr", "Trustee": "lidiah", "AccessRights": ["SendAs"], "Confirm": false})).await;
    assert!(
        sim.ok("Get-RecipientPermission", json!({"Identity": "hr"}))
            .await
            .is_empty()
    );
    let (s, _) = sim
        .invoke(
            "Add-RecipientPermission",
            json!({"Identity": "hr", "Trustee": "lidiah", "AccessRights": ["FullAccess"]}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = sim
        .invoke("Get-RecipientPermission", json!({"Identity": "ghost"}))
        .await;
    assert_eq!(s, 404);
    assert_eq!(details(&v).1, "Couldn't find 'ghost' as a recipient.");
}

#[tokio::test]
async fn confirm_true_returns_the_prompt_and_changes_nothing() {
    let sim = sim().await;
    let before = sim.dir();
    let (s, v) = sim.invoke("Remove-MailboxPermission", json!({"Identity": "helpdesk", "User": "alexw", "AccessRights": ["FullAccess"], "Confirm": true})).await;
    assert_eq!(s, 200);
    assert!(
        v["@adminapi.confirmationmessage"]
            .as_str()
            .unwrap()
            .starts_with("Are you sure")
    );
    let (s, _) = sim
        .invoke(
            "Set-Mailbox",
            json!({"Identity": "alexw", "HiddenFromAddressListsEnabled": true, "WhatIf": true}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(sim.dir(), before);
}
