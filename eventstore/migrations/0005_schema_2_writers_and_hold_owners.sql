-- 0005: after review of #33.
-- 1. Only builds that write events of schema 2 may append. ll_migrate_check refuses a newer schema
--    when a process connects, but a command service of an older build that connected before 0004
--    keeps its connections and would go on appending schema 1 events: a withdrawal from a frozen
--    account, a close with holds open, events whose upcast figures (held 0, not frozen) contradict
--    the stream. Every event of the older build fails here instead (a 500 its client retries,
--    with the same Idempotency-Key, at a current service). NOT VALID: the rows already stored are
--    schema 1 and stay as they are (events are never updated), nothing is scanned, and the lock is
--    brief.
ALTER TABLE events ADD CONSTRAINT events_written_by_schema_2 CHECK (schema_version >= 2) NOT VALID;

-- 2. Who placed each hold (the actor of its HoldPlaced): a customer captures or releases only a
--    hold it placed itself; a card authorisation placed by the bank is the bank's to settle.
ALTER TABLE holds ADD COLUMN placed_by text NOT NULL DEFAULT '';

-- 3. The expiry sweep pages through due holds by (expires_at, hold_id), so holds it cannot expire
--    (refused, failing) never hide the ones after them.
CREATE INDEX holds_open_expiry_id ON holds (expires_at, hold_id) WHERE status = 'open';
DROP INDEX holds_open_expiry;

-- 4. An account's open holds, in the order they were placed (GET /v1/accounts/{id}/holds pages by
--    placed_version): an account with 10,000 open holds is listed without reading its settled ones.
CREATE INDEX holds_account_open ON holds (account_id, placed_version) WHERE status = 'open';
