-- 0002: idempotency keys are kept for a retention window, then pruned (idempotency_retention_hours,
-- docs/write-side.md); a command whose precondition failed (412) releases its key at once. The
-- services' role may delete keys, and pruning by age is served by an index.

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
GRANT DELETE ON idempotency_keys TO @APP_ROLE@;
