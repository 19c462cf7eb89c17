-- Relais store schema, version 6: the journal of calls in progress. One row per call that has
-- not ended (waiting, ringing, connected) or whose agent is still in wrap-up, rewritten in the
-- same transaction as every change that matters for recovery and removed with its record, so a
-- server that stops or crashes finds at its next start what it was doing: waiting calls get
-- their place back, connected ones are recorded as interrupted, wrap-ups are completed.
-- `heartbeat` holds the last time the server was known to run (written every few seconds).

CREATE TABLE live_calls (
    call_id        INTEGER PRIMARY KEY,
    queue          TEXT    NOT NULL,
    origin_queue   TEXT    NOT NULL,
    kiosk          TEXT    NOT NULL,
    site           TEXT    NOT NULL,
    priority       INTEGER NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('waiting', 'connected', 'wrap_up')),
    agent          TEXT,
    answered_at_ms INTEGER,
    ended_at_ms    INTEGER,
    attempts       INTEGER NOT NULL,
    legs           TEXT    NOT NULL,
    updated_at_ms  INTEGER NOT NULL
) STRICT;

CREATE TABLE heartbeat (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms INTEGER NOT NULL
) STRICT;
