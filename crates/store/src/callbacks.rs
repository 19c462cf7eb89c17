//! Callback tasks: written when a caller asks to be called back, completed when the task ends,
//! read back at start-up for the tasks still to do. The phone number is personal data: the
//! row goes with the purge once the task is done plus the retention period, and `Debug` of a
//! row never shows the number.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::{Store, call_id_to_sql};

/// One callback task as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRow {
    pub task_id: u64,
    /// The waiting call it took the place of.
    pub call_id: u64,
    pub service: String,
    pub kiosk: String,
    pub site: String,
    pub enqueued_at_ms: i64,
    pub requested_at_ms: i64,
    pub not_before_ms: Option<i64>,
    pub phone: String,
    pub done_at_ms: Option<i64>,
    pub outcome: Option<String>,
    pub agent: Option<String>,
    pub result: Option<String>,
}

impl std::fmt::Debug for CallbackRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackRow")
            .field("task_id", &self.task_id)
            .field("call_id", &self.call_id)
            .field("service", &self.service)
            .field("kiosk", &self.kiosk)
            .field("enqueued_at_ms", &self.enqueued_at_ms)
            .field("not_before_ms", &self.not_before_ms)
            .field("phone", &"…")
            .field("done_at_ms", &self.done_at_ms)
            .field("outcome", &self.outcome)
            .field("result", &self.result)
            .finish_non_exhaustive()
    }
}

/// How a callback task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackDone {
    pub task_id: u64,
    pub at_ms: i64,
    pub outcome: String,
    pub agent: Option<String>,
    pub result: Option<String>,
}

pub(crate) fn insert(connection: &rusqlite::Connection, row: &CallbackRow) -> Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO callbacks (task_id, call_id, service, kiosk, site, enqueued_at_ms, \
             requested_at_ms, not_before_ms, phone) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (task_id) DO NOTHING",
        )?
        .execute(rusqlite::params![
            call_id_to_sql(row.task_id)?,
            call_id_to_sql(row.call_id)?,
            row.service,
            row.kiosk,
            row.site,
            row.enqueued_at_ms,
            row.requested_at_ms,
            row.not_before_ms,
            row.phone,
        ])?;
    Ok(())
}

pub(crate) fn done(connection: &rusqlite::Connection, done: &CallbackDone) -> Result<()> {
    connection
        .prepare_cached(
            "UPDATE callbacks SET done_at_ms = ?2, outcome = ?3, agent = ?4, result = ?5 \
             WHERE task_id = ?1 AND done_at_ms IS NULL",
        )?
        .execute(rusqlite::params![
            call_id_to_sql(done.task_id)?,
            done.at_ms,
            done.outcome,
            done.agent,
            done.result,
        ])?;
    Ok(())
}

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, CallbackRow)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        CallbackRow {
            task_id: 0,
            call_id: 0,
            service: row.get(2)?,
            kiosk: row.get(3)?,
            site: row.get(4)?,
            enqueued_at_ms: row.get(5)?,
            requested_at_ms: row.get(6)?,
            not_before_ms: row.get(7)?,
            phone: row.get(8)?,
            done_at_ms: row.get(9)?,
            outcome: row.get(10)?,
            agent: row.get(11)?,
            result: row.get(12)?,
        },
    ))
}

const COLUMNS: &str = "task_id, call_id, service, kiosk, site, enqueued_at_ms, requested_at_ms, \
                       not_before_ms, phone, done_at_ms, outcome, agent, result";

fn ids(task: i64, call: i64, mut row: CallbackRow) -> Result<CallbackRow> {
    row.task_id =
        u64::try_from(task).map_err(|_| StoreError::Sqlite(format!("negative task id {task}")))?;
    row.call_id =
        u64::try_from(call).map_err(|_| StoreError::Sqlite(format!("negative call id {call}")))?;
    Ok(row)
}

impl Store {
    /// The callback tasks not done yet, oldest enqueue first.
    pub fn pending_callbacks(&self) -> Result<Vec<CallbackRow>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM callbacks WHERE done_at_ms IS NULL \
             ORDER BY enqueued_at_ms, task_id"
        ))?;
        let rows = statement.query_map([], read)?;
        let mut out = Vec::new();
        for row in rows {
            let (task, call, row) = row?;
            out.push(ids(task, call, row)?);
        }
        Ok(out)
    }

    /// One callback task, done or not (gone once purged).
    pub fn callback(&self, task_id: u64) -> Result<Option<CallbackRow>> {
        let connection = self.connection();
        let found = connection
            .query_row(
                &format!("SELECT {COLUMNS} FROM callbacks WHERE task_id = ?1"),
                [call_id_to_sql(task_id)?],
                read,
            )
            .optional()?;
        found
            .map(|(task, call, row)| ids(task, call, row))
            .transpose()
    }
}
