//! Add-/Remove-/Get-MailboxPermission and Add-/Remove-/Get-RecipientPermission.

use serde_json::Value;

use super::{Call, limit, mailbox_index, reference};
use crate::directory::{Directory, Found, MailboxPermission, RecipientPermission};
use crate::exchange::envelope::CmdletError;
use crate::exchange::render;

pub(super) const ADD_MAILBOX: &[&str] = &[
    "Identity",
    "User",
    "AccessRights",
    "InheritanceType",
    "AutoMapping",
    "Deny",
];
pub(super) const REMOVE_MAILBOX: &[&str] = &[
    "Identity",
    "User",
    "AccessRights",
    "InheritanceType",
    "Deny",
    "ResetDefault",
];

const MAILBOX_RIGHTS: &[&str] = &[
    "FullAccess",
    "ExternalAccount",
    "DeleteItem",
    "ReadPermission",
    "ChangePermission",
    "ChangeOwner",
];

fn rights(call: &Call, allowed: &[&'static str]) -> Result<Vec<String>, CmdletError> {
    let given = call.params.list("AccessRights")?.unwrap_or_default();
    given
        .iter()
        .map(|r| {
            allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(r))
                .map(|a| (*a).to_owned())
                .ok_or_else(|| {
                    CmdletError::invalid_value(
                        "AccessRights",
                        &format!(
                            "Cannot convert value \"{r}\". Valid values are: {}.",
                            allowed.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

fn ace_missing(dir: &Directory, object: &str, user: &str) -> String {
    format!(
        "Can't remove the access control entry on the object \"{}\" for account \"{user}\" because the ACE doesn't exist on the object.",
        super::super::render::distinguished_name(dir, object)
    )
}

/// Add-MailboxPermission.
pub(super) fn add_mailbox(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let mailbox = dir.data.mailboxes[mailbox_index(dir, &id, call.now_ms)?].guid;
    let user = reference(dir, &call.params.required("User")?, call.now_ms)?;
    let rights = rights(call, MAILBOX_RIGHTS)?;
    let inheritance = call
        .params
        .string("InheritanceType")?
        .unwrap_or_else(|| "All".to_owned());
    let auto_mapping = call.params.boolean("AutoMapping")?.unwrap_or(true);
    let perms = &mut dir.data.mailbox_permissions;
    let entry = match perms
        .iter()
        .position(|p| p.mailbox == mailbox && p.user == user)
    {
        Some(i) => {
            for r in rights {
                if !perms[i].access_rights.contains(&r) {
                    perms[i].access_rights.push(r);
                }
            }
            perms[i].clone()
        }
        None => {
            let p = MailboxPermission {
                mailbox,
                user,
                access_rights: rights,
                inheritance_type: inheritance,
                auto_mapping,
            };
            perms.push(p.clone());
            p
        }
    };
    Ok(vec![render::mailbox_permission(dir, &entry)])
}

/// Remove-MailboxPermission.
pub(super) fn remove_mailbox(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let mailbox = dir.data.mailboxes[mailbox_index(dir, &id, call.now_ms)?].guid;
    let user_id = call.params.required("User")?;
    let user = reference(dir, &user_id, call.now_ms)?;
    let rights = rights(call, MAILBOX_RIGHTS)?;
    let name = dir.name_of(mailbox);
    let perms = &mut dir.data.mailbox_permissions;
    let held = perms.iter().position(|p| {
        p.mailbox == mailbox && p.user == user && rights.iter().all(|r| p.access_rights.contains(r))
    });
    match held {
        Some(i) => {
            perms[i].access_rights.retain(|r| !rights.contains(r));
            if perms[i].access_rights.is_empty() {
                perms.remove(i);
            }
        }
        None => call.warnings.push(ace_missing(dir, &name, &user_id)),
    }
    Ok(Vec::new())
}

/// Get-MailboxPermission.
pub(super) fn get_mailbox(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let mailbox = dir.data.mailboxes[mailbox_index(dir, &id, call.now_ms)?].guid;
    let user = match call.params.string("User")? {
        Some(u) => Some(reference(dir, &u, call.now_ms)?),
        None => None,
    };
    let mut out = Vec::new();
    if user.is_none() {
        out.push(render::self_permission(dir, mailbox));
    }
    for p in dir
        .data
        .mailbox_permissions
        .iter()
        .filter(|p| p.mailbox == mailbox)
    {
        if user.is_none_or(|u| u == p.user) {
            out.push(render::mailbox_permission(dir, p));
        }
    }
    limit(call, out)
}

fn recipient_target(dir: &Directory, id: &str, now_ms: i64) -> Result<uuid::Uuid, CmdletError> {
    match dir.find(id, now_ms) {
        Found::One(r) => Ok(dir.guid_of(r)),
        Found::Ambiguous => Err(CmdletError::ambiguous(id)),
        Found::None => Err(CmdletError::not_found(id)),
    }
}

/// Add-RecipientPermission (SendAs).
pub(super) fn add_recipient(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    let recipient = recipient_target(dir, &call.params.required("Identity")?, call.now_ms)?;
    let trustee = reference(dir, &call.params.required("Trustee")?, call.now_ms)?;
    let rights = rights(call, &["SendAs"])?;
    let perms = &mut dir.data.recipient_permissions;
    let entry = match perms
        .iter()
        .find(|p| p.recipient == recipient && p.trustee == trustee)
    {
        Some(p) => p.clone(),
        None => {
            let p = RecipientPermission {
                recipient,
                trustee,
                access_rights: rights,
            };
            perms.push(p.clone());
            p
        }
    };
    Ok(vec![render::recipient_permission(dir, &entry)])
}

/// Remove-RecipientPermission.
pub(super) fn remove_recipient(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    let recipient = recipient_target(dir, &call.params.required("Identity")?, call.now_ms)?;
    let trustee_id = call.params.required("Trustee")?;
    let trustee = reference(dir, &trustee_id, call.now_ms)?;
    rights(call, &["SendAs"])?;
    let before = dir.data.recipient_permissions.len();
    dir.data
        .recipient_permissions
        .retain(|p| !(p.recipient == recipient && p.trustee == trustee));
    if dir.data.recipient_permissions.len() == before {
        let name = dir.name_of(recipient);
        call.warnings.push(ace_missing(dir, &name, &trustee_id));
    }
    Ok(Vec::new())
}

/// Get-RecipientPermission.
pub(super) fn get_recipient(
    dir: &mut Directory,
    call: &mut Call,
) -> Result<Vec<Value>, CmdletError> {
    let recipient = match call.params.string("Identity")? {
        Some(id) => match dir.find(&id, call.now_ms) {
            Found::One(r) => Some(dir.guid_of(r)),
            Found::Ambiguous => return Err(CmdletError::ambiguous(&id)),
            Found::None => {
                return Err(CmdletError {
                    text: format!("Couldn't find '{id}' as a recipient."),
                    ..CmdletError::not_found(&id)
                });
            }
        },
        None => None,
    };
    let trustee = match call.params.string("Trustee")? {
        Some(t) => Some(reference(dir, &t, call.now_ms)?),
        None => None,
    };
    let out = dir
        .data
        .recipient_permissions
        .iter()
        .filter(|p| {
            recipient.is_none_or(|r| r == p.recipient) && trustee.is_none_or(|t| t == p.trustee)
        })
        .map(|p| render::recipient_permission(dir, p))
        .collect();
    limit(call, out)
}
