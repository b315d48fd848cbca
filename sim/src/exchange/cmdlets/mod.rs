//! The cmdlets the simulator executes: one table naming each cmdlet, its parameters, whether
//! it has a built-in confirmation prompt, and the function that runs it against the directory.
//!
//! - `mailbox`: Get-/Set-Mailbox, Get-Recipient, Get-OrganizationConfig
//! - `autoreply`: Get-/Set-MailboxAutoReplyConfiguration
//! - `permissions`: *-MailboxPermission, *-RecipientPermission
//! - `groups`: Get-/New-/Set-/Remove-DistributionGroup
//! - `members`: Get-/Add-/Remove-/Update-DistributionGroupMember

mod autoreply;
mod groups;
mod mailbox;
mod members;
mod permissions;

use serde_json::Value;
use uuid::Uuid;

use super::envelope::CmdletError;
use super::params::Params;
use crate::directory::{Directory, Found, Recipient};

/// Everything a cmdlet needs besides the directory.
pub(crate) struct Call {
    pub params: Params,
    /// Simulator time, Unix ms (objects created later than this are invisible).
    pub now_ms: i64,
    /// Read-after-write lag applied to new objects.
    pub lag_ms: i64,
    /// Now, RFC 3339.
    pub created: String,
    /// Warnings to return in `@adminapi.warnings`.
    pub warnings: Vec<String>,
    /// Tenant ID and display name (Get-OrganizationConfig).
    pub tenant_id: Uuid,
    pub tenant_name: String,
}

type Run = fn(&mut Directory, &mut Call) -> Result<Vec<Value>, CmdletError>;

/// One cmdlet of the table.
pub(crate) struct CmdletDef {
    /// Canonical name.
    pub name: &'static str,
    /// Accepted parameters (besides the common ones).
    pub params: &'static [&'static str],
    /// Mandatory parameters.
    pub mandatory: &'static [&'static str],
    /// Has a built-in confirmation prompt (`Confirm: true` returns the prompt instead).
    pub prompts: bool,
    /// Changes the directory (honours `WhatIf`).
    pub writes: bool,
    /// Output may span pages.
    pub pageable: bool,
    /// The implementation.
    pub run: Run,
}

const fn def(
    name: &'static str,
    params: &'static [&'static str],
    mandatory: &'static [&'static str],
    flags: (bool, bool, bool),
    run: Run,
) -> CmdletDef {
    CmdletDef {
        name,
        params,
        mandatory,
        prompts: flags.0,
        writes: flags.1,
        pageable: flags.2,
        run,
    }
}

const READ: (bool, bool, bool) = (false, false, true);
const READ_ONE: (bool, bool, bool) = (false, false, false);
const WRITE: (bool, bool, bool) = (false, true, false);
const PROMPT: (bool, bool, bool) = (true, true, false);

static CMDLETS: &[CmdletDef] = &[
    def(
        "Get-Mailbox",
        mailbox::GET_PARAMS,
        &[],
        READ,
        mailbox::get_mailbox,
    ),
    def(
        "Set-Mailbox",
        mailbox::SET_PARAMS,
        &["Identity"],
        WRITE,
        mailbox::set_mailbox,
    ),
    def(
        "Get-Recipient",
        mailbox::RECIPIENT_PARAMS,
        &[],
        READ,
        mailbox::get_recipient,
    ),
    def(
        "Get-OrganizationConfig",
        &[],
        &[],
        READ_ONE,
        mailbox::get_organization_config,
    ),
    def(
        "Get-AcceptedDomain",
        &["Identity"],
        &[],
        READ_ONE,
        mailbox::get_accepted_domain,
    ),
    def(
        "Get-MailboxAutoReplyConfiguration",
        &["Identity"],
        &["Identity"],
        READ_ONE,
        autoreply::get,
    ),
    def(
        "Set-MailboxAutoReplyConfiguration",
        autoreply::SET_PARAMS,
        &["Identity"],
        WRITE,
        autoreply::set,
    ),
    def(
        "Get-MailboxPermission",
        &["Identity", "User", "ResultSize"],
        &["Identity"],
        READ,
        permissions::get_mailbox,
    ),
    def(
        "Add-MailboxPermission",
        permissions::ADD_MAILBOX,
        &["Identity", "User", "AccessRights"],
        WRITE,
        permissions::add_mailbox,
    ),
    def(
        "Remove-MailboxPermission",
        permissions::REMOVE_MAILBOX,
        &["Identity", "User", "AccessRights"],
        PROMPT,
        permissions::remove_mailbox,
    ),
    def(
        "Get-RecipientPermission",
        &["Identity", "Trustee", "AccessRights", "ResultSize"],
        &[],
        READ,
        permissions::get_recipient,
    ),
    def(
        "Add-RecipientPermission",
        &["Identity", "Trustee", "AccessRights"],
        &["Identity", "Trustee", "AccessRights"],
        PROMPT,
        permissions::add_recipient,
    ),
    def(
        "Remove-RecipientPermission",
        &["Identity", "Trustee", "AccessRights"],
        &["Identity", "Trustee", "AccessRights"],
        PROMPT,
        permissions::remove_recipient,
    ),
    def(
        "Get-DistributionGroup",
        groups::GET_PARAMS,
        &[],
        READ,
        groups::get,
    ),
    def(
        "New-DistributionGroup",
        groups::NEW_PARAMS,
        &["Name"],
        WRITE,
        groups::new,
    ),
    def(
        "Set-DistributionGroup",
        groups::SET_PARAMS,
        &["Identity"],
        WRITE,
        groups::set,
    ),
    def(
        "Remove-DistributionGroup",
        &["Identity", "BypassSecurityGroupManagerCheck"],
        &["Identity"],
        PROMPT,
        groups::remove,
    ),
    def(
        "Get-DistributionGroupMember",
        &["Identity", "ResultSize", "IncludeSoftDeletedObjects"],
        &["Identity"],
        READ,
        members::get,
    ),
    def(
        "Add-DistributionGroupMember",
        &["Identity", "Member", "BypassSecurityGroupManagerCheck"],
        &["Identity", "Member"],
        WRITE,
        members::add,
    ),
    def(
        "Remove-DistributionGroupMember",
        &["Identity", "Member", "BypassSecurityGroupManagerCheck"],
        &["Identity", "Member"],
        PROMPT,
        members::remove,
    ),
    def(
        "Update-DistributionGroupMember",
        &["Identity", "Members", "BypassSecurityGroupManagerCheck"],
        &["Identity"],
        PROMPT,
        members::update,
    ),
];

/// Find a cmdlet by name (case-insensitive).
pub(crate) fn lookup(name: &str) -> Option<&'static CmdletDef> {
    CMDLETS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Names of every implemented cmdlet.
pub fn names() -> Vec<&'static str> {
    CMDLETS.iter().map(|c| c.name).collect()
}

fn resolve(dir: &Directory, id: &str, now_ms: i64) -> Result<Recipient, Found> {
    match dir.find(id, now_ms) {
        Found::One(r) => Ok(r),
        other => Err(other),
    }
}

/// `-Identity` of a mailbox cmdlet → index into `mailboxes`.
pub(crate) fn mailbox_index(dir: &Directory, id: &str, now_ms: i64) -> Result<usize, CmdletError> {
    match resolve(dir, id, now_ms) {
        Ok(Recipient::Mailbox(i)) => Ok(i),
        Ok(Recipient::Group(_)) | Err(Found::None | Found::One(_)) => {
            Err(CmdletError::not_found(id))
        }
        Err(Found::Ambiguous) => Err(CmdletError::ambiguous(id)),
    }
}

/// `-Identity` of a group cmdlet → index into `groups`.
pub(crate) fn group_index(dir: &Directory, id: &str, now_ms: i64) -> Result<usize, CmdletError> {
    match resolve(dir, id, now_ms) {
        Ok(Recipient::Group(i)) => Ok(i),
        Ok(Recipient::Mailbox(_)) | Err(Found::None | Found::One(_)) => {
            Err(CmdletError::not_found(id))
        }
        Err(Found::Ambiguous) => Err(CmdletError::ambiguous(id)),
    }
}

/// A referenced recipient (`-Member`, `-User`, `-Trustee`, `ManagedBy`...) → GUID.
pub(crate) fn reference(dir: &Directory, id: &str, now_ms: i64) -> Result<Uuid, CmdletError> {
    match resolve(dir, id, now_ms) {
        Ok(r) => Ok(dir.guid_of(r)),
        Err(Found::Ambiguous) => Err(CmdletError::ambiguous(id)),
        Err(_) => Err(CmdletError::ref_not_found(id)),
    }
}

/// A referenced mailbox (owners, FullAccess users) → GUID.
pub(crate) fn mailbox_reference(
    dir: &Directory,
    id: &str,
    now_ms: i64,
) -> Result<Uuid, CmdletError> {
    match resolve(dir, id, now_ms) {
        Ok(r @ Recipient::Mailbox(_)) => Ok(dir.guid_of(r)),
        Err(Found::Ambiguous) => Err(CmdletError::ambiguous(id)),
        _ => Err(CmdletError::ref_not_found(id)),
    }
}

/// The standard no-op warning of a Set-* that changed nothing.
pub(crate) fn no_change_warning(identity: &str) -> String {
    format!(
        "The command completed successfully but no settings of '{identity}' have been modified."
    )
}

/// Apply `ResultSize` and the "only the first 1000" warning.
pub(crate) fn limit(call: &mut Call, mut items: Vec<Value>) -> Result<Vec<Value>, CmdletError> {
    let (size, given) = call.params.result_size()?;
    if let Some(n) = size
        && items.len() > n
    {
        items.truncate(n);
        if !given {
            call.warnings.push(format!("By default, only the first {n} items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify \"-ResultSize Unlimited\". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don't recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes."));
        }
    }
    Ok(items)
}
