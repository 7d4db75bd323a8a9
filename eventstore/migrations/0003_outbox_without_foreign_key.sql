-- 0003: the outbox's foreign key to events goes. Every outbox row is inserted by the statement
-- that inserts its event, from that insert's RETURNING (services/ll_store.c), and events are
-- never deleted (0001's trigger), so the key could not fail; checking it cost a lookup and a row
-- lock (a WAL record) on the event just written, for every event: about 15-20 us of the event
-- store's CPU per deposit, 5 % of the end-to-end rate. An outbox row without its event would
-- never be published (the relay joins them) and shows in the relay's outbox depth and age.

ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_global_position_fkey;
