#!/usr/bin/env python3
"""End-to-end: credit limits and freezes (issue #33) over HTTP against the event store. A limit
lets the balance go below zero down to minus the limit, and cannot be lowered below what is used;
a frozen account refuses every debit (withdrawals, transfers and payments out, new holds,
captures, closing) with account-frozen while credits still land; both are the operators' (403
for customers, auditors).

A ledger of its own with its own ledgerline-command (tests/e2e/ll_depth.py)."""
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import ll_depth as d  # noqa: E402
from ll_depth import check, eq, ok, problem  # noqa: E402

d.setup("limits-freeze")
ALICE = d.customer("alice")
AUDITOR = d.token("audit", "auditor")


def set_limit(acct, limit, auth=d.OPERATOR, key=None, headers=None):
    return d.put(f"/v1/accounts/{acct}/credit-limit", {"overdraft_limit_minor": limit}, key=key, auth=auth,
                 headers=headers)


def freeze(acct, reason="case 17: court order", auth=d.OPERATOR):
    return d.post(f"/v1/accounts/{acct}/freeze", {"reason": reason}, auth=auth)


def unfreeze(acct, auth=d.OPERATOR):
    return d.post(f"/v1/accounts/{acct}/unfreeze", {}, auth=auth)


def place(acct, amount, **extra):
    return d.post(f"/v1/accounts/{acct}/holds", dict({"amount_minor": amount, "currency": "EUR"}, **extra))


def test_a_limit_lets_the_balance_go_negative():
    a = d.open_account()
    s, h, b = set_limit(a, 500)
    eq(s, 200, str(b))
    eq({k: b[k] for k in ("account_id", "version", "overdraft_limit_minor", "frozen", "balance_minor", "held_minor",
                           "available_minor")},
       {"account_id": a, "version": 2, "overdraft_limit_minor": 500, "frozen": False, "balance_minor": 0,
        "held_minor": 0, "available_minor": 0})
    eq(h["etag"], '"2"')
    eq(d.events(a)[-1], "CreditLimitSet")
    eq(ok(d.withdraw(a, 300))["balance_minor"], -300)
    problem(d.withdraw(a, 201), 422, "insufficient-funds")
    eq(ok(d.withdraw(a, 200))["balance_minor"], -500)
    eq(d.state(a), (4, -500, 0, 500, False))


def test_a_limit_cannot_be_lowered_below_what_is_used():
    a = d.open_account()
    ok(set_limit(a, 1000), 200)
    ok(d.withdraw(a, 400))
    ok(place(a, 300))  # available -700
    problem(set_limit(a, 699), 422, "credit-limit-in-use")
    problem(set_limit(a, 0), 422, "credit-limit-in-use")
    eq(ok(set_limit(a, 700), 200)["available_minor"], -700)
    problem(place(a, 1), 422, "insufficient-funds")
    ok(d.deposit(a, 700))
    eq(ok(set_limit(a, 0), 200)["overdraft_limit_minor"], 0)
    eq(d.state(a)[1:4], (300, 300, 0))


def test_closing_ends_the_credit_line():
    a = d.open_account()
    ok(set_limit(a, 100), 200)
    ok(d.post(f"/v1/accounts/{a}/close", {}), 200)
    eq(d.state(a)[3], 0, "limit reset")
    problem(set_limit(a, 100), 422, "account-closed")


def test_limit_requests_are_checked():
    a = d.open_account()
    problem(set_limit(a, -1), 400, "invalid-request")
    problem(set_limit(a, 10**15 + 1), 400, "invalid-request")
    problem(d.put(f"/v1/accounts/{a}/credit-limit", {}), 400, "invalid-request")
    problem(d.put(f"/v1/accounts/{a}/credit-limit", {"overdraft_limit_minor": "5"}), 400, "invalid-request")
    s, h, _ = d.post(f"/v1/accounts/{a}/credit-limit", {"overdraft_limit_minor": 5})
    eq((s, h.get("allow")), (405, "PUT"))
    s, h, _ = d.put(f"/v1/accounts/{a}/deposits", {"amount_minor": 5, "currency": "EUR"})
    eq((s, h.get("allow")), (405, "POST"))
    problem(d.request("PUT", f"/v1/accounts/{a}/credit-limit", body={"overdraft_limit_minor": 5}), 400,
            "idempotency-key-required")
    problem(set_limit(str(uuid.uuid4()), 5), 404, "account-not-found")
    problem(set_limit(a, 5, headers={"if-match": '"7"'}), 412, "version-mismatch")
    eq(d.state(a)[0], 1, "nothing applied")


def test_the_same_limit_key_replays():
    a = d.open_account()
    key = str(uuid.uuid4())
    s1, h1, b1 = set_limit(a, 50, key=key)
    s2, h2, b2 = set_limit(a, 50, key=key)
    eq((s1, s2, b2, h2.get("idempotent-replayed"), h2.get("etag")), (200, 200, b1, "true", h1["etag"]))
    problem(set_limit(a, 60, key=key), 422, "idempotency-key-reused")
    eq(d.state(a)[0], 2)


def test_limits_and_freezes_are_the_operators():
    a = d.funded(100, "alice")
    for resp in (set_limit(a, 100, auth=ALICE), freeze(a, auth=ALICE), unfreeze(a, auth=ALICE),
                 set_limit(a, 100, auth=AUDITOR), freeze(a, auth=AUDITOR)):
        problem(resp, 403, "forbidden")
    # Even on an account that does not exist: the answer does not depend on the account.
    problem(freeze(str(uuid.uuid4()), auth=ALICE), 403, "forbidden")
    eq(d.state(a), (2, 100, 0, 0, False))


def test_a_frozen_account_refuses_every_debit_and_takes_credits():
    a, other = d.funded(1000), d.funded(1000, "bob")
    hold = ok(place(a, 100))["hold_id"]
    other_hold = ok(place(a, 50))["hold_id"]
    s, h, b = freeze(a)
    eq(s, 200, str(b))
    eq((b["frozen"], b["version"], b["balance_minor"], b["held_minor"], b["available_minor"]),
       (True, 5, 1000, 150, 850))
    eq(d.events(a)[-1], "AccountFrozen")
    reason = d.sql(f"SELECT envelope::jsonb->'data'->>'reason' FROM events WHERE account_id = '{a}'"
                   " AND type = 'AccountFrozen'")
    eq(reason, [["case 17: court order"]])
    problem(freeze(a), 409, "already-frozen")
    before = d.state(a)
    problem(d.withdraw(a, 1), 422, "account-frozen")
    problem(d.transfer(a, other, 1), 422, "account-frozen")
    problem(place(a, 1), 422, "account-frozen")
    problem(d.post(f"/v1/holds/{hold}/capture", {}), 422, "account-frozen")
    problem(d.post(f"/v1/holds/{hold}/capture", {"to_account_id": other}), 422, "account-frozen")
    body = problem(d.post("/v1/payments", {"legs": [{"from_account_id": other, "to_account_id": a, "amount_minor": 1,
                                                       "currency": "EUR"},
                                                      {"from_account_id": a, "to_account_id": other,
                                                       "amount_minor": 1, "currency": "EUR"}]}),
                   422, "account-frozen")
    eq(body["leg"], 1)
    eq(d.state(a), before, "no debit applied")
    # Credits land: a deposit, a transfer in, a payment leg in, a capture of another's hold into it.
    ok(d.deposit(a, 10))
    ok(d.transfer(other, a, 20))
    ok(d.post("/v1/payments", {"legs": [{"from_account_id": other, "to_account_id": a, "amount_minor": 30,
                                         "currency": "EUR"}]}))
    their_hold = ok(place(other, 40))["hold_id"]
    ok(d.post(f"/v1/holds/{their_hold}/capture", {"to_account_id": a}))
    # A release frees held money on a frozen account (it moves nothing out).
    ok(d.post(f"/v1/holds/{other_hold}/release", {}), 200)
    eq(d.state(a)[1:5], (1100, 100, 0, True))
    # Closing is refused while frozen, whatever the account holds.
    problem(d.post(f"/v1/accounts/{a}/close", {}), 422, "account-frozen")
    s, _, b = unfreeze(a)
    eq((s, b["frozen"]), (200, False))
    eq(d.events(a)[-1], "AccountUnfrozen")
    problem(unfreeze(a), 409, "not-frozen")
    ok(d.post(f"/v1/holds/{hold}/capture", {}))
    ok(d.withdraw(a, 1000))
    eq(d.state(a)[1:5], (0, 0, 0, False))


def test_a_freeze_needs_a_reason():
    a = d.open_account()
    problem(d.post(f"/v1/accounts/{a}/freeze", {}), 400, "invalid-request")
    problem(freeze(a, reason=""), 400, "invalid-request")
    problem(freeze(a, reason="x" * 141), 400, "invalid-request")
    problem(d.post(f"/v1/accounts/{a}/unfreeze", {"reason": "x"}), 400, "invalid-request")
    eq(d.state(a)[0], 1)


def test_a_hold_on_a_frozen_account_still_expires():
    a = d.funded(100)
    hold = ok(place(a, 60, expires_in_seconds=1))["hold_id"]
    ok(freeze(a), 200)
    deadline = time.time() + 5
    while time.time() < deadline and d.sql(f"SELECT status FROM holds WHERE hold_id = '{hold}'") == [["open"]]:
        time.sleep(0.1)
    eq(d.sql(f"SELECT status FROM holds WHERE hold_id = '{hold}'"), [["expired"]])
    eq(d.state(a)[1:5], (100, 0, 0, True))
    check(d.events(a)[-2:] == ["AccountFrozen", "HoldExpired"], f"events: {d.events(a)}")


if __name__ == "__main__":
    sys.exit(d.main(dict(globals()), "limits_freeze"))
