//! The in-memory Exchange directory of one tenant: mailboxes, groups and permissions.
//!
//! `model` holds the stored objects, `identity` resolves `-Identity`-style strings, and this
//! module builds a directory from the fixture.

mod identity;
mod model;

pub use identity::{Found, Recipient};
pub use model::{
    AutoReply, DirectorySnapshot, Group, Mailbox, MailboxPermission, RecipientPermission,
};

use uuid::Uuid;

use crate::fixture::{FixtureError, GroupSpec, MailboxSpec, TenantSpec};

/// Default quotas of an Exchange Online mailbox (E3-style licence).
pub(crate) const DEFAULT_WARNING_QUOTA: &str = "98 GB (105,226,698,752 bytes)";
pub(crate) const DEFAULT_SEND_QUOTA: &str = "99 GB (106,300,440,576 bytes)";
pub(crate) const DEFAULT_SEND_RECEIVE_QUOTA: &str = "100 GB (107,374,182,400 bytes)";

/// One tenant's directory plus the facts needed to render objects.
#[derive(Debug, Clone)]
pub struct Directory {
    /// The objects.
    pub data: DirectorySnapshot,
    /// Domain used for new addresses.
    pub default_domain: String,
    /// The `*.onmicrosoft.com` domain (organisation name).
    pub initial_domain: String,
    /// All accepted domains.
    pub domains: Vec<String>,
}

fn stable_guid(tenant: Uuid, kind: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &tenant,
        format!("{kind}:{}", key.to_ascii_lowercase()).as_bytes(),
    )
}

impl Directory {
    /// Build the directory described by a tenant fixture.
    pub fn from_spec(spec: &TenantSpec, created: &str) -> Result<Directory, FixtureError> {
        let default_domain = spec.domains.first().cloned().unwrap_or_default();
        let initial_domain = spec
            .domains
            .iter()
            .find(|d| d.ends_with(".onmicrosoft.com"))
            .cloned()
            .unwrap_or_else(|| default_domain.clone());
        let mut dir = Directory {
            data: DirectorySnapshot {
                tenant_id: spec.id,
                ..Default::default()
            },
            default_domain,
            initial_domain,
            domains: spec.domains.clone(),
        };
        for m in &spec.mailboxes {
            let mailbox = dir.new_mailbox(spec.id, m, created);
            dir.data.mailboxes.push(mailbox);
        }
        for g in &spec.groups {
            let group = dir.new_group_from_spec(spec.id, g, created);
            dir.data.groups.push(group);
        }
        for (i, g) in spec.groups.iter().enumerate() {
            let members = dir.resolve_all(&g.members)?;
            let owners = dir.resolve_all(&g.owners)?;
            dir.data.groups[i].members = members;
            dir.data.groups[i].managed_by = owners;
        }
        for m in &spec.mailboxes {
            dir.apply_mailbox_grants(m)?;
        }
        Ok(dir)
    }

    fn resolve_all(&self, ids: &[String]) -> Result<Vec<Uuid>, FixtureError> {
        ids.iter()
            .map(|id| match self.find(id, i64::MAX) {
                Found::One(r) => Ok(self.guid_of(r)),
                _ => Err(FixtureError::Invalid(format!(
                    "unknown or ambiguous recipient '{id}'"
                ))),
            })
            .collect()
    }

    fn new_mailbox(&self, tenant: Uuid, m: &MailboxSpec, created: &str) -> Mailbox {
        let smtp = m
            .primary_smtp
            .clone()
            .unwrap_or_else(|| format!("{}@{}", m.alias, self.default_domain));
        let mut addresses = vec![format!("SMTP:{smtp}")];
        addresses.extend(m.aliases.iter().map(|a| format!("smtp:{a}")));
        let onms = format!("{}@{}", m.alias, self.initial_domain);
        if !onms.eq_ignore_ascii_case(&smtp) {
            addresses.push(format!("smtp:{onms}"));
        }
        Mailbox {
            guid: stable_guid(tenant, "mailbox", &m.alias),
            external_directory_object_id: stable_guid(tenant, "user", &m.alias),
            name: m.name.clone(),
            alias: m.alias.clone(),
            display_name: m.display_name.clone().unwrap_or_else(|| m.name.clone()),
            user_principal_name: m.upn.clone().unwrap_or_else(|| smtp.clone()),
            primary_smtp_address: smtp,
            email_addresses: addresses,
            recipient_type_details: m.kind.clone(),
            forwarding_smtp_address: m.forwarding_smtp_address.clone(),
            forwarding_address: None,
            deliver_to_mailbox_and_forward: false,
            hidden_from_address_lists_enabled: m.hidden,
            issue_warning_quota: DEFAULT_WARNING_QUOTA.to_owned(),
            prohibit_send_quota: DEFAULT_SEND_QUOTA.to_owned(),
            prohibit_send_receive_quota: DEFAULT_SEND_RECEIVE_QUOTA.to_owned(),
            litigation_hold_enabled: false,
            litigation_hold_duration: "Unlimited".to_owned(),
            grant_send_on_behalf_to: Vec::new(),
            auto_reply: AutoReply::default(),
            when_created: created.to_owned(),
        }
    }

    fn new_group_from_spec(&self, tenant: Uuid, g: &GroupSpec, created: &str) -> Group {
        let smtp = g
            .primary_smtp
            .clone()
            .unwrap_or_else(|| format!("{}@{}", g.alias, self.default_domain));
        let mut group = self.new_group(
            stable_guid(tenant, "group", &g.alias),
            &g.name,
            &g.alias,
            g.display_name.as_deref(),
            &smtp,
            g.kind.eq_ignore_ascii_case("Security"),
            created,
        );
        group.external_directory_object_id = stable_guid(tenant, "groupobj", &g.alias);
        group.hidden_from_address_lists_enabled = g.hidden;
        group
    }

    /// A new, empty group with Exchange's defaults.
    #[expect(clippy::too_many_arguments, reason = "plain constructor of a record")]
    pub fn new_group(
        &self,
        guid: Uuid,
        name: &str,
        alias: &str,
        display_name: Option<&str>,
        smtp: &str,
        security: bool,
        created: &str,
    ) -> Group {
        Group {
            guid,
            external_directory_object_id: Uuid::new_v4(),
            name: name.to_owned(),
            alias: alias.to_owned(),
            display_name: display_name.unwrap_or(name).to_owned(),
            primary_smtp_address: smtp.to_owned(),
            email_addresses: vec![format!("SMTP:{smtp}")],
            recipient_type_details: if security {
                "MailUniversalSecurityGroup".to_owned()
            } else {
                "MailUniversalDistributionGroup".to_owned()
            },
            managed_by: Vec::new(),
            members: Vec::new(),
            member_join_restriction: "Closed".to_owned(),
            member_depart_restriction: if security { "Closed" } else { "Open" }.to_owned(),
            require_sender_authentication_enabled: true,
            hidden_from_address_lists_enabled: false,
            when_created: created.to_owned(),
            visible_from_ms: 0,
        }
    }

    fn apply_mailbox_grants(&mut self, m: &MailboxSpec) -> Result<(), FixtureError> {
        let Found::One(r) = self.find(&m.alias, i64::MAX) else {
            return Err(FixtureError::Invalid(format!(
                "mailbox {} missing",
                m.alias
            )));
        };
        let mailbox = self.guid_of(r);
        for user in self.resolve_all(&m.full_access)? {
            self.data.mailbox_permissions.push(MailboxPermission {
                mailbox,
                user,
                access_rights: vec!["FullAccess".to_owned()],
                inheritance_type: "All".to_owned(),
                auto_mapping: true,
            });
        }
        for trustee in self.resolve_all(&m.send_as)? {
            self.data.recipient_permissions.push(RecipientPermission {
                recipient: mailbox,
                trustee,
                access_rights: vec!["SendAs".to_owned()],
            });
        }
        let delegates = self.resolve_all(&m.send_on_behalf)?;
        if let Some(mb) = self.data.mailboxes.iter_mut().find(|x| x.guid == mailbox) {
            mb.grant_send_on_behalf_to = delegates;
        }
        Ok(())
    }

    /// Whether an SMTP address is used by any recipient (as primary or proxy address).
    pub fn address_in_use(&self, address: &str) -> Option<String> {
        let hit = |addrs: &[String]| {
            addrs
                .iter()
                .any(|a| strip_prefix(a).eq_ignore_ascii_case(address))
        };
        self.data
            .mailboxes
            .iter()
            .find(|m| hit(&m.email_addresses))
            .map(|m| m.name.clone())
            .or_else(|| {
                self.data
                    .groups
                    .iter()
                    .find(|g| hit(&g.email_addresses))
                    .map(|g| g.name.clone())
            })
    }
}

/// Strip an `SMTP:`/`smtp:` (or other `type:`) prefix from a proxy address.
pub(crate) fn strip_prefix(address: &str) -> &str {
    match address.split_once(':') {
        Some((p, rest)) if p.eq_ignore_ascii_case("smtp") => rest,
        _ => address,
    }
}
