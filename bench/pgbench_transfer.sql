-- The baseline for transfers: what one transfer command does in PostgreSQL, as pgbench runs it,
-- one transaction per command and one round trip per statement: claim the idempotency key, lock
-- both accounts' state rows (in id order, as the store does, so transfers never deadlock), take
-- two positions, append both legs and their outbox rows, update both states, store the response.
\set a random(1, :naccounts)
\set b 1 + (:a - 1 + random(1, :naccounts - 1)) % :naccounts
BEGIN;
INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)
    VALUES ('pgbench', md5(random()::text || clock_timestamp()::text), md5('request'), 0, '') RETURNING key \gset
SELECT (SELECT id FROM bench_accounts WHERE n = :a) AS from_id, (SELECT id FROM bench_accounts WHERE n = :b) AS to_id \gset
SELECT account_id, version, balance_minor FROM account_state
    WHERE account_id IN (':from_id', ':to_id') ORDER BY account_id FOR UPDATE;
SELECT version AS from_version, balance_minor AS from_balance FROM account_state WHERE account_id = ':from_id' \gset
SELECT version AS to_version, balance_minor AS to_balance FROM account_state WHERE account_id = ':to_id' \gset
SELECT nextval('events_position_seq') AS pos1, nextval('events_position_seq') AS pos2, gen_random_uuid() AS tid \gset
INSERT INTO events (global_position, account_id, version, event_id, type, schema_version, occurred_at, command_id,
                    transfer_id, hash, envelope)
    VALUES (:pos1, ':from_id', :from_version + 1, gen_random_uuid(), 'TransferSent', 2, now(), ':key', ':tid',
            md5(random()::text) || md5(random()::text), repeat('x', 640)),
           (:pos2, ':to_id', :to_version + 1, gen_random_uuid(), 'TransferReceived', 2, now(), ':key', ':tid',
            md5(random()::text) || md5(random()::text), repeat('x', 640));
INSERT INTO outbox (global_position, account_id) VALUES (:pos1, ':from_id'), (:pos2, ':to_id');
UPDATE account_state SET version = :from_version + 1, balance_minor = :from_balance - 1, updated_at_us = (extract(epoch FROM now()) * 1000000)::bigint,
                         head_hash = md5('a') || md5('b')
    WHERE account_id = ':from_id';
UPDATE account_state SET version = :to_version + 1, balance_minor = :to_balance + 1, updated_at_us = (extract(epoch FROM now()) * 1000000)::bigint,
                         head_hash = md5('a') || md5('b')
    WHERE account_id = ':to_id';
UPDATE idempotency_keys SET status_code = 201, response = repeat('r', 320) WHERE scope = 'pgbench' AND key = ':key';
SELECT pg_notify('ledgerline_outbox', '');
COMMIT;
