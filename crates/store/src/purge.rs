//! Retention: what is older than the retention period goes — call records with their legs,
//! chat, case notes and kept files, agent state changes, audit entries. Calls in progress (the journal) are never purged.

use serde::Serialize;

use crate::Store;
use crate::error::Result;

/// Rows deleted by one purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub calls: u64,
    pub legs: u64,
    pub chat: u64,
    pub notes: u64,
    pub documents: u64,
    pub agent_states: u64,
    pub audit: u64,
    /// Callback tasks done before the cut-off, with the phone numbers they kept.
    pub callbacks: u64,
}

/// Rows deleted per transaction, so a first purge of years of records never holds the writer
/// (and the calls' group commits) for long.
const CHUNK: i64 = 5_000;

impl Store {
    /// Deletes every call record that ended before `before_ms` (with its legs and chat), and the
    /// agent state changes and audit entries of before `before_ms`, in chunks of a few thousand
    /// rows per transaction. Each agent's latest state change is kept whatever its age: it is
    /// the state the agent is in, which the next report and a restart read.
    pub fn purge_before(&self, before_ms: i64) -> Result<Purged> {
        let mut purged = Purged::default();
        loop {
            let mut connection = self.connection();
            let transaction = connection.transaction()?;
            let ids: Vec<i64> = {
                let mut statement = transaction
                    .prepare_cached("SELECT call_id FROM calls WHERE ended_at_ms < ?1 LIMIT ?2")?;
                let rows = statement.query_map((before_ms, CHUNK), |row| row.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            if ids.is_empty() {
                break;
            }
            for id in &ids {
                purged.legs += transaction
                    .prepare_cached("DELETE FROM call_legs WHERE call_id = ?1")?
                    .execute([id])? as u64;
                purged.chat += transaction
                    .prepare_cached("DELETE FROM call_chat WHERE call_id = ?1")?
                    .execute([id])? as u64;
                purged.notes += transaction
                    .prepare_cached("DELETE FROM call_notes WHERE call_id = ?1")?
                    .execute([id])? as u64;
                purged.documents += transaction
                    .prepare_cached("DELETE FROM call_documents WHERE call_id = ?1")?
                    .execute([id])? as u64;
                purged.calls += transaction
                    .prepare_cached("DELETE FROM calls WHERE call_id = ?1")?
                    .execute([id])? as u64;
            }
            transaction.commit()?;
        }
        // A file kept with a call that never got a record (none should: every call is
        // recorded) goes at the same age.
        purged.documents += self.delete_in_chunks(
            "DELETE FROM call_documents WHERE doc_id IN (SELECT doc_id FROM call_documents \
             WHERE attached_at_ms < ?1 AND call_id NOT IN (SELECT call_id FROM calls) LIMIT ?2)",
            before_ms,
        )?;
        purged.agent_states = self.delete_in_chunks(
            "DELETE FROM agent_states WHERE id IN (SELECT id FROM agent_states \
             WHERE at_ms < ?1 AND id NOT IN (SELECT MAX(id) FROM agent_states GROUP BY agent) \
             LIMIT ?2)",
            before_ms,
        )?;
        purged.callbacks = self.delete_in_chunks(
            "DELETE FROM callbacks WHERE task_id IN (SELECT task_id FROM callbacks \
             WHERE done_at_ms < ?1 LIMIT ?2)",
            before_ms,
        )?;
        purged.audit = self.delete_in_chunks(
            "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at_ms < ?1 LIMIT ?2)",
            before_ms,
        )?;
        Ok(purged)
    }

    fn delete_in_chunks(&self, sql: &str, before_ms: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let deleted = self
                .connection()
                .prepare_cached(sql)?
                .execute((before_ms, CHUNK))? as u64;
            total += deleted;
            if deleted < CHUNK as u64 {
                return Ok(total);
            }
        }
    }
}
