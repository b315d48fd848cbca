//! InvokeCommand: distribution groups and their members.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::*;
use serde_json::{Value, json};

fn exception(v: &Value) -> String {
    v["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .split('|')
        .nth(1)
        .unwrap()
        .to_owned()
}

fn text(v: &Value) -> String {
    v["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .splitn(3, '|')
        .nth(2)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn get_distribution_group_and_members() {
    let sim = sim().await;
    let v = sim.ok("Get-DistributionGroup", json!({})).await;
    assert_eq!(v.len(), 6);
    let v = sim
        .ok(
            "Get-DistributionGroup",
            json!({"Identity": "salesteam@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(v[0]["Name"], "Sales Team");
    assert_eq!(v[0]["ManagedBy"], json!(["Megan Bowen"]));
    assert_eq!(v[0]["ManagedBy@odata.type"], "#Collection(String)");
    let v = sim
        .ok(
            "Get-DistributionGroupMember",
            json!({"Identity": "All Staff"}),
        )
        .await;
    let names: Vec<&str> = v.iter().map(|o| o["Name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Sales Team", "Marketing", "Engineering"]);
    let (s, v) = sim
        .invoke("Get-DistributionGroup", json!({"Identity": "alexw"}))
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        exception(&v),
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
    let (s, _) = sim
        .invoke(
            "Get-DistributionGroupMember",
            json!({"Identity": "No Such Group"}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn new_distribution_group_and_conflicts() {
    let sim = sim().await;
    let v = sim
        .ok(
            "New-DistributionGroup",
            json!({"Name": "Project X", "Alias": "projectx", "DisplayName": "Project X Team", "PrimarySmtpAddress": "projectx@contoso.com",
                   "Members": ["alexw", "adelev@contoso.onmicrosoft.com"], "ManagedBy": ["meganb"], "Type": "Security",
                   "MemberJoinRestriction": "ApprovalRequired", "MemberDepartRestriction": "Closed", "RequireSenderAuthenticationEnabled": false}),
        )
        .await;
    assert_eq!(v[0]["Name"], "Project X");
    assert_eq!(v[0]["RecipientTypeDetails"], "MailUniversalSecurityGroup");
    let d = sim.dir();
    let g = d.group("projectx").unwrap();
    assert_eq!(g.primary_smtp_address, "projectx@contoso.com");
    assert_eq!(
        d.member_addresses("projectx"),
        vec![
            "adelev@contoso.onmicrosoft.com",
            "alexw@contoso.onmicrosoft.com"
        ]
    );
    assert_eq!(g.managed_by, vec![d.mailbox("meganb").unwrap().guid]);
    assert_eq!(g.member_join_restriction, "ApprovalRequired");
    assert!(!g.require_sender_authentication_enabled);
    // same name: ADObjectAlreadyExists; same address: ProxyAddressExists
    let (s, v) = sim
        .invoke(
            "New-DistributionGroup",
            json!({"Name": "Project X", "Alias": "px2"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        exception(&v),
        "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
    );
    assert!(text(&v).starts_with("The object 'CN=Project X,"));
    let (s, v) = sim
        .invoke(
            "New-DistributionGroup",
            json!({"Name": "Project Y", "PrimarySmtpAddress": "alexw@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        exception(&v),
        "Microsoft.Exchange.Data.ProxyAddressExistsException"
    );
    assert_eq!(
        text(&v),
        "The proxy address \"SMTP:alexw@contoso.onmicrosoft.com\" is already being used by the proxy addresses or LegacyExchangeDN of \"Alex Wilber\". Please choose another proxy address."
    );
    let (s, v) = sim
        .invoke(
            "New-DistributionGroup",
            json!({"Name": "Project Z", "Members": ["ghost"]}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        text(&v),
        "Couldn't find object \"ghost\". Please make sure that it was spelled correctly or specify a different object."
    );
    let (s, _) = sim
        .invoke("New-DistributionGroup", json!({"Alias": "noname"}))
        .await;
    assert_eq!(s, 400);
    // defaults: alias from the name, address on the default domain
    sim.ok("New-DistributionGroup", json!({"Name": "Quiet Room"}))
        .await;
    assert_eq!(
        sim.dir().group("Quiet Room").unwrap().primary_smtp_address,
        "QuietRoom@contoso.onmicrosoft.com"
    );
}

#[tokio::test]
async fn set_distribution_group_owners_and_address() {
    let sim = sim().await;
    sim.ok("Set-DistributionGroup", json!({"Identity": "marketing", "ManagedBy": {"@odata.type": "#Exchange.GenericHashTable", "Add": ["lynner"], "Remove": ["adelev"]}, "BypassSecurityGroupManagerCheck": true})).await;
    let d = sim.dir();
    let owners: Vec<_> = d
        .group("marketing")
        .unwrap()
        .managed_by
        .iter()
        .map(|g| d.smtp_of(*g).unwrap().to_owned())
        .collect();
    assert_eq!(
        owners,
        vec![
            "miriamg@contoso.onmicrosoft.com",
            "lynner@contoso.onmicrosoft.com"
        ]
    );
    sim.ok("Set-DistributionGroup", json!({"Identity": "marketing", "PrimarySmtpAddress": "mkt@contoso.com", "HiddenFromAddressListsEnabled": true, "DisplayName": "Mkt"})).await;
    let g = sim.dir().group("marketing").unwrap().clone();
    assert_eq!(
        g.email_addresses,
        vec![
            "SMTP:mkt@contoso.com",
            "smtp:marketing@contoso.onmicrosoft.com"
        ]
    );
    assert!(g.hidden_from_address_lists_enabled);
    let v = sim
        .ok(
            "Get-DistributionGroup",
            json!({"Identity": "marketing@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(v[0]["DisplayName"], "Mkt");
    let (s, v) = sim
        .invoke(
            "Set-DistributionGroup",
            json!({"Identity": "marketing", "DisplayName": "Mkt"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["@adminapi.warnings"][0],
        "The command completed successfully but no settings of 'marketing' have been modified."
    );
    let (s, _) = sim
        .invoke(
            "Set-DistributionGroup",
            json!({"Identity": "marketing", "ManagedBy": ["ghost"]}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = sim
        .invoke(
            "Set-DistributionGroup",
            json!({"Identity": "ghost", "DisplayName": "x"}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn remove_distribution_group() {
    let sim = sim().await;
    sim.ok("Remove-DistributionGroup", json!({"Identity": "engineering", "Confirm": false, "BypassSecurityGroupManagerCheck": true})).await;
    assert!(sim.dir().group("engineering").is_none());
    assert_eq!(sim.dir().member_addresses("allstaff").len(), 2);
    let (s, v) = sim
        .invoke(
            "Remove-DistributionGroup",
            json!({"Identity": "engineering", "Confirm": false}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        exception(&v),
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
}

#[tokio::test]
async fn add_remove_update_members() {
    let sim = sim().await;
    sim.ok("Add-DistributionGroupMember", json!({"Identity": "emptylist", "Member": "alexw@contoso.onmicrosoft.com", "BypassSecurityGroupManagerCheck": true})).await;
    assert_eq!(
        sim.dir().member_addresses("emptylist"),
        vec!["alexw@contoso.onmicrosoft.com"]
    );
    let (s, v) = sim
        .invoke(
            "Add-DistributionGroupMember",
            json!({"Identity": "emptylist", "Member": "alexw@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        exception(&v),
        "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException"
    );
    assert_eq!(
        text(&v),
        "The recipient \"alexw@contoso.onmicrosoft.com\" is already a member of the group \"Empty List\"."
    );
    let (s, v) = sim
        .invoke(
            "Remove-DistributionGroupMember",
            json!({"Identity": "emptylist", "Member": "adelev", "Confirm": false}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        exception(&v),
        "Microsoft.Exchange.Management.Tasks.MemberNotFoundException"
    );
    assert_eq!(
        text(&v),
        "The recipient \"adelev\" isn't a member of the group \"Empty List\"."
    );
    let (s, v) = sim
        .invoke(
            "Add-DistributionGroupMember",
            json!({"Identity": "emptylist", "Member": "ghost"}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(text(&v).starts_with("Couldn't find object \"ghost\""));
    sim.ok(
        "Remove-DistributionGroupMember",
        json!({"Identity": "emptylist", "Member": "alexw", "Confirm": false}),
    )
    .await;
    assert!(sim.dir().member_addresses("emptylist").is_empty());
    sim.ok("Update-DistributionGroupMember", json!({"Identity": "salesteam", "Members": ["leeg", "leeg@contoso.onmicrosoft.com", "marketing"], "Confirm": false})).await;
    assert_eq!(
        sim.dir().member_addresses("salesteam"),
        vec![
            "leeg@contoso.onmicrosoft.com",
            "marketing@contoso.onmicrosoft.com"
        ]
    );
    let (s, _) = sim
        .invoke(
            "Update-DistributionGroupMember",
            json!({"Identity": "salesteam", "Members": ["ghost"], "Confirm": false}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(sim.dir().member_addresses("salesteam").len(), 2);
    sim.ok(
        "Update-DistributionGroupMember",
        json!({"Identity": "salesteam", "Members": [], "Confirm": false}),
    )
    .await;
    assert!(sim.dir().member_addresses("salesteam").is_empty());
    let c = sim.server.control().counters();
    assert_eq!(c.invokes("Add-DistributionGroupMember", "ok"), 1);
    assert_eq!(
        c.invokes(
            "Add-DistributionGroupMember",
            "MemberAlreadyExistsException"
        ),
        1
    );
}
