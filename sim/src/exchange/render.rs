//! Cmdlet output objects, with the read-back formats and annotations of reference §2.1.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::directory::{Directory, Group, Mailbox, MailboxPermission, RecipientPermission};

const COLLECTION: &str = "#Collection(String)";

fn dn(dir: &Directory, name: &str) -> String {
    format!(
        "CN={name},OU={},OU=Microsoft Exchange Hosted Organizations,DC=NAMPR01A002,DC=PROD,DC=OUTLOOK,DC=COM",
        dir.initial_domain
    )
}

/// Distinguished name of an object name in this tenant.
pub(crate) fn distinguished_name(dir: &Directory, name: &str) -> String {
    dn(dir, name)
}

fn names(dir: &Directory, guids: &[Uuid]) -> Value {
    json!(guids.iter().map(|g| dir.name_of(*g)).collect::<Vec<_>>())
}

fn insert_multi(o: &mut Map<String, Value>, key: &str, v: Value) {
    o.insert(format!("{key}@odata.type"), json!(COLLECTION));
    o.insert(key.to_owned(), v);
}

fn identity_fields(o: &mut Map<String, Value>, dir: &Directory, name: &str, guid: Uuid, ext: Uuid) {
    o.insert("Identity".into(), json!(name));
    o.insert("Id".into(), json!(name));
    o.insert("Name".into(), json!(name));
    o.insert("DistinguishedName".into(), json!(dn(dir, name)));
    o.insert("Guid@data.type".into(), json!("System.Guid"));
    o.insert("Guid".into(), json!(guid));
    o.insert("ExchangeObjectId".into(), json!(guid));
    o.insert("ExternalDirectoryObjectId".into(), json!(ext));
    o.insert(
        "OrganizationalUnit".into(),
        json!(format!(
            "{}/Microsoft Exchange Hosted Organizations",
            dir.initial_domain
        )),
    );
}

/// Get-Mailbox output.
pub(crate) fn mailbox(dir: &Directory, m: &Mailbox) -> Value {
    let mut o = Map::new();
    identity_fields(&mut o, dir, &m.name, m.guid, m.external_directory_object_id);
    o.insert("Alias".into(), json!(m.alias));
    o.insert("DisplayName".into(), json!(m.display_name));
    o.insert("PrimarySmtpAddress".into(), json!(m.primary_smtp_address));
    o.insert("UserPrincipalName".into(), json!(m.user_principal_name));
    o.insert("WindowsEmailAddress".into(), json!(m.primary_smtp_address));
    insert_multi(&mut o, "EmailAddresses", json!(m.email_addresses));
    o.insert("RecipientType".into(), json!("UserMailbox"));
    o.insert(
        "RecipientTypeDetails".into(),
        json!(m.recipient_type_details),
    );
    o.insert(
        "IsShared".into(),
        json!(m.recipient_type_details == "SharedMailbox"),
    );
    o.insert(
        "AccountDisabled".into(),
        json!(m.recipient_type_details != "UserMailbox"),
    );
    mailbox_settings(&mut o, dir, m);
    o.insert("MaxSendSize".into(), json!("35 MB (36,700,160 bytes)"));
    o.insert("MaxReceiveSize".into(), json!("36 MB (37,748,736 bytes)"));
    o.insert("ArchiveStatus".into(), json!("None"));
    o.insert("IsMailboxEnabled".into(), json!(true));
    o.insert("WhenCreated".into(), json!(m.when_created));
    o.insert("WhenCreatedUTC@data.type".into(), json!("System.DateTime"));
    o.insert("WhenCreatedUTC".into(), json!(m.when_created));
    Value::Object(o)
}

/// Forwarding, GAL, quota, hold and delegate properties of a mailbox.
fn mailbox_settings(o: &mut Map<String, Value>, dir: &Directory, m: &Mailbox) {
    o.insert(
        "ForwardingAddress".into(),
        json!(m.forwarding_address.map(|g| dir.name_of(g))),
    );
    o.insert(
        "ForwardingSmtpAddress".into(),
        json!(
            m.forwarding_smtp_address
                .as_ref()
                .map(|a| format!("smtp:{a}"))
        ),
    );
    o.insert(
        "DeliverToMailboxAndForward".into(),
        json!(m.deliver_to_mailbox_and_forward),
    );
    o.insert(
        "HiddenFromAddressListsEnabled".into(),
        json!(m.hidden_from_address_lists_enabled),
    );
    o.insert("UseDatabaseQuotaDefaults".into(), json!(false));
    o.insert("IssueWarningQuota".into(), json!(m.issue_warning_quota));
    o.insert("ProhibitSendQuota".into(), json!(m.prohibit_send_quota));
    o.insert(
        "ProhibitSendReceiveQuota".into(),
        json!(m.prohibit_send_receive_quota),
    );
    o.insert(
        "LitigationHoldEnabled".into(),
        json!(m.litigation_hold_enabled),
    );
    o.insert(
        "LitigationHoldDuration".into(),
        json!(m.litigation_hold_duration),
    );
    insert_multi(
        o,
        "GrantSendOnBehalfTo",
        names(dir, &m.grant_send_on_behalf_to),
    );
}

/// Get-DistributionGroup output.
pub(crate) fn group(dir: &Directory, g: &Group) -> Value {
    let mut o = Map::new();
    identity_fields(&mut o, dir, &g.name, g.guid, g.external_directory_object_id);
    o.insert("Alias".into(), json!(g.alias));
    o.insert("DisplayName".into(), json!(g.display_name));
    o.insert("PrimarySmtpAddress".into(), json!(g.primary_smtp_address));
    o.insert("WindowsEmailAddress".into(), json!(g.primary_smtp_address));
    insert_multi(&mut o, "EmailAddresses", json!(g.email_addresses));
    o.insert("RecipientType".into(), json!(g.recipient_type_details));
    o.insert(
        "RecipientTypeDetails".into(),
        json!(g.recipient_type_details),
    );
    o.insert(
        "GroupType".into(),
        json!(if g.recipient_type_details.contains("Security") {
            "Universal, SecurityEnabled"
        } else {
            "Universal"
        }),
    );
    insert_multi(&mut o, "ManagedBy", names(dir, &g.managed_by));
    o.insert(
        "MemberJoinRestriction".into(),
        json!(g.member_join_restriction),
    );
    o.insert(
        "MemberDepartRestriction".into(),
        json!(g.member_depart_restriction),
    );
    o.insert(
        "RequireSenderAuthenticationEnabled".into(),
        json!(g.require_sender_authentication_enabled),
    );
    o.insert(
        "HiddenFromAddressListsEnabled".into(),
        json!(g.hidden_from_address_lists_enabled),
    );
    o.insert("WhenCreated".into(), json!(g.when_created));
    Value::Object(o)
}

/// Get-Recipient / Get-DistributionGroupMember output (a recipient summary).
pub(crate) fn recipient(dir: &Directory, guid: Uuid) -> Option<Value> {
    if let Some(m) = dir.data.mailboxes.iter().find(|m| m.guid == guid) {
        let mut o = Map::new();
        identity_fields(&mut o, dir, &m.name, m.guid, m.external_directory_object_id);
        o.insert("Alias".into(), json!(m.alias));
        o.insert("DisplayName".into(), json!(m.display_name));
        o.insert("PrimarySmtpAddress".into(), json!(m.primary_smtp_address));
        insert_multi(&mut o, "EmailAddresses", json!(m.email_addresses));
        o.insert("RecipientType".into(), json!("UserMailbox"));
        o.insert(
            "RecipientTypeDetails".into(),
            json!(m.recipient_type_details),
        );
        o.insert(
            "HiddenFromAddressListsEnabled".into(),
            json!(m.hidden_from_address_lists_enabled),
        );
        return Some(Value::Object(o));
    }
    let g = dir.data.groups.iter().find(|g| g.guid == guid)?;
    let mut o = Map::new();
    identity_fields(&mut o, dir, &g.name, g.guid, g.external_directory_object_id);
    o.insert("Alias".into(), json!(g.alias));
    o.insert("DisplayName".into(), json!(g.display_name));
    o.insert("PrimarySmtpAddress".into(), json!(g.primary_smtp_address));
    insert_multi(&mut o, "EmailAddresses", json!(g.email_addresses));
    o.insert("RecipientType".into(), json!(g.recipient_type_details));
    o.insert(
        "RecipientTypeDetails".into(),
        json!(g.recipient_type_details),
    );
    o.insert(
        "HiddenFromAddressListsEnabled".into(),
        json!(g.hidden_from_address_lists_enabled),
    );
    Some(Value::Object(o))
}

/// Get-MailboxPermission output for one entry.
pub(crate) fn mailbox_permission(dir: &Directory, p: &MailboxPermission) -> Value {
    let mut o = Map::new();
    o.insert("Identity".into(), json!(dir.name_of(p.mailbox)));
    o.insert("User".into(), json!(dir.principal_of(p.user)));
    insert_multi(&mut o, "AccessRights", json!(p.access_rights));
    o.insert("IsInherited".into(), json!(false));
    o.insert("Deny".into(), json!(false));
    o.insert("InheritanceType".into(), json!(p.inheritance_type));
    o.insert("AutoMapping".into(), json!(p.auto_mapping));
    Value::Object(o)
}

/// The `NT AUTHORITY\SELF` entry every mailbox has.
pub(crate) fn self_permission(dir: &Directory, mailbox: Uuid) -> Value {
    json!({
        "Identity": dir.name_of(mailbox),
        "User": "NT AUTHORITY\\SELF",
        "AccessRights@odata.type": COLLECTION,
        "AccessRights": ["FullAccess", "ReadPermission"],
        "IsInherited": false,
        "Deny": false,
        "InheritanceType": "All",
    })
}

/// Get-RecipientPermission output for one entry (fields of reference §8).
pub(crate) fn recipient_permission(dir: &Directory, p: &RecipientPermission) -> Value {
    json!({
        "Identity": dir.name_of(p.recipient),
        "Trustee": dir.principal_of(p.trustee),
        "AccessControlType": "Allow",
        "AccessRights@odata.type": COLLECTION,
        "AccessRights": p.access_rights,
        "IsInherited": false,
        "InheritanceType": "None",
        "TrusteeSidString": format!("S-1-5-21-{}", p.trustee.as_u128() % 1_000_000_000),
        "IsValid": true,
    })
}

/// Get-MailboxAutoReplyConfiguration output.
pub(crate) fn auto_reply(dir: &Directory, m: &Mailbox) -> Value {
    let a = &m.auto_reply;
    json!({
        "Identity": dir.name_of(m.guid),
        "MailboxOwnerId": m.name,
        "AutoReplyState": a.state,
        "InternalMessage": a.internal_message,
        "ExternalMessage": a.external_message,
        "ExternalAudience": a.external_audience,
        "StartTime": a.start_time,
        "EndTime": a.end_time,
        "IsValid": true,
    })
}

/// Get-OrganizationConfig output (one object).
pub(crate) fn organization(dir: &Directory, display_name: &str, tenant: Uuid) -> Value {
    json!({
        "Identity": dir.initial_domain,
        "Name": dir.initial_domain,
        "DisplayName": display_name,
        "Guid": tenant,
        "OrganizationId": format!("{}/Microsoft Exchange Hosted Organizations - {}", dir.initial_domain, dir.initial_domain),
        "IsDehydrated": false,
        "MailTipsAllTipsEnabled": true,
        "MailTipsExternalRecipientsTipsEnabled": false,
        "MailTipsLargeAudienceThreshold": 25,
        "AuditDisabled": false,
        "OAuth2ClientProfileEnabled": true,
        "DefaultPublicFolderMailbox": null,
        "IsValid": true,
    })
}

/// Get-AcceptedDomain output for one domain.
pub(crate) fn accepted_domain(dir: &Directory, domain: &str) -> Value {
    json!({
        "Identity": domain,
        "Name": domain,
        "DomainName": domain,
        "DomainType": "Authoritative",
        "Default": domain.eq_ignore_ascii_case(&dir.default_domain),
        "InitialDomain": domain.eq_ignore_ascii_case(&dir.initial_domain),
        "IsValid": true,
    })
}
