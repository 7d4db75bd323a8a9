-- 0001: the event store, its outbox, idempotency records and the account state cache.
-- Runs as the schema owner. The services' role (@APP_ROLE@, filled in by the runner) gets only
-- what it needs: events are INSERT/SELECT only, and a trigger refuses UPDATE, DELETE and
-- TRUNCATE even for the owner, so the log stays append-only in the database itself.

CREATE TABLE events (
    global_position bigint      PRIMARY KEY,
    account_id      uuid        NOT NULL,
    version         bigint      NOT NULL CHECK (version >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    schema_version  int         NOT NULL,
    occurred_at     timestamptz NOT NULL,
    command_id      text        NOT NULL,
    transfer_id     uuid,
    hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    envelope        text        NOT NULL, -- canonical JSON with hash: exactly what is verified and published
    CONSTRAINT events_account_version UNIQUE (account_id, version) -- the optimistic-concurrency guard
);
CREATE SEQUENCE events_position_seq AS bigint;
CREATE INDEX events_transfer ON events (transfer_id) WHERE transfer_id IS NOT NULL;
CREATE INDEX events_occurred_at ON events (occurred_at);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledgerline: events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- The latest state per account, written in the same transaction as the account's events. Commands
-- lock this row (FOR UPDATE, in account-id order) instead of re-reading the stream.
CREATE TABLE account_state (
    account_id            uuid   PRIMARY KEY,
    version               bigint NOT NULL CHECK (version >= 1),
    status                text   NOT NULL CHECK (status IN ('open', 'closed')),
    owner                 text   NOT NULL,
    currency              text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance_minor         bigint NOT NULL,
    overdraft_limit_minor bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit_minor >= 0),
    opened_at_us          bigint NOT NULL,
    updated_at_us         bigint NOT NULL,
    head_hash             text   NOT NULL,
    CHECK (balance_minor >= -overdraft_limit_minor)
);

-- Events waiting to be published. The relay deletes a row only after Kafka acknowledged it.
CREATE TABLE outbox (
    global_position bigint      PRIMARY KEY REFERENCES events (global_position),
    account_id      uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per (scope, Idempotency-Key): the request's fingerprint and the response given.
-- status_code 0 marks a key whose command is still being decided in an open transaction.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status_code  int         NOT NULL,
    response     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

GRANT SELECT, INSERT ON events TO @APP_ROLE@;
GRANT USAGE ON SEQUENCE events_position_seq TO @APP_ROLE@;
GRANT SELECT, INSERT, UPDATE ON account_state TO @APP_ROLE@;
GRANT SELECT, INSERT, DELETE ON outbox TO @APP_ROLE@;
GRANT SELECT, INSERT, UPDATE ON idempotency_keys TO @APP_ROLE@;
