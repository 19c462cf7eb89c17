-- Relais store schema, version 2: durable counters. `call_id` holds the first call id not yet
-- handed out: ids are reserved in blocks before use, so a crash never lets an id of a call
-- that was in progress be given again.

CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL CHECK (value >= 0)
) STRICT;
