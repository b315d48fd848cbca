//! Directory objects as the simulator stores them (also the shapes the control API returns).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Auto-reply (out of office) settings of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoReply {
    /// `Enabled`, `Disabled` or `Scheduled`.
    pub state: String,
    /// Internal message (HTML as Exchange stores it).
    pub internal_message: Option<String>,
    /// External message.
    pub external_message: Option<String>,
    /// `None`, `Known` or `All`.
    pub external_audience: String,
    /// Start of the scheduled window (as sent, UTC `yyyy-MM-ddTHH:mm:ss`).
    pub start_time: Option<String>,
    /// End of the scheduled window.
    pub end_time: Option<String>,
}

impl Default for AutoReply {
    fn default() -> Self {
        AutoReply {
            state: "Disabled".to_owned(),
            internal_message: None,
            external_message: None,
            external_audience: "All".to_owned(),
            start_time: None,
            end_time: None,
        }
    }
}

/// A mailbox (user, shared, room or equipment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Exchange object GUID.
    pub guid: Uuid,
    /// Entra object ID.
    pub external_directory_object_id: Uuid,
    /// Name (unique in the tenant).
    pub name: String,
    /// Alias.
    pub alias: String,
    /// Display name.
    pub display_name: String,
    /// UserPrincipalName.
    pub user_principal_name: String,
    /// Primary SMTP address.
    pub primary_smtp_address: String,
    /// Proxy addresses with prefix (`SMTP:` primary, `smtp:` secondary).
    pub email_addresses: Vec<String>,
    /// `UserMailbox`, `SharedMailbox`, `RoomMailbox` or `EquipmentMailbox`.
    pub recipient_type_details: String,
    /// External forwarding address, without the `smtp:` prefix.
    pub forwarding_smtp_address: Option<String>,
    /// Internal forwarding recipient (GUID of a recipient).
    pub forwarding_address: Option<Uuid>,
    /// Keep a copy when forwarding.
    pub deliver_to_mailbox_and_forward: bool,
    /// Hidden from the GAL.
    pub hidden_from_address_lists_enabled: bool,
    /// IssueWarningQuota as Exchange displays it.
    pub issue_warning_quota: String,
    /// ProhibitSendQuota.
    pub prohibit_send_quota: String,
    /// ProhibitSendReceiveQuota.
    pub prohibit_send_receive_quota: String,
    /// Litigation hold.
    pub litigation_hold_enabled: bool,
    /// `Unlimited` or a number of days.
    pub litigation_hold_duration: String,
    /// Recipients (GUIDs) allowed to send on behalf.
    pub grant_send_on_behalf_to: Vec<Uuid>,
    /// Auto-reply settings.
    pub auto_reply: AutoReply,
    /// Creation time (RFC 3339).
    pub when_created: String,
}

/// A distribution group or mail-enabled security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Exchange object GUID.
    pub guid: Uuid,
    /// Entra object ID.
    pub external_directory_object_id: Uuid,
    /// Name (unique).
    pub name: String,
    /// Alias.
    pub alias: String,
    /// Display name.
    pub display_name: String,
    /// Primary SMTP address.
    pub primary_smtp_address: String,
    /// Proxy addresses.
    pub email_addresses: Vec<String>,
    /// `MailUniversalDistributionGroup` or `MailUniversalSecurityGroup`.
    pub recipient_type_details: String,
    /// Owners (GUIDs of mailboxes).
    pub managed_by: Vec<Uuid>,
    /// Members (GUIDs of mailboxes or groups).
    pub members: Vec<Uuid>,
    /// `Open`, `Closed` or `ApprovalRequired`.
    pub member_join_restriction: String,
    /// `Open` or `Closed`.
    pub member_depart_restriction: String,
    /// Only authenticated senders.
    pub require_sender_authentication_enabled: bool,
    /// Hidden from the GAL.
    pub hidden_from_address_lists_enabled: bool,
    /// Creation time (RFC 3339).
    pub when_created: String,
    /// Not visible to reads before this simulator time (Unix ms): read-after-write lag.
    #[serde(skip)]
    pub visible_from_ms: i64,
}

/// A mailbox permission entry (Add-MailboxPermission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxPermission {
    /// The mailbox.
    pub mailbox: Uuid,
    /// The trustee (a recipient GUID).
    pub user: Uuid,
    /// Rights, e.g. `FullAccess`.
    pub access_rights: Vec<String>,
    /// `All` by default.
    pub inheritance_type: String,
    /// Outlook auto-mapping.
    pub auto_mapping: bool,
}

/// A recipient permission entry (SendAs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientPermission {
    /// The recipient the right is on.
    pub recipient: Uuid,
    /// The trustee.
    pub trustee: Uuid,
    /// Always `SendAs`.
    pub access_rights: Vec<String>,
}

/// A full copy of one tenant's directory, as returned by the control API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySnapshot {
    /// Tenant ID.
    pub tenant_id: Uuid,
    /// Mailboxes.
    pub mailboxes: Vec<Mailbox>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Mailbox permissions.
    pub mailbox_permissions: Vec<MailboxPermission>,
    /// Recipient (SendAs) permissions.
    pub recipient_permissions: Vec<RecipientPermission>,
}

impl DirectorySnapshot {
    /// A mailbox by alias (case-insensitive).
    pub fn mailbox(&self, alias: &str) -> Option<&Mailbox> {
        self.mailboxes
            .iter()
            .find(|m| m.alias.eq_ignore_ascii_case(alias))
    }

    /// A group by alias or name (case-insensitive).
    pub fn group(&self, alias_or_name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| {
            g.alias.eq_ignore_ascii_case(alias_or_name)
                || g.name.eq_ignore_ascii_case(alias_or_name)
        })
    }

    /// Primary SMTP address of a recipient GUID (mailbox or group).
    pub fn smtp_of(&self, guid: Uuid) -> Option<&str> {
        self.mailboxes
            .iter()
            .find(|m| m.guid == guid)
            .map(|m| m.primary_smtp_address.as_str())
            .or_else(|| {
                self.groups
                    .iter()
                    .find(|g| g.guid == guid)
                    .map(|g| g.primary_smtp_address.as_str())
            })
    }

    /// Primary SMTP addresses of a group's members, sorted.
    pub fn member_addresses(&self, group: &str) -> Vec<String> {
        let Some(g) = self.group(group) else {
            return Vec::new();
        };
        let mut v: Vec<String> = g
            .members
            .iter()
            .filter_map(|m| self.smtp_of(*m))
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }
}
