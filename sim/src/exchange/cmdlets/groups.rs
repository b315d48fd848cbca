//! Get-/New-/Set-/Remove-DistributionGroup.

use serde_json::Value;
use uuid::Uuid;

use super::{Call, group_index, limit, mailbox_reference, no_change_warning, reference};
use crate::directory::{Directory, Found, Group};
use crate::exchange::envelope::CmdletError;
use crate::exchange::filter::Filter;
use crate::exchange::params::{MultiUpdate, Update, apply_multi};
use crate::exchange::render;

pub(super) const GET_PARAMS: &[&str] = &[
    "Identity",
    "ResultSize",
    "Filter",
    "Anr",
    "RecipientTypeDetails",
];
pub(super) const NEW_PARAMS: &[&str] = &[
    "Name",
    "Alias",
    "DisplayName",
    "PrimarySmtpAddress",
    "Members",
    "ManagedBy",
    "Type",
    "MemberJoinRestriction",
    "MemberDepartRestriction",
    "RequireSenderAuthenticationEnabled",
    "Notes",
    "IgnoreNamingPolicy",
    "CopyOwnerToMember",
];
pub(super) const SET_PARAMS: &[&str] = &[
    "Identity",
    "Name",
    "Alias",
    "DisplayName",
    "PrimarySmtpAddress",
    "HiddenFromAddressListsEnabled",
    "RequireSenderAuthenticationEnabled",
    "ManagedBy",
    "MemberJoinRestriction",
    "MemberDepartRestriction",
    "BypassSecurityGroupManagerCheck",
    "Notes",
];

fn canonical(param: &str, value: &str, allowed: &[&'static str]) -> Result<String, CmdletError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| {
            CmdletError::invalid_value(
                param,
                &format!(
                    "Cannot convert value \"{value}\". Valid values are: {}.",
                    allowed.join(", ")
                ),
            )
        })
}

/// Get-DistributionGroup.
pub(super) fn get(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    if let Some(id) = call.params.string("Identity")? {
        let i = group_index(dir, &id, call.now_ms)?;
        return Ok(vec![render::group(dir, &dir.data.groups[i])]);
    }
    let mut items: Vec<Value> = dir
        .data
        .groups
        .iter()
        .filter(|g| g.visible_from_ms <= call.now_ms)
        .map(|g| render::group(dir, g))
        .collect();
    if let Some(f) = call.params.string("Filter")? {
        let filter = Filter::parse(&f)?;
        items.retain(|o| filter.matches(o));
    }
    if let Some(types) = call.params.list("RecipientTypeDetails")? {
        items.retain(|o| {
            let t = o
                .get("RecipientTypeDetails")
                .and_then(Value::as_str)
                .unwrap_or("");
            types.iter().any(|x| x.eq_ignore_ascii_case(t))
        });
    }
    if let Some(anr) = call.params.string("Anr")? {
        let anr = anr.to_ascii_lowercase();
        items.retain(|o| {
            ["Name", "Alias", "DisplayName", "PrimarySmtpAddress"]
                .iter()
                .any(|k| {
                    o.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.to_ascii_lowercase().starts_with(&anr))
                })
        });
    }
    limit(call, items)
}

fn name_taken(dir: &Directory, name: &str, except: Option<Uuid>) -> bool {
    dir.data
        .mailboxes
        .iter()
        .any(|m| m.name.eq_ignore_ascii_case(name))
        || dir
            .data
            .groups
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(name) && Some(g.guid) != except)
}

fn check_address(dir: &Directory, address: &str, except: Option<Uuid>) -> Result<(), CmdletError> {
    if !address.contains('@') || address.contains(' ') {
        return Err(CmdletError::invalid_value(
            "PrimarySmtpAddress",
            &format!("\"{address}\" isn't a valid SMTP address."),
        ));
    }
    let mine = except
        .and_then(|g| dir.data.groups.iter().find(|x| x.guid == g))
        .map(|g| g.name.clone());
    match dir.address_in_use(address) {
        Some(owner) if Some(&owner) != mine.as_ref() => {
            Err(CmdletError::proxy_exists(address, &owner))
        }
        _ => Ok(()),
    }
}

fn default_alias(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

fn resolve_members(dir: &Directory, call: &Call) -> Result<(Vec<Uuid>, Vec<Uuid>), CmdletError> {
    let members = call.params.list("Members")?.unwrap_or_default();
    let owners = call.params.list("ManagedBy")?.unwrap_or_default();
    let m = members
        .iter()
        .map(|x| reference(dir, x, call.now_ms))
        .collect::<Result<Vec<_>, _>>()?;
    let o = owners
        .iter()
        .map(|x| mailbox_reference(dir, x, call.now_ms))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        apply_multi(&[], &Update::Replace(m)),
        apply_multi(&[], &Update::Replace(o)),
    ))
}

/// New-DistributionGroup.
pub(super) fn new(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let name = call.params.required("Name")?;
    if name.chars().count() > 64 {
        return Err(CmdletError::invalid_value(
            "Name",
            "The length of the property is too long. The maximum length is 64 and the length of the value provided is longer.",
        ));
    }
    let alias = call
        .params
        .string("Alias")?
        .unwrap_or_else(|| default_alias(&name));
    let smtp = call
        .params
        .string("PrimarySmtpAddress")?
        .unwrap_or_else(|| format!("{alias}@{}", dir.default_domain));
    if name_taken(dir, &name, None) {
        return Err(CmdletError::already_exists(&render::distinguished_name(
            dir, &name,
        )));
    }
    check_address(dir, &smtp, None)?;
    let security = match call.params.string("Type")? {
        Some(t) => canonical("Type", &t, &["Distribution", "Security"])? == "Security",
        None => false,
    };
    let (members, owners) = resolve_members(dir, call)?;
    let display = call.params.string("DisplayName")?;
    let mut g = dir.new_group(
        Uuid::new_v4(),
        &name,
        &alias,
        display.as_deref(),
        &smtp,
        security,
        &call.created,
    );
    g.members = members;
    g.managed_by = owners;
    apply_settings(&mut g, call)?;
    g.visible_from_ms = call.now_ms + call.lag_ms;
    let out = render::group(dir, &g);
    dir.data.groups.push(g);
    Ok(vec![out])
}

/// Flags and restrictions accepted by both New- and Set-DistributionGroup.
fn apply_settings(g: &mut Group, call: &Call) -> Result<(), CmdletError> {
    if let Some(b) = call.params.boolean("HiddenFromAddressListsEnabled")? {
        g.hidden_from_address_lists_enabled = b;
    }
    if let Some(b) = call.params.boolean("RequireSenderAuthenticationEnabled")? {
        g.require_sender_authentication_enabled = b;
    }
    if let Some(r) = call.params.string("MemberJoinRestriction")? {
        g.member_join_restriction = canonical(
            "MemberJoinRestriction",
            &r,
            &["Open", "Closed", "ApprovalRequired"],
        )?;
    }
    if let Some(r) = call.params.string("MemberDepartRestriction")? {
        g.member_depart_restriction =
            canonical("MemberDepartRestriction", &r, &["Open", "Closed"])?;
    }
    Ok(())
}

/// A new primary address; the old one stays as a secondary `smtp:` address.
fn set_primary_address(dir: &Directory, g: &mut Group, call: &Call) -> Result<(), CmdletError> {
    if let Some(s) = call.params.string("PrimarySmtpAddress")?
        && !s.eq_ignore_ascii_case(&g.primary_smtp_address)
    {
        check_address(dir, &s, Some(g.guid))?;
        for a in &mut g.email_addresses {
            if a.starts_with("SMTP:") {
                *a = format!("smtp:{}", &a[5..]);
            }
        }
        g.email_addresses
            .retain(|a| !crate::directory::strip_prefix(a).eq_ignore_ascii_case(&s));
        g.email_addresses.insert(0, format!("SMTP:{s}"));
        g.primary_smtp_address = s;
    }
    Ok(())
}

fn apply_set(dir: &Directory, g: &mut Group, call: &Call) -> Result<(), CmdletError> {
    if let Some(n) = call.params.string("Name")? {
        if name_taken(dir, &n, Some(g.guid)) {
            return Err(CmdletError::already_exists(&render::distinguished_name(
                dir, &n,
            )));
        }
        g.name = n;
    }
    if let Some(a) = call.params.string("Alias")? {
        g.alias = a;
    }
    if let Some(d) = call.params.string("DisplayName")? {
        g.display_name = d;
    }
    set_primary_address(dir, g, call)?;
    apply_settings(g, call)?;
    if let Some(u) = call.params.multi("ManagedBy")? {
        let r = |v: Vec<String>| {
            v.iter()
                .map(|x| mailbox_reference(dir, x, call.now_ms))
                .collect::<Result<Vec<_>, _>>()
        };
        let u = match u {
            MultiUpdate::Clear => Update::Clear,
            MultiUpdate::Replace(v) => Update::Replace(r(v)?),
            MultiUpdate::AddRemove { add, remove } => Update::AddRemove {
                add: r(add)?,
                remove: r(remove)?,
            },
        };
        g.managed_by = apply_multi(&g.managed_by, &u);
    }
    Ok(())
}

/// Set-DistributionGroup.
pub(super) fn set(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = group_index(dir, &id, call.now_ms)?;
    let mut g = dir.data.groups[i].clone();
    apply_set(dir, &mut g, call)?;
    if g == dir.data.groups[i] {
        call.warnings.push(no_change_warning(&id));
    } else {
        dir.data.groups[i] = g;
    }
    Ok(Vec::new())
}

/// Remove-DistributionGroup.
pub(super) fn remove(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let guid = match dir.find(&id, call.now_ms) {
        Found::One(r @ crate::directory::Recipient::Group(_)) => dir.guid_of(r),
        Found::Ambiguous => return Err(CmdletError::ambiguous(&id)),
        _ => return Err(CmdletError::not_found(&id)),
    };
    dir.data.groups.retain(|g| g.guid != guid);
    for g in &mut dir.data.groups {
        g.members.retain(|m| *m != guid);
    }
    dir.data
        .recipient_permissions
        .retain(|p| p.recipient != guid && p.trustee != guid);
    dir.data.mailbox_permissions.retain(|p| p.user != guid);
    for m in &mut dir.data.mailboxes {
        m.grant_send_on_behalf_to.retain(|x| *x != guid);
    }
    Ok(Vec::new())
}
