-- Relais store schema, version 7: whether the caller asked to be called back while waiting.

ALTER TABLE calls ADD COLUMN callback INTEGER NOT NULL DEFAULT 0;
