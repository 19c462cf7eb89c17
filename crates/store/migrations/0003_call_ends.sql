-- Relais store schema, version 3: who ended a call and why, beside its outcome; the outcome of
-- a call refused because its queue was full gets its own word (`queue_full`, was `rejected`).

ALTER TABLE calls ADD COLUMN ended_by TEXT;
ALTER TABLE calls ADD COLUMN end_reason TEXT;
UPDATE calls SET outcome = 'queue_full' WHERE outcome = 'rejected';
