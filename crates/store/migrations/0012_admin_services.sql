-- Relais store schema, version 12: services changed by administrators while the server runs.
-- Each row overrides the configuration file's service of that id (or adds one); a deleted row
-- removes it. The definition is the service's settings as JSON, in the file's vocabulary.

CREATE TABLE admin_services (
    service_id TEXT PRIMARY KEY,
    definition TEXT,
    updated_at_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
