-- Relais store schema, version 4: the legs of a call — who took part in it (kiosk, each agent
-- who handled it, supervisors, interpreters), from when to when, how each left (the call
-- ended, it was transferred on, the participant left), and each agent's wrap-up.

CREATE TABLE call_legs (
    call_id      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    role         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    queue        TEXT,
    joined_at_ms INTEGER NOT NULL,
    left_at_ms   INTEGER NOT NULL,
    left_because TEXT    NOT NULL,
    wrap_up_ms   INTEGER,
    disposition  TEXT,
    PRIMARY KEY (call_id, seq)
) STRICT;
