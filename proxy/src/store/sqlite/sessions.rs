//! The `sessions` table: minted sessions kept while their handles may still be redeemed
//! (until expiry plus the largest clock-skew allowance: the caller's `live_from`), so
//! revocations survive a restart and deleting a connection revokes its sessions.

use rusqlite::{Connection, params};

use super::{db, pass};
use crate::store::{Gate, SessionRow, StoreError};

pub(super) fn insert(c: &mut Connection, row: &SessionRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sessions (id, connection_id, job_id, expire_time) VALUES (?1, ?2, ?3, ?4)",
        params![
            row.id.to_string(),
            row.connection_id.to_string(),
            row.job_id,
            row.expire_time
        ],
    )
    .map_err(db)?;
    Ok(())
}

pub(super) fn delete_connection(
    c: &mut Connection,
    id: uuid::Uuid,
    live_from: i64,
    gate: Gate,
) -> Result<u64, StoreError> {
    let tx = c.transaction().map_err(db)?;
    let n = tx
        .execute("DELETE FROM connections WHERE id = ?1", [id.to_string()])
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    let revoked = tx
        .execute(
            "UPDATE sessions SET revoked = 1 WHERE connection_id = ?1 AND revoked = 0 AND expire_time >= ?2",
            params![id.to_string(), live_from],
        )
        .map_err(db)?;
    pass(gate, revoked as u64)?;
    tx.commit().map_err(db)?;
    Ok(revoked as u64)
}

pub(super) fn revoke(
    c: &mut Connection,
    id: uuid::Uuid,
    live_from: i64,
    gate: Gate,
) -> Result<bool, StoreError> {
    let tx = c.transaction().map_err(db)?;
    let n = tx
        .execute(
            "UPDATE sessions SET revoked = 1 WHERE id = ?1 AND revoked = 0 AND expire_time >= ?2",
            params![id.to_string(), live_from],
        )
        .map_err(db)?;
    pass(gate, n as u64)?;
    tx.commit().map_err(db)?;
    Ok(n > 0)
}

pub(super) fn revoked(c: &mut Connection, live_from: i64) -> Result<Vec<uuid::Uuid>, StoreError> {
    c.execute("DELETE FROM sessions WHERE expire_time < ?1", [live_from])
        .map_err(db)?;
    let mut stmt = c
        .prepare("SELECT id FROM sessions WHERE revoked = 1")
        .map_err(db)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let id = row.map_err(db)?;
        let id = uuid::Uuid::try_parse(&id).map_err(|e| StoreError::Decode(e.to_string()))?;
        out.push(id);
    }
    Ok(out)
}
