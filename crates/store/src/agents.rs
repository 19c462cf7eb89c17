//! Agent state changes (available, busy, paused with a reason, …), written as they happen.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::Result;

/// One agent moving to a new state. `at_ms` is Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateChange {
    pub agent: String,
    pub state: String,
    /// Why, when the state carries a reason (a pause code, a forced logout).
    pub reason: Option<String>,
    pub at_ms: i64,
}

impl Store {
    /// Records an agent state change; committed when this returns.
    pub fn record_agent_state(&self, change: &AgentStateChange) -> Result<()> {
        insert_agent_state(&self.connection(), change)
    }

    /// Each agent's latest state change (the state it was in when the server last ran), by
    /// agent.
    pub fn last_agent_states(&self) -> Result<Vec<AgentStateChange>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT agent, state, reason, at_ms FROM agent_states \
             WHERE id IN (SELECT MAX(id) FROM agent_states GROUP BY agent) ORDER BY agent",
        )?;
        let rows = statement.query_map([], change_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The state each agent was in at `at_ms`: its latest change before it, by agent.
    pub fn agent_states_before(&self, at_ms: i64) -> Result<Vec<AgentStateChange>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT agent, state, reason, at_ms FROM agent_states WHERE id IN \
             (SELECT MAX(id) FROM agent_states WHERE at_ms < ?1 GROUP BY agent) ORDER BY agent",
        )?;
        let rows = statement.query_map([at_ms], change_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every agent's state changes in `[from_ms, to_ms)`, by time then recording order.
    pub fn agent_states_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<AgentStateChange>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT agent, state, reason, at_ms FROM agent_states \
             WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id",
        )?;
        let rows = statement.query_map((from_ms, to_ms), change_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One agent's state changes in `[from_ms, to_ms)`, by time then recording order.
    pub fn agent_states_of_agent_between(
        &self,
        agent: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<AgentStateChange>> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT agent, state, reason, at_ms FROM agent_states \
             WHERE agent = ?1 AND at_ms >= ?2 AND at_ms < ?3 ORDER BY at_ms, id",
        )?;
        let rows = statement.query_map((agent, from_ms, to_ms), change_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

pub(crate) fn insert_agent_state(
    connection: &rusqlite::Connection,
    change: &AgentStateChange,
) -> Result<()> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO agent_states (agent, state, reason, at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    statement.execute((&change.agent, &change.state, &change.reason, change.at_ms))?;
    Ok(())
}

fn change_from_row(row: &Row<'_>) -> rusqlite::Result<AgentStateChange> {
    Ok(AgentStateChange {
        agent: row.get("agent")?,
        state: row.get("state")?,
        reason: row.get("reason")?,
        at_ms: row.get("at_ms")?,
    })
}
