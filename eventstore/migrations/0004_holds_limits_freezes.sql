-- 0004: holds, credit limits and freezes (#33). The account state cache carries what open holds
-- reserve (held_minor) and whether the account is frozen; the floor applies to what is available
-- (balance - held), as the domain's invariant says. Each hold is a row of `holds`, written in the
-- same transaction as its events (services/ll_store.c): a capture or release needs the hold
-- itself, and the account's row lock serializes every change to its holds. Builds before this
-- one refuse the schema (ll_migrate_check: newer than they know), so none writes an account
-- without its holds.

ALTER TABLE account_state
    ADD COLUMN held_minor bigint NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    ADD COLUMN frozen boolean NOT NULL DEFAULT false;
ALTER TABLE account_state DROP CONSTRAINT account_state_check; -- 0001's balance_minor >= -limit
ALTER TABLE account_state
    ADD CONSTRAINT account_state_available_check CHECK (balance_minor - held_minor >= -overdraft_limit_minor);

CREATE TABLE holds (
    hold_id        uuid        PRIMARY KEY,
    account_id     uuid        NOT NULL, -- never changes: commands find the account to lock here
    status         text        NOT NULL CHECK (status IN ('open', 'captured', 'released', 'expired')),
    currency       text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor   bigint      NOT NULL CHECK (amount_minor >= 1),
    captured_minor bigint      NOT NULL DEFAULT 0 CHECK (captured_minor >= 0 AND captured_minor <= amount_minor),
    reference      text        NOT NULL,
    placed_at      timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    settled_at     timestamptz,           -- NULL while open
    placed_version bigint      NOT NULL CHECK (placed_version >= 1),
    CHECK ((status = 'open') = (settled_at IS NULL))
);
-- The expiry sweep's lookup: only open holds, oldest expiry first; settled holds cost it nothing.
CREATE INDEX holds_open_expiry ON holds (expires_at) WHERE status = 'open';

GRANT SELECT, INSERT, UPDATE ON holds TO @APP_ROLE@;
