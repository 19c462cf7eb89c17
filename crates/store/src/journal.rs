//! The journal of calls in progress: one row per call that has not ended (or whose agent is
//! still in wrap-up), written in batches — every change of one event-loop turn in one
//! transaction, with the records of the calls that ended in it — so that a server that stops or
//! crashes finds at its next start what it was doing. See docs/ARCHITECTURE.md, "Durability".

use relais_proto::{EndReason, EndedBy, Outcome};
use rusqlite::{OptionalExtension, TransactionBehavior, named_params};
use serde::{Deserialize, Serialize};

use crate::calls::{apply_agent_wrap_up, insert_call_in_full};
use crate::error::{Result, StoreError};
use crate::{
    AgentStateChange, AuditEntry, CallRecord, ChatRecord, LegRecord, Store, call_id_to_sql,
};

/// Where a journalled call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// In its queue (or ringing an agent).
    Waiting,
    /// Answered by an agent.
    Connected,
    /// Ended (its record is written); its agent is in wrap-up.
    WrapUp,
}

impl LiveState {
    fn as_str(self) -> &'static str {
        match self {
            LiveState::Waiting => "waiting",
            LiveState::Connected => "connected",
            LiveState::WrapUp => "wrap_up",
        }
    }

    fn from_stored(word: &str) -> Option<Self> {
        Some(match word {
            "waiting" => LiveState::Waiting,
            "connected" => LiveState::Connected,
            "wrap_up" => LiveState::WrapUp,
            _ => return None,
        })
    }
}

/// A call in progress as the journal keeps it. Times are Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    pub call_id: u64,
    /// The queue it waits in or is handled for now.
    pub queue: String,
    /// The service it was placed to.
    pub origin_queue: String,
    pub kiosk: String,
    pub site: String,
    pub priority: i32,
    pub enqueued_at_ms: i64,
    pub state: LiveState,
    /// The agent connected to it (in wrap-up, the agent who wraps up).
    pub agent: Option<String>,
    pub answered_at_ms: Option<i64>,
    /// When it ended (in wrap-up).
    pub ended_at_ms: Option<i64>,
    pub attempts: u32,
    /// Everyone who took part so far; a leg still there has `left_because` empty.
    pub legs: Vec<LegRecord>,
    pub updated_at_ms: i64,
}

impl LiveCall {
    /// The record of this call cut at `at_ms` by a stop of the server: `interrupted`, reason
    /// `restart`, the legs still there leaving then.
    pub fn interrupted(&self, at_ms: i64) -> (CallRecord, Vec<LegRecord>) {
        let at_ms = at_ms.max(self.enqueued_at_ms);
        let waited_until = self.answered_at_ms.unwrap_or(at_ms);
        let record = CallRecord {
            call_id: self.call_id,
            queue: self.queue.clone(),
            kiosk: self.kiosk.clone(),
            site: self.site.clone(),
            agent: self.agent.clone(),
            outcome: Outcome::Interrupted,
            ended_by: Some(EndedBy::Server),
            end_reason: Some(EndReason::Restart),
            enqueued_at_ms: self.enqueued_at_ms,
            offered_at_ms: None,
            answered_at_ms: self.answered_at_ms,
            ended_at_ms: at_ms,
            wait_ms: (waited_until - self.enqueued_at_ms).max(0),
            talk_ms: self.answered_at_ms.map(|t| (at_ms - t).max(0)),
            wrap_up_ms: None,
            attempts: self.attempts,
            callback: false,
            disposition: None,
        };
        let legs = self
            .legs
            .iter()
            .map(|leg| {
                let mut leg = leg.clone();
                if leg.left_because.is_empty() {
                    leg.left_at_ms = at_ms;
                    leg.left_because = "ended".to_owned();
                }
                leg
            })
            .collect();
        (record, legs)
    }
}

/// One change for the journal and the records, applied in order in one transaction by
/// [`Store::commit_batch`]. Every operation may be applied again (a retried batch) without
/// changing its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalOp {
    /// A call in progress as it stands now (written or replaced).
    Live(Box<LiveCall>),
    /// A call ended: its record; its journal row goes, or stays as `wrap_up` for the agent
    /// who answered it (`wrap_up_of`).
    Ended {
        record: Box<CallRecord>,
        legs: Vec<LegRecord>,
        chat: Vec<ChatRecord>,
        wrap_up_of: Option<String>,
    },
    /// An agent's wrap-up of a recorded call ended: the record is completed and the journal
    /// row, if it waited for this wrap-up, goes.
    WrapUp {
        call_id: u64,
        agent: String,
        wrap_up_ms: i64,
        disposition: Option<String>,
    },
    /// The case reference and notes an agent gave for a call (replacing earlier ones).
    CaseNote {
        call_id: u64,
        agent: String,
        case_ref: Option<String>,
        notes: Option<String>,
        at_ms: i64,
    },
    /// An agent moved to a new state.
    AgentState(AgentStateChange),
    /// An entry of the audit log.
    Audit(AuditEntry),
    /// The server runs at this instant.
    Heartbeat { at_ms: i64 },
    /// A callback task took the place of a waiting call.
    Callback(Box<crate::CallbackRow>),
    /// A callback task ended.
    CallbackDone(crate::CallbackDone),
}

impl Store {
    /// Applies `ops` in one transaction: all or nothing, committed (and synced) when this
    /// returns.
    pub fn commit_batch(&self, ops: &[JournalOp]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for op in ops {
            apply(&transaction, op)?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// The calls in progress the journal holds, by id.
    pub fn live_calls(&self) -> Result<Vec<LiveCall>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT call_id, queue, origin_queue, kiosk, site, priority, enqueued_at_ms, state, \
             agent, answered_at_ms, ended_at_ms, attempts, legs, updated_at_ms \
             FROM live_calls ORDER BY call_id",
        )?;
        let rows = statement.query_map([], |row| {
            let state: String = row.get(7)?;
            let legs: String = row.get(12)?;
            let call_id: i64 = row.get(0)?;
            Ok((
                call_id,
                state,
                legs,
                LiveCall {
                    call_id: 0,
                    queue: row.get(1)?,
                    origin_queue: row.get(2)?,
                    kiosk: row.get(3)?,
                    site: row.get(4)?,
                    priority: row.get(5)?,
                    enqueued_at_ms: row.get(6)?,
                    state: LiveState::Waiting,
                    agent: row.get(8)?,
                    answered_at_ms: row.get(9)?,
                    ended_at_ms: row.get(10)?,
                    attempts: row.get(11)?,
                    legs: Vec::new(),
                    updated_at_ms: row.get(13)?,
                },
            ))
        })?;
        let mut calls = Vec::new();
        for row in rows {
            let (call_id, state, legs, mut call) = row?;
            call.call_id = u64::try_from(call_id)
                .map_err(|_| StoreError::Sqlite(format!("negative call id {call_id}")))?;
            call.state = LiveState::from_stored(&state).ok_or_else(|| {
                StoreError::Sqlite(format!("call {call_id}: unknown journal state {state:?}"))
            })?;
            call.legs = serde_json::from_str(&legs).map_err(|err| {
                StoreError::Sqlite(format!("call {call_id}: unreadable legs: {err}"))
            })?;
            calls.push(call);
        }
        Ok(calls)
    }

    /// The last instant the server was known to run (its last heartbeat).
    pub fn last_heartbeat(&self) -> Result<Option<i64>> {
        let connection = self.connection();
        Ok(connection
            .query_row("SELECT at_ms FROM heartbeat WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Closes what a stop at `stopped_at_ms` cut short, in one transaction: a connected call
    /// gets its record (`interrupted`, reason `restart`), a wrap-up is completed at that
    /// instant. Returns the calls that were waiting, which stay in the journal until their
    /// kiosk comes back or their grace period ends.
    pub fn close_interrupted(&self, stopped_at_ms: i64) -> Result<Vec<LiveCall>> {
        let live = self.live_calls()?;
        let mut ops = Vec::new();
        let mut waiting = Vec::new();
        for call in live {
            match call.state {
                LiveState::Waiting => waiting.push(call),
                LiveState::Connected => {
                    let (record, legs) = call.interrupted(stopped_at_ms);
                    ops.push(JournalOp::Ended {
                        record: Box::new(record),
                        legs,
                        chat: Vec::new(),
                        wrap_up_of: None,
                    });
                }
                LiveState::WrapUp => {
                    let ended = call.ended_at_ms.unwrap_or(call.updated_at_ms);
                    ops.push(JournalOp::WrapUp {
                        call_id: call.call_id,
                        agent: call.agent.clone().unwrap_or_default(),
                        wrap_up_ms: (stopped_at_ms - ended).max(0),
                        disposition: None,
                    });
                }
            }
        }
        self.commit_batch(&ops)?;
        Ok(waiting)
    }
}

fn apply(connection: &rusqlite::Connection, op: &JournalOp) -> Result<()> {
    match op {
        JournalOp::Live(call) => write_live(connection, call),
        JournalOp::Callback(row) => crate::callbacks::insert(connection, row),
        JournalOp::CallbackDone(done) => crate::callbacks::done(connection, done),
        JournalOp::Ended {
            record,
            legs,
            chat,
            wrap_up_of,
        } => {
            let id = call_id_to_sql(record.call_id)?;
            let recorded: Option<i64> = connection
                .query_row("SELECT 1 FROM calls WHERE call_id = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()?;
            if recorded.is_none() {
                insert_call_in_full(connection, record, legs, chat)?;
            }
            match wrap_up_of {
                Some(agent) => {
                    connection.execute(
                        "UPDATE live_calls SET state = 'wrap_up', agent = ?2, ended_at_ms = ?3, \
                         updated_at_ms = ?3 WHERE call_id = ?1",
                        rusqlite::params![id, agent, record.ended_at_ms],
                    )?;
                }
                None => {
                    connection.execute("DELETE FROM live_calls WHERE call_id = ?1", [id])?;
                }
            }
            Ok(())
        }
        JournalOp::WrapUp {
            call_id,
            agent,
            wrap_up_ms,
            disposition,
        } => {
            match apply_agent_wrap_up(
                connection,
                *call_id,
                agent,
                *wrap_up_ms,
                disposition.as_deref(),
            ) {
                // A wrap-up of a call with no record (none was written): nothing to complete.
                Ok(()) | Err(StoreError::UnknownCall(_)) => {}
                Err(err) => return Err(err),
            }
            connection.execute(
                "DELETE FROM live_calls WHERE call_id = ?1 AND state = 'wrap_up' AND agent = ?2",
                rusqlite::params![call_id_to_sql(*call_id)?, agent],
            )?;
            Ok(())
        }
        JournalOp::CaseNote {
            call_id,
            agent,
            case_ref,
            notes,
            at_ms,
        } => {
            connection.execute(
                "INSERT INTO call_notes (call_id, agent, case_ref, notes, updated_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (call_id, agent) DO UPDATE SET \
                 case_ref = excluded.case_ref, notes = excluded.notes, \
                 updated_at_ms = excluded.updated_at_ms",
                rusqlite::params![call_id_to_sql(*call_id)?, agent, case_ref, notes, at_ms],
            )?;
            Ok(())
        }
        JournalOp::AgentState(change) => crate::agents::insert_agent_state(connection, change),
        JournalOp::Audit(entry) => crate::audit::insert_audit(connection, entry),
        JournalOp::Heartbeat { at_ms } => {
            connection.execute(
                "INSERT INTO heartbeat (id, at_ms) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                [at_ms],
            )?;
            Ok(())
        }
    }
}

fn write_live(connection: &rusqlite::Connection, call: &LiveCall) -> Result<()> {
    let legs = serde_json::to_string(&call.legs)
        .map_err(|err| StoreError::Sqlite(format!("legs of call {}: {err}", call.call_id)))?;
    let mut statement = connection.prepare_cached(
        "INSERT INTO live_calls (call_id, queue, origin_queue, kiosk, site, priority, \
         enqueued_at_ms, state, agent, answered_at_ms, ended_at_ms, attempts, legs, updated_at_ms) \
         VALUES (:call_id, :queue, :origin_queue, :kiosk, :site, :priority, :enqueued_at_ms, \
         :state, :agent, :answered_at_ms, :ended_at_ms, :attempts, :legs, :updated_at_ms) \
         ON CONFLICT (call_id) DO UPDATE SET queue = excluded.queue, state = excluded.state, \
         agent = excluded.agent, answered_at_ms = excluded.answered_at_ms, \
         ended_at_ms = excluded.ended_at_ms, attempts = excluded.attempts, legs = excluded.legs, \
         updated_at_ms = excluded.updated_at_ms",
    )?;
    statement.execute(named_params! {
        ":call_id": call_id_to_sql(call.call_id)?,
        ":queue": call.queue,
        ":origin_queue": call.origin_queue,
        ":kiosk": call.kiosk,
        ":site": call.site,
        ":priority": call.priority,
        ":enqueued_at_ms": call.enqueued_at_ms,
        ":state": call.state.as_str(),
        ":agent": call.agent,
        ":answered_at_ms": call.answered_at_ms,
        ":ended_at_ms": call.ended_at_ms,
        ":attempts": call.attempts,
        ":legs": legs,
        ":updated_at_ms": call.updated_at_ms,
    })?;
    Ok(())
}
