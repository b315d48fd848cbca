//! Get-/Set-MailboxAutoReplyConfiguration.

use serde_json::Value;
use time::PrimitiveDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::{Call, mailbox_index, no_change_warning};
use crate::directory::Directory;
use crate::exchange::envelope::CmdletError;
use crate::exchange::render;

pub(super) const SET_PARAMS: &[&str] = &[
    "Identity",
    "AutoReplyState",
    "InternalMessage",
    "ExternalMessage",
    "ExternalAudience",
    "StartTime",
    "EndTime",
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
                    "Cannot convert value \"{value}\" to a valid value. Valid values are: {}.",
                    allowed.join(", ")
                ),
            )
        })
}

/// Exchange stores messages as HTML; plain text is wrapped.
fn html(text: String) -> String {
    if text.trim_start().to_ascii_lowercase().starts_with("<html") {
        text
    } else {
        format!("<html><body>{text}</body></html>")
    }
}

/// Parse `yyyy-MM-ddTHH:mm:ss` (the module's format, UTC) or RFC 3339; normalise to UTC.
fn parse_time(param: &str, s: &str) -> Result<String, CmdletError> {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let dt = time::OffsetDateTime::parse(s, &Rfc3339)
        .map(|d| d.to_offset(time::UtcOffset::UTC))
        .map(|d| PrimitiveDateTime::new(d.date(), d.time()))
        .or_else(|_| {
            PrimitiveDateTime::parse(s.split('.').next().unwrap_or(s).trim_end_matches('Z'), fmt)
        })
        .map_err(|_| {
            CmdletError::invalid_value(
                param,
                &format!("Cannot convert value \"{s}\" to type \"System.DateTime\"."),
            )
        })?;
    let out = dt.replace_nanosecond(0).unwrap_or(dt);
    out.format(fmt)
        .map_err(|_| CmdletError::invalid_value(param, "bad date"))
}

/// Get-MailboxAutoReplyConfiguration.
pub(super) fn get(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = mailbox_index(dir, &id, call.now_ms)?;
    Ok(vec![render::auto_reply(dir, &dir.data.mailboxes[i])])
}

/// Set-MailboxAutoReplyConfiguration.
pub(super) fn set(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = mailbox_index(dir, &id, call.now_ms)?;
    let mut a = dir.data.mailboxes[i].auto_reply.clone();
    if let Some(s) = call.params.string("AutoReplyState")? {
        a.state = canonical("AutoReplyState", &s, &["Enabled", "Disabled", "Scheduled"])?;
    }
    if call.params.has("InternalMessage") {
        a.internal_message = call.params.string("InternalMessage")?.map(html);
    }
    if call.params.has("ExternalMessage") {
        a.external_message = call.params.string("ExternalMessage")?.map(html);
    }
    if let Some(s) = call.params.string("ExternalAudience")? {
        a.external_audience = canonical("ExternalAudience", &s, &["None", "Known", "All"])?;
    }
    if let Some(s) = call.params.string("StartTime")? {
        a.start_time = Some(parse_time("StartTime", &s)?);
    }
    if let Some(s) = call.params.string("EndTime")? {
        a.end_time = Some(parse_time("EndTime", &s)?);
    }
    if a.state == "Scheduled"
        && let (Some(s), Some(e)) = (&a.start_time, &a.end_time)
        && e <= s
    {
        return Err(CmdletError::task(
            "The EndTime must be later than the StartTime.".to_owned(),
        ));
    }
    if a == dir.data.mailboxes[i].auto_reply {
        call.warnings.push(no_change_warning(&id));
    } else {
        dir.data.mailboxes[i].auto_reply = a;
    }
    Ok(Vec::new())
}
