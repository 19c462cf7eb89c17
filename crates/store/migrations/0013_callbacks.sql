-- Relais store schema, version 13: callback tasks. A caller who would rather not wait leaves a
-- phone number; the row lives until the task is done plus the retention period (the purge
-- deletes it with the number).

CREATE TABLE callbacks (
    task_id INTEGER PRIMARY KEY,
    -- The waiting call the task took the place of.
    call_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    kiosk TEXT NOT NULL,
    site TEXT NOT NULL,
    -- The original call's enqueue: the task's place in its queue.
    enqueued_at_ms INTEGER NOT NULL,
    requested_at_ms INTEGER NOT NULL,
    not_before_ms INTEGER,
    phone TEXT NOT NULL,
    -- Set when the task ended: its outcome, the agent who took it and what came of it.
    done_at_ms INTEGER,
    outcome TEXT,
    agent TEXT,
    result TEXT
) STRICT;

CREATE INDEX callbacks_pending ON callbacks (done_at_ms);
