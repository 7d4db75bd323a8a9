#!/usr/bin/env python3
"""What must hold of a state the command service reads back from the event store: a damaged
account_state or holds row (one the database's own constraints let through) is a corrupt store.
The command on it is answered 500 `internal`, nothing is appended or changed, its
Idempotency-Key is not kept (the retry after the repair runs), the damage is logged with the
row's id, and every other command goes on. Works in a ledger of its own (it tampers)."""
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import (LOG_DIR, Service, check, drop_ledger, eq, free_port, ledger_env, own_ledger,  # noqa: E402
                    post, run, sql, wait_until)

DB = "ledgerline_store_invariants"
ENV = ledger_env(DB, "store-invariants")
CMD = free_port()
INTERNAL = "https://ledgerline.dev/problems/internal"


def q(query):
    return sql(query, db=DB)


def open_funded(owner, amount=100):
    s, _, b = post("/v1/accounts", {"owner": owner, "currency": "EUR"}, port=CMD)
    eq(s, 201, f"open: {b}")
    acct = b["account_id"]
    s, _, b = post(f"/v1/accounts/{acct}/deposits", {"amount_minor": amount, "currency": "EUR"}, port=CMD)
    eq(s, 201, f"deposit: {b}")
    return acct


def snapshot(acct):
    """The account's row, its events and its holds: what a refused command must leave alone."""
    return (q(f"SELECT * FROM account_state WHERE account_id = '{acct}'"),
            q(f"SELECT count(*) FROM events WHERE account_id = '{acct}'"),
            q(f"SELECT * FROM holds WHERE account_id = '{acct}' ORDER BY hold_id"))


def refused_as_corrupt(status, body, what):
    eq(status, 500, f"{what}: {body}")
    eq(body.get("type"), INTERNAL, f"{what}: problem type")
    check("damaged" in body.get("detail", ""), f"{what}: detail {body}")


LOG = os.path.join(LOG_DIR, "command.log")


def logged_since(offset, acct):
    """The service's lines about acct's damaged row written past offset of its log."""
    with open(LOG, errors="replace") as f:
        f.seek(offset)
        return [json.loads(ln) for ln in f.read().splitlines() if acct in ln and "breaks an invariant" in ln]


def key_kept(key):
    return q(f"SELECT count(*) FROM idempotency_keys WHERE key = '{key}'") != [["0"]]


# Damage the database's constraints let through, each breaking one invariant of a stored account.
DAMAGE = [
    ("head_hash = 'damaged'", "head_hash"),
    ("owner = ''", "owner"),
    ("status = 'closed'", "closed account holds money"),
    ("updated_at_us = opened_at_us - 1", "updated_at"),
    ("overdraft_limit_minor = 2000000000000000", "overdraft_limit"),
]


def test_a_damaged_account_row_fails_its_command_alone_and_changes_nothing():
    for damage, named in DAMAGE:
        a, b = open_funded("inv-a"), open_funded("inv-b")
        good = q(f"SELECT head_hash, owner, status, updated_at_us, overdraft_limit_minor FROM account_state"
                 f" WHERE account_id = '{a}'")[0]
        q(f"UPDATE account_state SET {damage} WHERE account_id = '{a}'")
        before_a, before_b = snapshot(a), snapshot(b)
        log_from = os.path.getsize(LOG)
        key = str(uuid.uuid4())
        s, _, body = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 7, "currency": "EUR"}, key=key, port=CMD)
        refused_as_corrupt(s, body, f"deposit on {damage}")
        s, _, body = post("/v1/transfers", {"from_account_id": b, "to_account_id": a, "amount_minor": 5,
                                            "currency": "EUR"}, port=CMD)
        refused_as_corrupt(s, body, f"transfer to {damage}")
        eq((snapshot(a), snapshot(b)), (before_a, before_b), f"{damage}: nothing changed")
        check(not key_kept(key), f"{damage}: the key is not kept")
        s, _, body = post(f"/v1/accounts/{b}/deposits", {"amount_minor": 1, "currency": "EUR"}, port=CMD)
        eq(s, 201, f"{damage}: another account's command goes on: {body}")
        lines = []
        wait_until(lambda: lines.extend(logged_since(log_from, a)) or lines, 5, f"{damage}: logged with the account id")
        eq((lines[-1]["level"], lines[-1]["table"], lines[-1]["account_id"]), ("error", "account_state", a))
        check(named in lines[-1]["detail"], f"{damage}: the log names the invariant: {lines[-1]}")
        # Repaired, the same key runs: the 500 was never stored under it.
        q(f"UPDATE account_state SET head_hash = '{good[0]}', owner = '{good[1]}', status = '{good[2]}',"
          f" updated_at_us = {good[3]}, overdraft_limit_minor = {good[4]} WHERE account_id = '{a}'")
        s, _, body = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 7, "currency": "EUR"}, key=key, port=CMD)
        eq((s, body.get("balance_minor"), body.get("version")), (201, 107, 3), f"{damage}: the retry after repair")


def test_a_damaged_hold_row_fails_its_settlements_alone():
    a = open_funded("inv-h")
    s, _, body = post(f"/v1/accounts/{a}/holds", {"amount_minor": 10, "currency": "EUR"}, port=CMD)
    eq(s, 201, f"place: {body}")
    hold = body["hold_id"]
    q(f"UPDATE holds SET captured_minor = 3 WHERE hold_id = '{hold}'")  # an open hold never has a capture
    before = snapshot(a)
    s, _, body = post(f"/v1/holds/{hold}/capture", {}, port=CMD)
    refused_as_corrupt(s, body, "capture of the damaged hold")
    s, _, body = post(f"/v1/holds/{hold}/release", {}, port=CMD)
    refused_as_corrupt(s, body, "release of the damaged hold")
    eq(snapshot(a), before, "nothing changed")
    s, _, body = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 1, "currency": "EUR"}, port=CMD)
    eq(s, 201, f"the account itself is sound: {body}")
    q(f"UPDATE holds SET captured_minor = 0 WHERE hold_id = '{hold}'")
    s, _, body = post(f"/v1/holds/{hold}/release", {}, port=CMD)
    eq((s, body.get("released_minor")), (200, 10), f"release after repair: {body}")


def test_a_damaged_stored_answer_is_not_replayed():
    a = open_funded("inv-k")
    key = str(uuid.uuid4())
    s, _, _ = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 2, "currency": "EUR"}, key=key, port=CMD)
    eq(s, 201)
    q(f"UPDATE idempotency_keys SET status_code = 42 WHERE key = '{key}'")
    s, _, body = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 2, "currency": "EUR"}, key=key, port=CMD)
    refused_as_corrupt(s, body, "replay of a damaged answer")
    eq(q(f"SELECT count(*) FROM events WHERE account_id = '{a}'"), [["3"]], "not run again either")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    code = 1
    try:
        with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=ENV):
            code = run(dict(globals()), "store_invariants")
    finally:
        drop_ledger(DB)
    sys.exit(code)
