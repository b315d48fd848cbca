//! Get-Mailbox, Set-Mailbox, Get-Recipient and Get-OrganizationConfig.

use serde_json::Value;
use uuid::Uuid;

use super::{Call, limit, mailbox_index, no_change_warning, reference};
use crate::directory::{Directory, Mailbox};
use crate::exchange::envelope::CmdletError;
use crate::exchange::filter::Filter;
use crate::exchange::params::{MultiUpdate, Update, apply_multi};
use crate::exchange::render;

pub(super) const GET_PARAMS: &[&str] = &[
    "Identity",
    "ResultSize",
    "RecipientTypeDetails",
    "Filter",
    "Anr",
    "IncludeGrantSendOnBehalfToWithDisplayNames",
    "PropertySets",
    "Properties",
];
pub(super) const RECIPIENT_PARAMS: &[&str] = &[
    "Identity",
    "ResultSize",
    "RecipientTypeDetails",
    "RecipientType",
    "Filter",
    "Anr",
];
pub(super) const SET_PARAMS: &[&str] = &[
    "Identity",
    "ForwardingSmtpAddress",
    "ForwardingAddress",
    "DeliverToMailboxAndForward",
    "HiddenFromAddressListsEnabled",
    "Type",
    "IssueWarningQuota",
    "ProhibitSendQuota",
    "ProhibitSendReceiveQuota",
    "LitigationHoldEnabled",
    "LitigationHoldDuration",
    "GrantSendOnBehalfTo",
    "DisplayName",
    "Force",
];

/// The licence maximum for quotas (100 GB).
const MAX_QUOTA: u64 = 100 * 1024 * 1024 * 1024;

fn filter_list(call: &Call, mut items: Vec<Value>) -> Result<Vec<Value>, CmdletError> {
    if let Some(types) = call.params.list("RecipientTypeDetails")? {
        items.retain(|o| {
            let t = o
                .get("RecipientTypeDetails")
                .and_then(Value::as_str)
                .unwrap_or("");
            types.iter().any(|x| x.eq_ignore_ascii_case(t))
        });
    }
    if let Some(f) = call.params.string("Filter")? {
        let filter = Filter::parse(&f)?;
        items.retain(|o| filter.matches(o));
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
    Ok(items)
}

/// Get-Mailbox.
pub(super) fn get_mailbox(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    if let Some(id) = call.params.string("Identity")? {
        let i = mailbox_index(dir, &id, call.now_ms)?;
        return Ok(vec![render::mailbox(dir, &dir.data.mailboxes[i])]);
    }
    let all = dir
        .data
        .mailboxes
        .iter()
        .map(|m| render::mailbox(dir, m))
        .collect();
    let items = filter_list(call, all)?;
    limit(call, items)
}

/// Get-Recipient.
pub(super) fn get_recipient(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    if let Some(id) = call.params.string("Identity")? {
        let guid = match dir.find(&id, call.now_ms) {
            crate::directory::Found::One(r) => dir.guid_of(r),
            crate::directory::Found::Ambiguous => return Err(CmdletError::ambiguous(&id)),
            crate::directory::Found::None => return Err(CmdletError::not_found(&id)),
        };
        return Ok(render::recipient(dir, guid).into_iter().collect());
    }
    let guids: Vec<Uuid> = dir
        .data
        .mailboxes
        .iter()
        .map(|m| m.guid)
        .chain(
            dir.data
                .groups
                .iter()
                .filter(|g| g.visible_from_ms <= call.now_ms)
                .map(|g| g.guid),
        )
        .collect();
    let all = guids
        .into_iter()
        .filter_map(|g| render::recipient(dir, g))
        .collect();
    let mut items = filter_list(call, all)?;
    if let Some(types) = call.params.list("RecipientType")? {
        items.retain(|o| {
            let t = o.get("RecipientType").and_then(Value::as_str).unwrap_or("");
            types.iter().any(|x| x.eq_ignore_ascii_case(t))
        });
    }
    limit(call, items)
}

/// Get-OrganizationConfig.
pub(super) fn get_organization_config(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    Ok(vec![render::organization(
        dir,
        &call.tenant_name,
        call.tenant_id,
    )])
}

/// Get-AcceptedDomain.
pub(super) fn get_accepted_domain(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    let want = call.params.string("Identity")?;
    let out: Vec<Value> = dir
        .domains
        .iter()
        .filter(|d| want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(d)))
        .map(|d| render::accepted_domain(dir, d))
        .collect();
    match (want, out.is_empty()) {
        (Some(w), true) => Err(CmdletError::not_found(&w)),
        _ => Ok(out),
    }
}

/// Parse `"49GB"`, `"49 GB"`, `"500MB"`, `"unlimited"` or a byte count.
pub(crate) fn parse_quota(name: &str, s: &str) -> Result<Option<u64>, CmdletError> {
    let t = s.trim().replace(' ', "").to_ascii_uppercase();
    if t == "UNLIMITED" {
        return Ok(None);
    }
    let t = t.split('(').next().unwrap_or_default().to_owned();
    let units: [(&str, u64); 5] = [
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
        ("B", 1),
    ];
    let (num, mult) = units
        .iter()
        .find_map(|(u, m)| t.strip_suffix(u).map(|n| (n.to_owned(), *m)))
        .unwrap_or((t.clone(), 1));
    let value: f64 = num
        .parse()
        .map_err(|_| CmdletError::invalid_value(name, &format!("Cannot convert value \"{s}\" to type \"Microsoft.Exchange.Data.Unlimited`1[Microsoft.Exchange.Data.ByteQuantifiedSize]\".")))?;
    Ok(Some((value * mult as f64) as u64))
}

/// Render a quota the way Exchange displays it.
pub(crate) fn format_quota(bytes: Option<u64>) -> String {
    let Some(b) = bytes else {
        return "Unlimited".to_owned();
    };
    let grouped = b
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    let (value, unit) = if b >= 1 << 30 {
        (b as f64 / (1u64 << 30) as f64, "GB")
    } else if b >= 1 << 20 {
        (b as f64 / (1u64 << 20) as f64, "MB")
    } else {
        (b as f64 / 1024.0, "KB")
    };
    let shown = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    };
    format!("{shown} {unit} ({grouped} bytes)")
}

fn quota_value(s: &str) -> Option<u64> {
    parse_quota("", s).ok().flatten()
}

fn set_quotas(m: &mut Mailbox, call: &Call) -> Result<(), CmdletError> {
    for (param, field) in [
        ("IssueWarningQuota", &mut m.issue_warning_quota),
        ("ProhibitSendQuota", &mut m.prohibit_send_quota),
        (
            "ProhibitSendReceiveQuota",
            &mut m.prohibit_send_receive_quota,
        ),
    ] {
        if let Some(v) = call.params.string(param)? {
            let q = parse_quota(param, &v)?;
            if q.is_none_or(|b| b > MAX_QUOTA) {
                return Err(CmdletError::task(format!(
                    "The value of {param} exceeds the mailbox's licensed maximum of 100 GB (107,374,182,400 bytes)."
                )));
            }
            *field = format_quota(q);
        }
    }
    let w = quota_value(&m.issue_warning_quota).unwrap_or(u64::MAX);
    let s = quota_value(&m.prohibit_send_quota).unwrap_or(u64::MAX);
    let sr = quota_value(&m.prohibit_send_receive_quota).unwrap_or(u64::MAX);
    if w > s || s > sr {
        return Err(CmdletError::task("The value of property 'IssueWarningQuota' must be less than or equal to 'ProhibitSendQuota', which must be less than or equal to 'ProhibitSendReceiveQuota'.".to_owned()));
    }
    Ok(())
}

fn set_forwarding(dir: &Directory, m: &mut Mailbox, call: &Call) -> Result<(), CmdletError> {
    if call.params.has("ForwardingSmtpAddress") {
        m.forwarding_smtp_address = match call.params.string("ForwardingSmtpAddress")? {
            None => None,
            Some(a) => {
                let a = crate::directory::strip_prefix(&a).to_owned();
                if !a.contains('@') || a.contains(' ') {
                    return Err(CmdletError::invalid_value(
                        "ForwardingSmtpAddress",
                        &format!("\"{a}\" isn't a valid SMTP address."),
                    ));
                }
                Some(a)
            }
        };
    }
    if call.params.has("ForwardingAddress") {
        m.forwarding_address = match call.params.string("ForwardingAddress")? {
            None => None,
            Some(id) => Some(reference(dir, &id, call.now_ms)?),
        };
    }
    if let Some(b) = call.params.boolean("DeliverToMailboxAndForward")? {
        m.deliver_to_mailbox_and_forward = b;
    }
    Ok(())
}

fn set_type(m: &mut Mailbox, call: &Call) -> Result<(), CmdletError> {
    if let Some(t) = call.params.string("Type")? {
        m.recipient_type_details = match t.to_ascii_lowercase().as_str() {
            "regular" => "UserMailbox",
            "shared" => "SharedMailbox",
            "room" => "RoomMailbox",
            "equipment" => "EquipmentMailbox",
            _ => {
                return Err(CmdletError::invalid_value("Type", &format!("Cannot convert value \"{t}\" to type \"Microsoft.Exchange.Management.RecipientTasks.ConvertibleMailboxSubType\". Valid values are: Regular, Room, Equipment, Shared.")));
            }
        }
        .to_owned();
    }
    Ok(())
}

fn set_hold(m: &mut Mailbox, call: &Call) -> Result<(), CmdletError> {
    if let Some(b) = call.params.boolean("LitigationHoldEnabled")? {
        m.litigation_hold_enabled = b;
    }
    if let Some(d) = call.params.string("LitigationHoldDuration")? {
        m.litigation_hold_duration = if d.eq_ignore_ascii_case("unlimited") {
            "Unlimited".to_owned()
        } else {
            let days: u32 = d.trim().parse().map_err(|_| {
                CmdletError::invalid_value(
                    "LitigationHoldDuration",
                    &format!("Cannot convert value \"{d}\" to a number of days or 'Unlimited'."),
                )
            })?;
            format!("{days}.00:00:00")
        };
    }
    Ok(())
}

fn resolve_update(
    dir: &Directory,
    u: MultiUpdate,
    now_ms: i64,
) -> Result<Update<Uuid>, CmdletError> {
    let r = |v: Vec<String>| {
        v.iter()
            .map(|x| reference(dir, x, now_ms))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match u {
        MultiUpdate::Clear => Update::Clear,
        MultiUpdate::Replace(v) => Update::Replace(r(v)?),
        MultiUpdate::AddRemove { add, remove } => Update::AddRemove {
            add: r(add)?,
            remove: r(remove)?,
        },
    })
}

/// Set-Mailbox.
pub(super) fn set_mailbox(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = mailbox_index(dir, &id, call.now_ms)?;
    let mut m = dir.data.mailboxes[i].clone();
    set_forwarding(dir, &mut m, call)?;
    if let Some(b) = call.params.boolean("HiddenFromAddressListsEnabled")? {
        m.hidden_from_address_lists_enabled = b;
    }
    if let Some(n) = call.params.string("DisplayName")? {
        m.display_name = n;
    }
    set_type(&mut m, call)?;
    set_quotas(&mut m, call)?;
    set_hold(&mut m, call)?;
    if let Some(u) = call.params.multi("GrantSendOnBehalfTo")? {
        let u = resolve_update(dir, u, call.now_ms)?;
        m.grant_send_on_behalf_to = apply_multi(&m.grant_send_on_behalf_to, &u);
    }
    if m == dir.data.mailboxes[i] {
        call.warnings.push(no_change_warning(&id));
    } else {
        dir.data.mailboxes[i] = m;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas() {
        assert_eq!(parse_quota("q", "49GB").unwrap(), Some(49 << 30));
        assert_eq!(parse_quota("q", "49 GB").unwrap(), Some(49 << 30));
        assert_eq!(parse_quota("q", "unlimited").unwrap(), None);
        assert_eq!(
            format_quota(Some(99 << 30)),
            "99 GB (106,300,440,576 bytes)"
        );
        assert_eq!(
            parse_quota("q", "99 GB (106,300,440,576 bytes)").unwrap(),
            Some(99 << 30)
        );
        assert!(parse_quota("q", "lots").is_err());
    }
}
