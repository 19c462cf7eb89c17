-- Relais store schema, version 8: the case reference and notes an agent gives for a call, one
-- row per call and agent (saving again replaces it). Written while the call is in progress or
-- in wrap-up, so a note may come before its call's record; it goes with that record at purge.

CREATE TABLE call_notes (
    call_id INTEGER NOT NULL,
    agent TEXT NOT NULL,
    case_ref TEXT,
    notes TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (call_id, agent)
);

CREATE INDEX call_notes_by_case ON call_notes (agent, case_ref);
