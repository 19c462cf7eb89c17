-- Relais store schema, version 1: call records, agent state changes, supervision audit.
-- Times are Unix milliseconds UTC. Outcome is free text (no CHECK) so a new outcome never
-- costs a call its record.

CREATE TABLE calls (
    call_id        INTEGER PRIMARY KEY,
    queue          TEXT    NOT NULL,
    kiosk          TEXT    NOT NULL,
    site           TEXT    NOT NULL,
    agent          TEXT,
    outcome        TEXT    NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    offered_at_ms  INTEGER,
    answered_at_ms INTEGER,
    ended_at_ms    INTEGER NOT NULL,
    wait_ms        INTEGER NOT NULL,
    talk_ms        INTEGER,
    wrap_up_ms     INTEGER,
    attempts       INTEGER NOT NULL CHECK (attempts >= 0),
    disposition    TEXT
) STRICT;

CREATE INDEX calls_by_end ON calls (ended_at_ms);
CREATE INDEX calls_by_agent_end ON calls (agent, ended_at_ms);

CREATE TABLE agent_states (
    id     INTEGER PRIMARY KEY,
    agent  TEXT    NOT NULL,
    state  TEXT    NOT NULL,
    reason TEXT,
    at_ms  INTEGER NOT NULL
) STRICT;

CREATE INDEX agent_states_by_agent_time ON agent_states (agent, at_ms);
CREATE INDEX agent_states_by_time ON agent_states (at_ms);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT
) STRICT;

CREATE INDEX audit_by_time ON audit (at_ms);
