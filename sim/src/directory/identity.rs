//! Identity resolution: name, alias, display name, SMTP/proxy address, UPN, GUID or DN.

use uuid::Uuid;

use super::{Directory, strip_prefix};

/// A reference to a recipient inside a [`Directory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// Index into `data.mailboxes`.
    Mailbox(usize),
    /// Index into `data.groups`.
    Group(usize),
}

/// The outcome of resolving an identity string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Exactly one recipient matched.
    One(Recipient),
    /// Nothing matched.
    None,
    /// More than one recipient matched.
    Ambiguous,
}

fn matches(id: &str, guid: Uuid, ext: Uuid, names: &[&str], addresses: &[String]) -> bool {
    if let Ok(u) = Uuid::parse_str(id) {
        return u == guid || u == ext;
    }
    let id = id.trim();
    let id = strip_prefix(id);
    names.iter().any(|n| n.eq_ignore_ascii_case(id))
        || addresses
            .iter()
            .any(|a| strip_prefix(a).eq_ignore_ascii_case(id))
        || dn_alias(id).is_some_and(|cn| names.iter().any(|n| n.eq_ignore_ascii_case(cn)))
}

/// `CN=alias,OU=...` → `alias`.
fn dn_alias(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("CN=").or_else(|| id.strip_prefix("cn="))?;
    rest.split(',').next()
}

impl Directory {
    /// Resolve an identity among all recipients visible at `now_ms`.
    pub fn find(&self, identity: &str, now_ms: i64) -> Found {
        let mut hits = Vec::new();
        for (i, m) in self.data.mailboxes.iter().enumerate() {
            let names = [
                m.name.as_str(),
                m.alias.as_str(),
                m.display_name.as_str(),
                m.user_principal_name.as_str(),
            ];
            if matches(
                identity,
                m.guid,
                m.external_directory_object_id,
                &names,
                &m.email_addresses,
            ) {
                hits.push(Recipient::Mailbox(i));
            }
        }
        for (i, g) in self.data.groups.iter().enumerate() {
            if g.visible_from_ms > now_ms {
                continue;
            }
            let names = [g.name.as_str(), g.alias.as_str(), g.display_name.as_str()];
            if matches(
                identity,
                g.guid,
                g.external_directory_object_id,
                &names,
                &g.email_addresses,
            ) {
                hits.push(Recipient::Group(i));
            }
        }
        match hits.as_slice() {
            [] => Found::None,
            [one] => Found::One(*one),
            _ => Found::Ambiguous,
        }
    }

    /// The GUID of a resolved recipient.
    pub fn guid_of(&self, r: Recipient) -> Uuid {
        match r {
            Recipient::Mailbox(i) => self.data.mailboxes[i].guid,
            Recipient::Group(i) => self.data.groups[i].guid,
        }
    }

    /// The `Name` Exchange shows for a recipient GUID (falls back to the GUID).
    pub fn name_of(&self, guid: Uuid) -> String {
        self.data
            .mailboxes
            .iter()
            .find(|m| m.guid == guid)
            .map(|m| m.name.clone())
            .or_else(|| {
                self.data
                    .groups
                    .iter()
                    .find(|g| g.guid == guid)
                    .map(|g| g.name.clone())
            })
            .unwrap_or_else(|| guid.to_string())
    }

    /// The UPN (mailboxes) or primary SMTP (groups) of a recipient GUID.
    pub fn principal_of(&self, guid: Uuid) -> String {
        self.data
            .mailboxes
            .iter()
            .find(|m| m.guid == guid)
            .map(|m| m.user_principal_name.clone())
            .or_else(|| {
                self.data
                    .groups
                    .iter()
                    .find(|g| g.guid == guid)
                    .map(|g| g.primary_smtp_address.clone())
            })
            .unwrap_or_else(|| guid.to_string())
    }
}
