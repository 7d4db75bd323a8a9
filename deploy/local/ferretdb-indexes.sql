-- Indexes FerretDB v1 can use, for every read-model collection (docs/read-side.md, "Indexes").
--
-- FerretDB v1 turns a top-level equality {f: "x"} into `_jsonb->$1 @> $2` and nothing else
-- (`$in`, ranges, sort and limit run in Go over whatever that returns). The btree indexes it
-- makes itself, on `_jsonb->'f'`, cannot serve `@>` (FerretDB issues #4209, #4646), so without
-- these every `_id` lookup scanned its table. A GIN index on the same expression serves `@>`.
--   - every collection table: GIN on _jsonb->'_id' (the read model reads only by _id ...)
--   - events_g<N>: GIN on _jsonb->'page' (... and the events of one account's open page)
-- fastupdate = off: with the pending list on, every search also scans the list of entries not
-- yet merged, up to 4 MB under a steady insert load (measured: 1.6 ms per lookup instead of 0.05).
--
-- The key is a bind parameter, so only custom plans can match these expression indexes: the
-- stack starts FerretDB with plan_cache_mode=force_custom_plan in its connection URL, and the
-- database carries the same default for anyone else connecting.
--
-- Local stack only: real MongoDB serves the same queries from _id and the {page: 1} index the
-- read model declares. Applied to FerretDB's database by `stack.sh up postgres`; idempotent.
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION ledgerline_gin(tbl regclass, field text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    JOIN pg_am am ON am.oid = c.relam
                   WHERE i.indrelid = tbl AND am.amname = 'gin'
                     AND pg_get_indexdef(i.indexrelid) LIKE '%' || quote_literal(field) || '%') THEN
        EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> %L)) WITH (fastupdate = off)', tbl, field);
    END IF;
END $$;

-- The indexes of one FerretDB collection table (its metadata tables are FerretDB's own).
CREATE OR REPLACE FUNCTION ledgerline_collection_indexes(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE name text := (SELECT relname FROM pg_class WHERE oid = tbl);
BEGIN
    IF name LIKE '\_ferretdb\_%' THEN
        RETURN;
    END IF;
    PERFORM ledgerline_gin(tbl, '_id');
    IF name LIKE 'events\_g%' THEN
        PERFORM ledgerline_gin(tbl, 'page');
    END IF;
END $$;

CREATE OR REPLACE FUNCTION ledgerline_indexes_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
              WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
        PERFORM ledgerline_collection_indexes(r.objid::regclass);
    END LOOP;
END $$;

-- The previous version of this file indexed transactions_g<N> only.
DROP EVENT TRIGGER IF EXISTS ledgerline_transactions_gin;
DROP FUNCTION IF EXISTS ledgerline_transactions_gin_on_create();
DROP FUNCTION IF EXISTS ledgerline_transactions_gin(regclass);

DROP EVENT TRIGGER IF EXISTS ledgerline_indexes;
CREATE EVENT TRIGGER ledgerline_indexes ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION ledgerline_indexes_on_create();

-- Tables made before this file existed (every schema FerretDB made: one per MongoDB database).
SELECT ledgerline_collection_indexes(c.oid::regclass)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
   AND n.nspname NOT LIKE 'pg\_%';

SELECT format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database()) \gexec

-- The planner prices `_jsonb -> 'f'` as one operator (cost 1), as if taking a field from a
-- document were free. A sealed page (32 statement items, ~8 KB) is stored out of line (TOAST),
-- so its table's own pages are few and reading the whole table looked cheaper than the GIN
-- index up to several hundred documents, and then detoasted every one: one page by _id took
-- 2.2 ms at 343 pages (a statement of 10,000 movements), 0.1 ms from the index. Priced as what
-- it is, every lookup stays on the indexes from a handful of documents on. This database is
-- FerretDB's alone, and pg_proc is per database: nothing else is affected.
ALTER FUNCTION jsonb_object_field(jsonb, text) COST 100;
