-- Relais store schema, version 11: people who sign in. Local accounts (for sites without an
-- identity provider) keep an argon2 hash of their password; agent profiles give the skills and
-- teams of an agent however it signs in; web sessions are the browser sign-ins, of which only
-- the SHA-256 of the cookie is kept, so they survive a restart and can be ended.

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    services TEXT,
    created_at_ms INTEGER NOT NULL,
    disabled_at_ms INTEGER
);

CREATE TABLE agent_profiles (
    agent_id TEXT PRIMARY KEY,
    skills TEXT NOT NULL,
    teams TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE web_sessions (
    session_hash TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    services TEXT,
    method TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);

CREATE INDEX web_sessions_by_subject ON web_sessions (subject);
