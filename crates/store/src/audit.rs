//! The supervision audit log: who listened to, coached or barged into what, and when.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::Result;

/// One supervision action. `at_ms` is Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// Who acted (a supervisor's login).
    pub actor: String,
    /// What they did (listen, coach, barge, …).
    pub action: String,
    /// What they did it to (a call, an agent).
    pub target: String,
    pub detail: Option<String>,
}

impl Store {
    /// Records a supervision action; committed when this returns.
    pub fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        insert_audit(&self.connection(), entry)
    }

    /// Audit entries in `[from_ms, to_ms)`, by time then recording order.
    pub fn audit_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<AuditEntry>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT at_ms, actor, action, target, detail FROM audit \
             WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id",
        )?;
        let rows = statement.query_map((from_ms, to_ms), entry_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

pub(crate) fn insert_audit(connection: &rusqlite::Connection, entry: &AuditEntry) -> Result<()> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO audit (at_ms, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    statement.execute((
        entry.at_ms,
        &entry.actor,
        &entry.action,
        &entry.target,
        &entry.detail,
    ))?;
    Ok(())
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        at_ms: row.get("at_ms")?,
        actor: row.get("actor")?,
        action: row.get("action")?,
        target: row.get("target")?,
        detail: row.get("detail")?,
    })
}
