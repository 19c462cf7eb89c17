-- Relais store schema, version 10: enrolled kiosks. An administrator creates a kiosk and gets
-- a one-time pairing code (only its SHA-256 is kept); the kiosk exchanges it for a device
-- credential that carries the kiosk's generation. Pairing again bumps the generation, which
-- retires the credentials of earlier pairings; revoking refuses them all.

CREATE TABLE kiosks (
    kiosk_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    services TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    pairing_hash TEXT,
    pairing_expires_ms INTEGER,
    paired_at_ms INTEGER,
    generation INTEGER NOT NULL DEFAULT 0,
    revoked_at_ms INTEGER,
    last_seen_ms INTEGER
);

CREATE UNIQUE INDEX kiosks_by_pairing ON kiosks (pairing_hash) WHERE pairing_hash IS NOT NULL;
