-- Relais store schema, version 9: the files an agent keeps with a call (a document the kiosk
-- sent, a still of its camera, a file the agent sent). Files passed across a call stay in the
-- server's memory for the call only; one kept here goes with its call's record at purge.

CREATE TABLE call_documents (
    doc_id TEXT PRIMARY KEY,
    call_id INTEGER NOT NULL,
    agent TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    snapshot INTEGER NOT NULL,
    from_role TEXT NOT NULL,
    content BLOB NOT NULL,
    attached_at_ms INTEGER NOT NULL
);

CREATE INDEX call_documents_by_call ON call_documents (call_id, agent);
