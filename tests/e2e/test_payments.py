#!/usr/bin/env python3
"""End-to-end: multi-leg payments (issue #33) over HTTP against the event store. A payment and
its fee land together or not at all: every leg's versions in the answer, every leg's events with
the payment_id, nothing applied when a leg is refused (and the refusal names the leg); 16 legs at
most; an account in several legs; what a customer may debit; Idempotency-Key replays.

A ledger of its own with its own ledgerline-command (tests/e2e/ll_depth.py)."""
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import ll_depth as d  # noqa: E402
from ll_depth import check, eq, ok, problem  # noqa: E402

d.setup("payments")
ALICE = d.customer("alice")


def leg(a, b, amount, currency="EUR"):
    return {"from_account_id": a, "to_account_id": b, "amount_minor": amount, "currency": currency}


def pay(legs, auth=d.OPERATOR, key=None, headers=None, **extra):
    return d.post("/v1/payments", dict({"legs": legs}, **extra), key=key, auth=auth, headers=headers)


def payment_events(payment_id):
    return d.sql("SELECT account_id, version, type, transfer_id FROM events"
                 f" WHERE envelope::jsonb->'data'->>'payment_id' = '{payment_id}' ORDER BY global_position")


def test_a_payment_with_its_fee_lands_together():
    payer, merchant, bank = d.funded(10000), d.open_account("merchant"), d.open_account("bank")
    s, h, b = pay([leg(payer, merchant, 5000), leg(payer, bank, 25), leg(merchant, bank, 50)],
                  reference="order 42")
    eq(s, 201, str(b))
    uuid.UUID(b["payment_id"])
    eq(len(b["legs"]), 3)
    eq([(x["from"], x["to"]) for x in b["legs"]],
       [({"account_id": payer, "version": 3}, {"account_id": merchant, "version": 2}),
        ({"account_id": payer, "version": 4}, {"account_id": bank, "version": 2}),
        ({"account_id": merchant, "version": 3}, {"account_id": bank, "version": 3})])
    eq(len({x["transfer_id"] for x in b["legs"]}), 3, "one transfer id per leg")
    eq(h["etag"], '"4"', "the first source's version after the payment")
    eq((d.state(payer)[:2], d.state(merchant)[:2], d.state(bank)[:2]), ((4, 4975), (3, 4950), (3, 75)))
    rows = payment_events(b["payment_id"])
    eq([(r[0], r[2]) for r in rows],
       [(payer, "TransferSent"), (merchant, "TransferReceived"), (payer, "TransferSent"), (bank, "TransferReceived"),
        (merchant, "TransferSent"), (bank, "TransferReceived")])
    eq([r[3] for r in rows], [x["transfer_id"] for x in b["legs"] for _ in (0, 1)], "legs carry their transfer id")
    ref = d.sql(f"SELECT DISTINCT envelope::jsonb->'data'->>'reference' FROM events WHERE account_id = '{bank}'"
                " AND type = 'TransferReceived'")
    eq(ref, [["order 42"]])


def test_a_refused_leg_applies_nothing_and_is_named():
    payer, merchant, bank = d.funded(1000), d.open_account("merchant"), d.open_account("bank")
    usd = d.open_account("bank", "USD")
    before = d.event_count()
    cases = [
        ([leg(payer, merchant, 900), leg(payer, bank, 200)], 422, "insufficient-funds", 1),
        ([leg(payer, merchant, 10), leg(payer, usd, 1)], 422, "currency-mismatch", 1),
        ([leg(payer, merchant, 10), leg(merchant, bank, 5), leg(payer, str(uuid.uuid4()), 1)], 404,
         "account-not-found", 2),
        ([leg(payer, merchant, 10), leg(bank, bank, 1)], 422, "same-account", 1),
        ([leg(str(uuid.uuid4()), merchant, 10)], 404, "account-not-found", 0),
    ]
    for legs, status, slug, at in cases:
        body = problem(pay(legs), status, slug)
        eq(body.get("leg"), at, f"{slug}: the leg named")
        check(body["detail"].startswith(f"leg {at}:"), f"the detail names the leg: {body['detail']}")
    eq(d.event_count(), before, "nothing applied")
    eq((d.state(payer)[:2], d.state(merchant)[:2], d.state(bank)[:2]), ((2, 1000), (1, 0), (1, 0)))


def test_sixteen_legs_at_most():
    payer, payee = d.funded(100000), d.open_account("payee")
    b = ok(pay([leg(payer, payee, i + 1) for i in range(16)]))
    eq(len(b["legs"]), 16)
    eq(b["legs"][-1]["from"]["version"], 2 + 16)
    eq(d.state(payer)[:2], (18, 100000 - sum(range(1, 17))))
    problem(pay([leg(payer, payee, 1)] * 17), 400, "invalid-request")
    problem(pay([]), 400, "invalid-request")
    problem(pay([leg(payer, payee, 0)]), 400, "invalid-request")
    problem(pay([dict(leg(payer, payee, 1), extra=1)]), 400, "invalid-request")
    eq(d.state(payer)[0], 18, "nothing more applied")


def test_an_account_in_several_legs_chains_its_events():
    a, b, c = d.funded(1000), d.funded(0, "bob"), d.open_account("carol")
    body = ok(pay([leg(a, b, 300), leg(b, c, 200), leg(a, c, 100), leg(c, a, 50)]))
    eq([x["from"]["version"] for x in body["legs"]], [3, 3, 4, 4])
    eq([x["to"]["version"] for x in body["legs"]], [2, 2, 3, 5])
    eq((d.state(a)[:2], d.state(b)[:2], d.state(c)[:2]), ((5, 650), (3, 100), (4, 250)))
    # Each account's chain links through the payment: prev_hash is the event before's hash.
    for acct in (a, b, c):
        rows = d.sql("SELECT envelope::jsonb->>'prev_hash', hash FROM events"
                     f" WHERE account_id = '{acct}' ORDER BY version")
        for i in range(1, len(rows)):
            eq(rows[i][0], rows[i - 1][1], f"{acct} version {i + 1} links to {i}")
    # The money a leg brings in may be spent by a later leg of the same payment, not before.
    problem(pay([leg(b, a, 150), leg(a, b, 150)]), 422, "insufficient-funds")
    ok(pay([leg(a, b, 150), leg(b, a, 250)]))


def test_a_customer_debits_only_its_own_accounts():
    mine, other = d.funded(1000, "alice"), d.funded(1000, "bob")
    before = d.event_count()
    body = problem(pay([leg(mine, other, 10), leg(other, mine, 500)], auth=ALICE), 404, "account-not-found")
    eq(body["leg"], 1)
    eq(d.event_count(), before)
    # Paying someone else is fine, and their version is not disclosed.
    body = ok(pay([leg(mine, other, 10)], auth=ALICE))
    eq(body["legs"][0]["to"], {"account_id": other})
    eq(body["legs"][0]["from"]["account_id"], mine)
    mine2 = d.funded(0, "alice")
    body = ok(pay([leg(mine, mine2, 5)], auth=ALICE))
    eq(body["legs"][0]["to"], {"account_id": mine2, "version": 2}, "her own account's version she may see")


def test_a_customer_hears_its_own_reasons_before_a_hidden_destination():
    mine = d.funded(100, "alice")
    usd = d.open_account("bob", "USD")
    bob = d.funded(0, "bob")
    nowhere = str(uuid.uuid4())
    # A destination she cannot see that cannot take the money: one answer, naming the leg.
    for dest in (usd, nowhere):
        body = problem(pay([leg(mine, bob, 1), leg(mine, dest, 1)], auth=ALICE), 422, "transfer-rejected")
        eq(body["leg"], 1)
    # Her own side fails on a later leg: that is what she hears, not the earlier hidden refusal,
    # so a payment cannot probe a destination without paying into it.
    body = problem(pay([leg(mine, nowhere, 1), leg(mine, bob, 1000)], auth=ALICE), 422, "insufficient-funds")
    eq(body["leg"], 1)
    body = problem(pay([leg(mine, bob, 1), leg(mine, nowhere, 1000)], auth=ALICE), 422, "insufficient-funds")
    eq(body["leg"], 1)
    eq(d.state(mine)[:2], (2, 100), "nothing applied")


def test_same_key_replays_the_payment():
    a, b = d.funded(1000), d.open_account("bob")
    key = str(uuid.uuid4())
    s1, h1, b1 = pay([leg(a, b, 10), leg(a, b, 20)], key=key)
    s2, h2, b2 = pay([leg(a, b, 10), leg(a, b, 20)], key=key)
    eq((s1, s2, b2, h2.get("idempotent-replayed"), h2.get("etag")), (201, 201, b1, "true", h1["etag"]))
    eq(d.state(a)[:2], (4, 970), "applied once")
    problem(pay([leg(a, b, 10)], key=key), 422, "idempotency-key-reused")
    key = str(uuid.uuid4())
    problem(pay([leg(a, b, 10**6)], key=key), 422, "insufficient-funds")
    s, h, body = pay([leg(a, b, 10**6)], key=key)
    eq((s, h.get("idempotent-replayed"), body.get("leg")), (422, "true", 0), "a refusal replays too")


def test_if_match_is_the_first_sources_version():
    a, b = d.funded(1000), d.open_account("bob")
    problem(pay([leg(a, b, 1)], headers={"if-match": '"1"'}), 412, "version-mismatch")
    s, h, _ = pay([leg(a, b, 1), leg(a, b, 1)], headers={"if-match": '"2"'})
    eq((s, h["etag"]), (201, '"4"'))


if __name__ == "__main__":
    sys.exit(d.main(dict(globals()), "payments"))
