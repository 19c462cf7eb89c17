-- Relais store schema, version 5: the chat of a call, kept with its record only for the
-- services that ask for it (`chat_retention`; off by default).

CREATE TABLE call_chat (
    call_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL,
    role    TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    text    TEXT    NOT NULL,
    PRIMARY KEY (call_id, seq)
) STRICT;
