-- FerretDB v1 (the local stack's MongoDB-protocol server) turns {account_id: "..."} into
-- `_jsonb->'account_id' @> '"..."'`, which its own btree index on (_jsonb->'account_id') cannot
-- serve (FerretDB issues #4209, #4646): every statement page scanned the whole transactions
-- collection. A GIN index on that expression serves @>, so this adds one to every
-- transactions_g<N> table FerretDB creates. Local stack only: real MongoDB uses the compound
-- index the projector declares. Applied to FerretDB's database by stack.sh; idempotent.
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION ledgerline_transactions_gin(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
                    WHERE i.indrelid = tbl AND am.amname = 'gin') THEN
        EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> %L))', tbl, 'account_id');
    END IF;
END $$;

CREATE OR REPLACE FUNCTION ledgerline_transactions_gin_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
              WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
        IF (SELECT relname FROM pg_class WHERE oid = r.objid) LIKE 'transactions\_g%' THEN
            PERFORM ledgerline_transactions_gin(r.objid::regclass);
        END IF;
    END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS ledgerline_transactions_gin;
CREATE EVENT TRIGGER ledgerline_transactions_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION ledgerline_transactions_gin_on_create();

-- Tables made before this file existed.
SELECT ledgerline_transactions_gin(c.oid::regclass)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relname LIKE 'transactions\_g%';
