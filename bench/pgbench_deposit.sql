-- The baseline: what one deposit command does in PostgreSQL, as pgbench runs it, one
-- transaction (one commit, one fsync) per command and one round trip per statement:
-- claim the idempotency key, lock the account's state row, take a position, append the event
-- (an envelope of realistic size) and its outbox row, update the state, store the response.
\set n random(1, :naccounts)
BEGIN;
INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)
    VALUES ('pgbench', md5(random()::text || clock_timestamp()::text), md5('request'), 0, '') RETURNING key \gset
SELECT account_id, version, balance_minor FROM account_state
    WHERE account_id = (SELECT id FROM bench_accounts WHERE n = :n) FOR UPDATE \gset
SELECT nextval('events_position_seq') AS pos \gset
INSERT INTO events (global_position, account_id, version, event_id, type, schema_version, occurred_at, command_id,
                    transfer_id, hash, envelope)
    VALUES (:pos, ':account_id', :version + 1, gen_random_uuid(), 'MoneyDeposited', 2, now(), ':key', NULL,
            md5(random()::text) || md5(random()::text), repeat('x', 560));
INSERT INTO outbox (global_position, account_id) VALUES (:pos, ':account_id');
UPDATE account_state SET version = :version + 1, balance_minor = :balance_minor + 1, updated_at_us = (extract(epoch FROM now()) * 1000000)::bigint,
                         head_hash = md5('a') || md5('b')
    WHERE account_id = ':account_id';
UPDATE idempotency_keys SET status_code = 201, response = repeat('r', 160) WHERE scope = 'pgbench' AND key = ':key';
SELECT pg_notify('ledgerline_outbox', '');
COMMIT;
