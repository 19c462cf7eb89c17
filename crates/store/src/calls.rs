//! Call records: written once when a call ends, completed by wrap-up, read back by period.

use relais_proto::{EndReason, EndedBy, Outcome};
use rusqlite::{OptionalExtension, Row, named_params};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::{Store, call_id_to_sql};

/// What happened to one call, written when it ends. Times are Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: u64,
    pub queue: String,
    pub kiosk: String,
    pub site: String,
    /// The agent who answered (or was last offered) the call.
    pub agent: Option<String>,
    pub outcome: Outcome,
    /// Who ended a connected call.
    pub ended_by: Option<EndedBy>,
    /// Why a connected call ended.
    pub end_reason: Option<EndReason>,
    pub enqueued_at_ms: i64,
    pub offered_at_ms: Option<i64>,
    pub answered_at_ms: Option<i64>,
    pub ended_at_ms: i64,
    pub wait_ms: i64,
    pub talk_ms: Option<i64>,
    /// Set by [`Store::set_wrap_up`] once the agent finishes wrap-up.
    pub wrap_up_ms: Option<i64>,
    /// How many times the call was offered to an agent.
    pub attempts: u32,
    /// The caller asked to be called back while waiting.
    #[serde(default)]
    pub callback: bool,
    pub disposition: Option<String>,
}

/// The case reference and notes an agent gave for a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseNote {
    pub case_ref: Option<String>,
    pub notes: Option<String>,
}

/// Which calls of an agent's history to read ([`Store::agent_history`]).
#[derive(Debug, Clone, Copy)]
pub struct HistoryFilter<'a> {
    pub from_ms: i64,
    pub to_ms: i64,
    pub service: Option<&'a str>,
    pub case_prefix: Option<&'a str>,
    pub limit: usize,
}

/// One participant of a call: who, in which role, from when to when, why it left, and an
/// agent's wrap-up. Times are Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegRecord {
    /// Its order in the call (0: the kiosk).
    pub seq: u32,
    /// `kiosk`, `agent`, `supervisor`, `interpreter`.
    pub role: String,
    pub subject: String,
    /// The queue it handled the call for (agents).
    pub queue: Option<String>,
    pub joined_at_ms: i64,
    pub left_at_ms: i64,
    /// `ended` (the call ended), `transferred` (the agent handed it on), `left`,
    /// `interrupted` (an agent whose connection was lost; the call went back to its queue).
    pub left_because: String,
    pub wrap_up_ms: Option<i64>,
    pub disposition: Option<String>,
}

/// One chat message of a call, kept for services with chat retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRecord {
    pub at_ms: i64,
    /// `kiosk`, `agent`, `supervisor`, `interpreter`.
    pub role: String,
    pub name: String,
    pub text: String,
}

const COLUMNS: &str = "call_id, queue, kiosk, site, agent, outcome, enqueued_at_ms, \
    offered_at_ms, answered_at_ms, ended_at_ms, wait_ms, talk_ms, wrap_up_ms, attempts, \
    callback, disposition, ended_by, end_reason";

impl Store {
    /// Records a call that has ended; committed when this returns. A call ends exactly once:
    /// a second record for the same `call_id` is [`StoreError::Duplicate`] and changes nothing.
    pub fn record_call(&self, record: &CallRecord) -> Result<()> {
        insert_call(&self.connection(), record)
    }

    /// Records a call that has ended with its legs, in one transaction: committed, all of it,
    /// when this returns.
    pub fn record_call_with_legs(&self, record: &CallRecord, legs: &[LegRecord]) -> Result<()> {
        self.record_call_in_full(record, legs, &[])
    }

    /// Records a call that has ended with its legs and the chat kept with it, in one
    /// transaction.
    pub fn record_call_in_full(
        &self,
        record: &CallRecord,
        legs: &[LegRecord],
        chat: &[ChatRecord],
    ) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        insert_call_in_full(&transaction, record, legs, chat)?;
        transaction.commit()?;
        Ok(())
    }

    /// One recorded call, if it is recorded.
    pub fn call(&self, call_id: u64) -> Result<Option<CallRecord>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1"))?;
        Ok(statement
            .query_row([call_id_to_sql(call_id)?], call_from_row)
            .optional()?)
    }

    /// The chat kept with a recorded call, in order.
    pub fn chat_of(&self, call_id: u64) -> Result<Vec<ChatRecord>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT at_ms, role, name, text FROM call_chat WHERE call_id = ?1 ORDER BY seq",
        )?;
        let rows = statement.query_map([call_id_to_sql(call_id)?], |row| {
            Ok(ChatRecord {
                at_ms: row.get(0)?,
                role: row.get(1)?,
                name: row.get(2)?,
                text: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The legs of a recorded call, in order.
    pub fn legs_of(&self, call_id: u64) -> Result<Vec<LegRecord>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT seq, role, subject, queue, joined_at_ms, left_at_ms, left_because, \
             wrap_up_ms, disposition FROM call_legs WHERE call_id = ?1 ORDER BY seq",
        )?;
        let rows = statement.query_map([call_id_to_sql(call_id)?], |row| {
            Ok(LegRecord {
                seq: row.get(0)?,
                role: row.get(1)?,
                subject: row.get(2)?,
                queue: row.get(3)?,
                joined_at_ms: row.get(4)?,
                left_at_ms: row.get(5)?,
                left_because: row.get(6)?,
                wrap_up_ms: row.get(7)?,
                disposition: row.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Completes the wrap-up of `agent` on a recorded call: its leg, and the call's own
    /// wrap-up when `agent` is the agent who handled the call last.
    pub fn set_agent_wrap_up(
        &self,
        call_id: u64,
        agent: &str,
        wrap_up_ms: i64,
        disposition: Option<&str>,
    ) -> Result<()> {
        apply_agent_wrap_up(&self.connection(), call_id, agent, wrap_up_ms, disposition)
    }

    /// Completes a call's record once the agent's wrap-up ends; committed when this returns.
    pub fn set_wrap_up(
        &self,
        call_id: u64,
        wrap_up_ms: i64,
        disposition: Option<&str>,
    ) -> Result<()> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "UPDATE calls SET wrap_up_ms = ?1, disposition = ?2 WHERE call_id = ?3",
        )?;
        let updated = statement.execute((wrap_up_ms, disposition, call_id_to_sql(call_id)?))?;
        if updated == 0 {
            return Err(StoreError::UnknownCall(call_id));
        }
        Ok(())
    }

    /// Calls that ended in `[from_ms, to_ms)`, by end time then call id.
    pub fn calls_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<CallRecord>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calls WHERE ended_at_ms >= ?1 AND ended_at_ms < ?2 \
             ORDER BY ended_at_ms, call_id"
        ))?;
        let rows = statement.query_map((from_ms, to_ms), call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// At most `limit` calls that ended in `[from_ms, to_ms)` after the position `after`
    /// (`(ended_at_ms, call_id)` of the last call of the previous page), by end time then call
    /// id: a page of an export, read with the index and never the whole period at once.
    pub fn calls_page(
        &self,
        from_ms: i64,
        to_ms: i64,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<CallRecord>> {
        let connection = self.connection();
        let (after_ms, after_id) = after.unwrap_or((i64::MIN, 0));
        let after_id = i64::try_from(after_id).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calls WHERE ended_at_ms >= ?1 AND ended_at_ms < ?2 \
             AND (ended_at_ms > ?3 OR (ended_at_ms = ?3 AND call_id > ?4)) \
             ORDER BY ended_at_ms, call_id LIMIT ?5"
        ))?;
        let rows =
            statement.query_map((from_ms, to_ms, after_ms, after_id, limit), call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Calls of `agent` that ended in `[from_ms, to_ms)`, by end time then call id.
    pub fn calls_of_agent_between(
        &self,
        agent: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CallRecord>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calls \
             WHERE agent = ?1 AND ended_at_ms >= ?2 AND ended_at_ms < ?3 \
             ORDER BY ended_at_ms, call_id"
        ))?;
        let rows = statement.query_map((agent, from_ms, to_ms), call_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// An agent's history: the calls it answered last that ended in [`from_ms`, `to_ms`), of
    /// `service` if given, with a case reference starting with `case_prefix` if given (ASCII
    /// case ignored), newest first, at most `limit`; each with the case reference and notes
    /// that agent gave.
    pub fn agent_history(
        &self,
        agent: &str,
        filter: &HistoryFilter<'_>,
    ) -> Result<Vec<(CallRecord, CaseNote)>> {
        let pattern = filter.case_prefix.map(|prefix| {
            let escaped: String = prefix
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            format!("{escaped}%")
        });
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS}, \
             (SELECT case_ref FROM call_notes n WHERE n.call_id = calls.call_id AND n.agent = ?1) \
               AS note_case_ref, \
             (SELECT notes FROM call_notes n WHERE n.call_id = calls.call_id AND n.agent = ?1) \
               AS note_text \
             FROM calls \
             WHERE agent = ?1 AND ended_at_ms >= ?2 AND ended_at_ms < ?3 \
               AND (?4 IS NULL OR queue = ?4) \
               AND (?5 IS NULL OR EXISTS (SELECT 1 FROM call_notes n \
                    WHERE n.call_id = calls.call_id AND n.agent = ?1 \
                    AND n.case_ref LIKE ?5 ESCAPE '\\')) \
             ORDER BY ended_at_ms DESC, call_id DESC LIMIT ?6"
        ))?;
        let rows = statement.query_map(
            rusqlite::params![
                agent,
                filter.from_ms,
                filter.to_ms,
                filter.service,
                pattern,
                i64::try_from(filter.limit).unwrap_or(i64::MAX),
            ],
            |row| {
                Ok((
                    call_from_row(row)?,
                    CaseNote {
                        case_ref: row.get("note_case_ref")?,
                        notes: row.get("note_text")?,
                    },
                ))
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Reserves `count` call ids and returns the first: ids from it to `first + count - 1` are
    /// the caller's. The reservation is durable before this returns, and starts past both every
    /// earlier reservation and every recorded call, so no id is ever handed out twice — not
    /// even after a crash that lost the records of calls in progress.
    pub fn reserve_call_ids(&self, count: u64) -> Result<u64> {
        let mut connection = self.connection();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let reserved: Option<i64> = transaction
            .query_row(
                "SELECT value FROM counters WHERE name = 'call_id'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let recorded: Option<i64> =
            transaction.query_row("SELECT max(call_id) FROM calls", [], |row| row.get(0))?;
        let first = reserved
            .unwrap_or(1)
            .max(recorded.map_or(1, |max| max.saturating_add(1)))
            .max(1);
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        transaction.execute(
            "INSERT INTO counters (name, value) VALUES ('call_id', ?1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [first.saturating_add(count)],
        )?;
        transaction.commit()?;
        Ok(call_id_from_sql(first)?)
    }

    /// The highest call id recorded, so numbering resumes after it on restart.
    pub fn max_call_id(&self) -> Result<Option<u64>> {
        let connection = self.connection();
        let max = connection.query_row("SELECT max(call_id) FROM calls", [], |row| {
            row.get::<_, Option<i64>>(0)
        })?;
        Ok(max.map(call_id_from_sql).transpose()?)
    }
}

fn call_from_row(row: &Row<'_>) -> rusqlite::Result<CallRecord> {
    Ok(CallRecord {
        call_id: call_id_from_sql(row.get("call_id")?)?,
        queue: row.get("queue")?,
        kiosk: row.get("kiosk")?,
        site: row.get("site")?,
        agent: row.get("agent")?,
        outcome: word(row, "outcome", Outcome::from_stored)?,
        enqueued_at_ms: row.get("enqueued_at_ms")?,
        offered_at_ms: row.get("offered_at_ms")?,
        answered_at_ms: row.get("answered_at_ms")?,
        ended_at_ms: row.get("ended_at_ms")?,
        wait_ms: row.get("wait_ms")?,
        talk_ms: row.get("talk_ms")?,
        wrap_up_ms: row.get("wrap_up_ms")?,
        attempts: row.get("attempts")?,
        callback: row.get("callback")?,
        disposition: row.get("disposition")?,
        ended_by: optional_word(row, "ended_by", str::parse)?,
        end_reason: optional_word(row, "end_reason", str::parse)?,
    })
}

/// A column holding a word of the wire vocabulary; another word means the file was edited by
/// hand or written by a newer version.
fn word<T>(
    row: &Row<'_>,
    column: &str,
    read: impl Fn(&str) -> std::result::Result<T, relais_proto::vocab::UnknownWord>,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    read(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })
}

fn optional_word<T>(
    row: &Row<'_>,
    column: &str,
    read: impl Fn(&str) -> std::result::Result<T, relais_proto::vocab::UnknownWord>,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(column)?;
    text.map(|text| {
        read(&text).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
        })
    })
    .transpose()
}

/// Call ids are written from `u64` and checked on the way in, so a negative one means the file
/// was edited by hand.
fn call_id_from_sql(raw: i64) -> rusqlite::Result<u64> {
    u64::try_from(raw).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, raw))
}

/// Inserts a call's record on `connection`; a second record of one call is
/// [`StoreError::Duplicate`].
fn insert_call(connection: &rusqlite::Connection, record: &CallRecord) -> Result<()> {
    let mut statement = connection.prepare_cached(&format!(
        "INSERT INTO calls ({COLUMNS}) VALUES (:call_id, :queue, :kiosk, :site, :agent, \
         :outcome, :enqueued_at_ms, :offered_at_ms, :answered_at_ms, :ended_at_ms, \
         :wait_ms, :talk_ms, :wrap_up_ms, :attempts, :callback, :disposition, :ended_by, :end_reason)"
    ))?;
    let inserted = statement.execute(named_params! {
        ":call_id": call_id_to_sql(record.call_id)?,
        ":queue": record.queue,
        ":kiosk": record.kiosk,
        ":site": record.site,
        ":agent": record.agent,
        ":outcome": record.outcome.as_str(),
        ":enqueued_at_ms": record.enqueued_at_ms,
        ":offered_at_ms": record.offered_at_ms,
        ":answered_at_ms": record.answered_at_ms,
        ":ended_at_ms": record.ended_at_ms,
        ":wait_ms": record.wait_ms,
        ":talk_ms": record.talk_ms,
        ":wrap_up_ms": record.wrap_up_ms,
        ":attempts": record.attempts,
        ":callback": record.callback,
        ":disposition": record.disposition,
        ":ended_by": record.ended_by.map(EndedBy::as_str),
        ":end_reason": record.end_reason.map(EndReason::as_str),
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if is_primary_key_violation(&error) => {
            Err(StoreError::Duplicate(record.call_id))
        }
        Err(error) => Err(error.into()),
    }
}

fn is_primary_key_violation(error: &rusqlite::Error) -> bool {
    error
        .sqlite_error()
        .is_some_and(|error| error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Inserts a call's record with its legs and chat, in the caller's transaction.
pub(crate) fn insert_call_in_full(
    transaction: &rusqlite::Connection,
    record: &CallRecord,
    legs: &[LegRecord],
    chat: &[ChatRecord],
) -> Result<()> {
    insert_call(transaction, record)?;
    {
        let mut statement = transaction.prepare_cached(
            "INSERT INTO call_legs (call_id, seq, role, subject, queue, joined_at_ms, \
             left_at_ms, left_because, wrap_up_ms, disposition) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let call_id = call_id_to_sql(record.call_id)?;
        for leg in legs {
            statement.execute(rusqlite::params![
                call_id,
                leg.seq,
                leg.role,
                leg.subject,
                leg.queue,
                leg.joined_at_ms,
                leg.left_at_ms,
                leg.left_because,
                leg.wrap_up_ms,
                leg.disposition,
            ])?;
        }
    }
    {
        let mut statement = transaction.prepare_cached(
            "INSERT INTO call_chat (call_id, seq, at_ms, role, name, text) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let call_id = call_id_to_sql(record.call_id)?;
        for (seq, line) in chat.iter().enumerate() {
            statement.execute(rusqlite::params![
                call_id, seq as i64, line.at_ms, line.role, line.name, line.text,
            ])?;
        }
    }
    Ok(())
}

/// Completes the wrap-up of `agent` on a recorded call (see [`Store::set_agent_wrap_up`]), in
/// the caller's transaction.
pub(crate) fn apply_agent_wrap_up(
    connection: &rusqlite::Connection,
    call_id: u64,
    agent: &str,
    wrap_up_ms: i64,
    disposition: Option<&str>,
) -> Result<()> {
    let id = call_id_to_sql(call_id)?;
    let legs = connection.execute(
        "UPDATE call_legs SET wrap_up_ms = ?1, disposition = ?2 WHERE call_id = ?3 \
         AND seq = (SELECT MAX(seq) FROM call_legs WHERE call_id = ?3 \
         AND role IN ('agent', 'interpreter') \
         AND subject = ?4)",
        rusqlite::params![wrap_up_ms, disposition, id, agent],
    )?;
    let call = connection.execute(
        "UPDATE calls SET wrap_up_ms = ?1, disposition = ?2 WHERE call_id = ?3 \
         AND agent = ?4",
        rusqlite::params![wrap_up_ms, disposition, id, agent],
    )?;
    if legs == 0 && call == 0 {
        return Err(StoreError::UnknownCall(call_id));
    }
    Ok(())
}
