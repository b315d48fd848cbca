//! Get-/Add-/Remove-/Update-DistributionGroupMember.

use serde_json::Value;
use uuid::Uuid;

use super::{Call, group_index, limit, reference};
use crate::directory::Directory;
use crate::exchange::envelope::CmdletError;
use crate::exchange::render;

/// Get-DistributionGroupMember.
pub(super) fn get(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = group_index(dir, &id, call.now_ms)?;
    let members = dir.data.groups[i].members.clone();
    let out = members
        .iter()
        .filter_map(|m| render::recipient(dir, *m))
        .collect();
    limit(call, out)
}

fn member_ref(dir: &Directory, call: &Call, group: usize) -> Result<(String, Uuid), CmdletError> {
    let member = call.params.required("Member")?;
    let guid = reference(dir, &member, call.now_ms)?;
    if guid == dir.data.groups[group].guid {
        return Err(CmdletError::task(format!(
            "The group \"{}\" can't be a member of itself.",
            dir.data.groups[group].name
        )));
    }
    Ok((member, guid))
}

/// Add-DistributionGroupMember.
pub(super) fn add(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = group_index(dir, &id, call.now_ms)?;
    let (member, guid) = member_ref(dir, call, i)?;
    let g = &mut dir.data.groups[i];
    if g.members.contains(&guid) {
        return Err(CmdletError::member_exists(&member, &g.name));
    }
    g.members.push(guid);
    Ok(Vec::new())
}

/// Remove-DistributionGroupMember.
pub(super) fn remove(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = group_index(dir, &id, call.now_ms)?;
    let (member, guid) = member_ref(dir, call, i)?;
    let g = &mut dir.data.groups[i];
    if !g.members.contains(&guid) {
        return Err(CmdletError::member_not_found(&member, &g.name));
    }
    g.members.retain(|m| *m != guid);
    Ok(Vec::new())
}

/// Update-DistributionGroupMember: replace the whole member list.
pub(super) fn update(dir: &mut Directory, call: &mut Call) -> Result<Vec<Value>, CmdletError> {
    let id = call.params.required("Identity")?;
    let i = group_index(dir, &id, call.now_ms)?;
    let wanted = call.params.list("Members")?.unwrap_or_default();
    let mut members = Vec::new();
    for m in &wanted {
        let g = reference(dir, m, call.now_ms)?;
        if !members.contains(&g) {
            members.push(g);
        }
    }
    dir.data.groups[i].members = members;
    Ok(Vec::new())
}
