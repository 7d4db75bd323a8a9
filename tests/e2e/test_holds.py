#!/usr/bin/env python3
"""End-to-end: holds (issue #33) over HTTP against the event store. Place, capture (part, all, to
another account), release, expiry by the system; what is refused (twice, after release, past
expiry, beyond what is available, someone else's hold) and with which status; Idempotency-Key
replays; a capture and a release racing from threads: exactly one wins. Figures are checked in
the responses and in the event store (account_state, holds, events).

A ledger of its own with its own ledgerline-command (tests/e2e/ll_depth.py)."""
import concurrent.futures as cf
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import ll_depth as d  # noqa: E402
from ll_depth import check, eq, ok, problem  # noqa: E402

d.setup("holds")
ALICE, BOB = d.customer("alice"), d.customer("bob")


def place(acct, amount, currency="EUR", auth=d.OPERATOR, key=None, **extra):
    return d.post(f"/v1/accounts/{acct}/holds", dict({"amount_minor": amount, "currency": currency}, **extra),
                  key=key, auth=auth)


def capture(hold, body=None, auth=d.OPERATOR, key=None, headers=None):
    return d.post(f"/v1/holds/{hold}/capture", body or {}, key=key, auth=auth, headers=headers)


def release(hold, auth=d.OPERATOR, key=None):
    return d.post(f"/v1/holds/{hold}/release", {}, key=key, auth=auth)


def hold_row(hold):
    rows = d.sql(f"SELECT status, amount_minor, captured_minor, settled_at IS NULL FROM holds WHERE hold_id = '{hold}'")
    return rows[0] if rows else None


def test_place_reserves_without_moving_the_balance():
    a = d.funded(1000)
    s, h, b = place(a, 300, reference="card auth 1", expires_in_seconds=3600)
    eq(s, 201, str(b))
    uuid.UUID(b["hold_id"])
    eq({k: b[k] for k in ("account_id", "version", "amount_minor", "currency", "balance_minor", "held_minor",
                           "available_minor")},
       {"account_id": a, "version": 3, "amount_minor": 300, "currency": "EUR", "balance_minor": 1000,
        "held_minor": 300, "available_minor": 700})
    eq(h["etag"], '"3"')
    expires = time.mktime(time.strptime(b["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    check(abs(expires - (time.time() + 3600)) < 60, f"expires_at about an hour away: {b['expires_at']}")
    eq(d.state(a), (3, 1000, 300, 0, False))
    eq(hold_row(b["hold_id"]), ["open", "300", "0", "t"])
    eq(d.events(a)[-1], "HoldPlaced")
    # The default expiry is 7 days.
    b = ok(place(a, 1))
    expires = time.mktime(time.strptime(b["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    check(abs(expires - (time.time() + 7 * 86400)) < 60, f"7 days by default: {b['expires_at']}")


def test_capture_part_then_the_rest_is_released():
    a = d.funded(1000)
    hold = ok(place(a, 300))["hold_id"]
    s, h, b = capture(hold, {"amount_minor": 120})
    eq(s, 201, str(b))
    eq({k: b[k] for k in ("hold_id", "account_id", "version", "captured_minor", "released_minor", "balance_minor",
                           "held_minor", "available_minor")},
       {"hold_id": hold, "account_id": a, "version": 4, "captured_minor": 120, "released_minor": 180,
        "balance_minor": 880, "held_minor": 0, "available_minor": 880})
    check("transfer_id" not in b and "to" not in b, "a capture without destination is a withdrawal")
    eq(h["etag"], '"4"')
    eq(d.state(a), (4, 880, 0, 0, False))
    eq(hold_row(hold), ["captured", "300", "120", "f"])
    eq(d.events(a), ["AccountOpened", "MoneyDeposited", "HoldPlaced", "HoldCaptured"])


def test_capture_all_by_default():
    a = d.funded(500)
    hold = ok(place(a, 500))["hold_id"]
    problem(d.withdraw(a, 1), 422, "insufficient-funds")  # all of it is held
    b = ok(capture(hold))
    eq((b["captured_minor"], b["released_minor"], b["balance_minor"], b["available_minor"]), (500, 0, 0, 0))


def test_capture_to_another_account_is_a_transfer():
    a, m = d.funded(1000), d.open_account("merchant")
    hold = ok(place(a, 400))["hold_id"]
    b = ok(capture(hold, {"amount_minor": 250, "to_account_id": m}))
    uuid.UUID(b["transfer_id"])
    eq((b["captured_minor"], b["released_minor"], b["balance_minor"], b["held_minor"]), (250, 150, 750, 0))
    eq(b["to"], {"account_id": m, "version": 2})
    eq(d.state(m)[:2], (2, 250))
    rows = d.sql(f"SELECT account_id, type FROM events WHERE transfer_id = '{b['transfer_id']}' ORDER BY type")
    eq(rows, [[a, "HoldCaptured"], [m, "TransferReceived"]])


def test_capture_to_an_unusable_account_changes_nothing():
    a, usd = d.funded(1000), d.open_account("merchant", "USD")
    hold = ok(place(a, 400))["hold_id"]
    problem(capture(hold, {"to_account_id": usd}), 422, "currency-mismatch")
    problem(capture(hold, {"to_account_id": str(uuid.uuid4())}), 404, "account-not-found")
    problem(capture(hold, {"to_account_id": a}), 422, "same-account")
    problem(capture(hold, {"amount_minor": 401}), 422, "capture-exceeds-hold")
    eq(hold_row(hold)[0], "open")
    eq(d.state(a), (3, 1000, 400, 0, False))


def test_release_returns_the_whole_hold():
    a = d.funded(1000)
    hold = ok(place(a, 300))["hold_id"]
    s, h, b = release(hold)
    eq(s, 200, str(b))
    eq({k: b[k] for k in ("hold_id", "account_id", "version", "released_minor", "balance_minor", "held_minor",
                           "available_minor")},
       {"hold_id": hold, "account_id": a, "version": 4, "released_minor": 300, "balance_minor": 1000,
        "held_minor": 0, "available_minor": 1000})
    eq(h["etag"], '"4"')
    eq(hold_row(hold), ["released", "300", "0", "f"])


def test_settling_twice_is_refused_409():
    a = d.funded(1000)
    hold = ok(place(a, 300))["hold_id"]
    ok(release(hold), 200)
    problem(capture(hold), 409, "hold-not-open")
    problem(release(hold), 409, "hold-not-open")
    other = ok(place(a, 100))["hold_id"]
    ok(capture(other, {"amount_minor": 10}))
    problem(capture(other, {"amount_minor": 10}), 409, "hold-not-open")
    problem(release(other), 409, "hold-not-open")
    eq(d.state(a), (6, 990, 0, 0, False))


def test_same_key_replays_the_first_answer():
    a = d.funded(1000)
    key = str(uuid.uuid4())
    s1, h1, b1 = place(a, 100, key=key)
    s2, h2, b2 = place(a, 100, key=key)
    eq((s1, s2, b2, h2.get("idempotent-replayed"), h2.get("etag")), (201, 201, b1, "true", h1["etag"]))
    eq(d.state(a)[2], 100, "placed once")
    hold = b1["hold_id"]
    key = str(uuid.uuid4())
    s1, h1, b1 = capture(hold, {"amount_minor": 30}, key=key)
    s2, h2, b2 = capture(hold, {"amount_minor": 30}, key=key)
    eq((s1, s2, b2, h2.get("idempotent-replayed"), h2.get("etag")), (201, 201, b1, "true", h1["etag"]))
    problem(capture(hold, {"amount_minor": 31}, key=key), 422, "idempotency-key-reused")
    key = str(uuid.uuid4())
    problem(release(hold, key=key), 409, "hold-not-open")
    s, h, _ = release(hold, key=key)
    eq((s, h.get("idempotent-replayed")), (409, "true"))
    eq(d.state(a), (4, 970, 0, 0, False))


def test_if_match_is_the_holds_account_version():
    a = d.funded(1000)
    hold = ok(place(a, 100))["hold_id"]  # version 3
    problem(capture(hold, headers={"if-match": '"2"'}), 412, "version-mismatch")
    s, h, _ = capture(hold, headers={"if-match": '"3"'})
    eq((s, h["etag"]), (201, '"4"'))


def test_capture_and_release_racing_exactly_one_wins():
    a = d.funded(100000)
    holds = [ok(place(a, 100))["hold_id"] for _ in range(20)]
    with cf.ThreadPoolExecutor(8) as pool:
        for hold in holds:
            cap, rel = pool.submit(capture, hold), pool.submit(release, hold)
            cs, rs = cap.result()[0], rel.result()[0]
            check(sorted([cs, rs]) in ([201, 409], [200, 409]), f"one of capture {cs} / release {rs} wins")
    rows = d.sql(f"SELECT status, count(*) FROM holds WHERE account_id = '{a}' GROUP BY status")
    check(sum(int(n) for _, n in rows) == 20 and "open" not in dict(rows), f"every hold ended: {rows}")
    ends = d.sql("SELECT envelope::jsonb->'data'->>'hold_id', count(*) FROM events WHERE type IN"
                 f" ('HoldCaptured', 'HoldReleased') AND account_id = '{a}' GROUP BY 1")
    eq((len(ends), {n for _, n in ends}), (20, {"1"}), "each hold ended once")
    captured = int(dict(rows).get("captured", 0))
    eq(d.state(a)[1:3], (100000 - 100 * captured, 0))


def test_a_hold_beyond_what_is_available_is_refused():
    a = d.funded(1000)
    problem(place(a, 1001), 422, "insufficient-funds")
    ok(place(a, 600))
    problem(place(a, 401), 422, "insufficient-funds")
    problem(d.withdraw(a, 401), 422, "insufficient-funds")
    problem(d.transfer(a, d.open_account("bob"), 401), 422, "insufficient-funds")
    ok(place(a, 400))
    eq(d.state(a)[1:3], (1000, 1000))


def test_bad_hold_requests():
    a = d.funded(1000)
    problem(place(a, 10, expires_in_seconds=0), 400, "invalid-request")
    problem(place(a, 10, expires_in_seconds=30 * 86400 + 1), 400, "invalid-request")
    problem(place(a, 10, "USD"), 422, "currency-mismatch")
    problem(place(str(uuid.uuid4()), 10), 404, "account-not-found")
    problem(capture(str(uuid.uuid4())), 404, "hold-not-found")
    problem(release(str(uuid.uuid4())), 404, "hold-not-found")
    problem(d.post("/v1/holds/not-a-uuid/capture", {}), 400, "invalid-hold-id")
    problem(d.post(f"/v1/holds/{uuid.uuid4()}/capture", {"amount_minor": 1, "currency": "EUR"}), 400,
            "invalid-request")
    problem(d.request("GET", f"/v1/holds/{uuid.uuid4()}/release"), 405, "method-not-allowed")
    problem(d.request("POST", f"/v1/holds/{uuid.uuid4()}/release", body={}), 400, "idempotency-key-required")


def test_a_hold_past_its_expiry_is_expired_by_the_system():
    a = d.funded(1000)
    before = d.metrics().get('ledgerline_holds_expired_total{service="command"}', 0)
    hold = ok(place(a, 250, expires_in_seconds=1))["hold_id"]
    deadline = time.time() + 5
    while time.time() < deadline and hold_row(hold)[0] == "open":
        time.sleep(0.1)
    eq(hold_row(hold)[0], "expired", "expired within seconds")
    eq(d.events(a)[-1], "HoldExpired")
    actor, key = d.sql(f"SELECT envelope::jsonb->>'actor', command_id FROM events WHERE account_id = '{a}'"
                       " AND type = 'HoldExpired'")[0]
    eq((actor, key), ("system:expiry", f"expire:{hold}"))
    eq(d.state(a), (4, 1000, 0, 0, False))
    problem(capture(hold), 409, "hold-not-open")
    problem(release(hold), 409, "hold-not-open")
    check(d.metrics()['ledgerline_holds_expired_total{service="command"}'] >= before + 1, "counted in /metrics")


def test_a_capture_past_expires_at_is_refused_before_the_sweep():
    # The sweep may be later than expires_at; the capture is decided by the clock, not by it.
    a = d.funded(1000)
    hold = ok(place(a, 100, expires_in_seconds=1))["hold_id"]
    time.sleep(1.05)
    s, _, b = capture(hold)
    check((s, b["type"]) in ((409, d.PROBLEM + "hold-expired"), (409, d.PROBLEM + "hold-not-open")),
          f"refused past expiry: {s} {b}")
    eq(d.state(a)[1], 1000, "nothing captured")


def test_a_customer_holds_only_its_own_and_sees_no_others():
    mine = d.funded(1000, "alice")
    theirs = d.funded(1000, "bob")
    hold = ok(place(mine, 100, auth=ALICE))["hold_id"]
    bobs = ok(place(theirs, 100, auth=BOB))["hold_id"]
    # Bob's hold, to alice: exactly as a hold that does not exist (status, type, detail).
    missing = problem(capture(str(uuid.uuid4()), auth=ALICE), 404, "hold-not-found")
    eq(problem(capture(bobs, auth=ALICE), 404, "hold-not-found"), missing)
    eq(problem(release(bobs, auth=ALICE), 404, "hold-not-found")["detail"], missing["detail"])
    eq(problem(capture(bobs, auth=ALICE, headers={"if-match": '"1"'}), 404, "hold-not-found"), missing,
       "before If-Match can tell a version")
    problem(place(theirs, 10, auth=ALICE), 404, "account-not-found")
    eq(hold_row(bobs)[0], "open")
    # Her own: captured to an account she cannot see, whose version she is not told.
    b = ok(capture(hold, {"amount_minor": 40, "to_account_id": theirs}, auth=ALICE))
    eq(b["to"], {"account_id": theirs})
    # To an account that cannot take it: one answer, whatever the reason.
    h2 = ok(place(mine, 100, auth=ALICE))["hold_id"]
    usd = d.open_account("carol", "USD")
    for to in (usd, str(uuid.uuid4())):
        problem(capture(h2, {"to_account_id": to}, auth=ALICE), 422, "transfer-rejected")
    # Her own side's reasons come first.
    problem(capture(h2, {"amount_minor": 101, "to_account_id": usd}, auth=ALICE), 422, "capture-exceeds-hold")
    ok(release(h2, auth=ALICE), 200)
    # A hold the bank placed on her account (a card authorisation) is the bank's to settle: she
    # sees it is there (403, not 404), and cannot void it to spend the money.
    banks = ok(place(mine, 50))["hold_id"]
    problem(release(banks, auth=ALICE), 403, "forbidden")
    problem(capture(banks, {"to_account_id": mine}, auth=ALICE), 403, "forbidden")
    eq(hold_row(banks)[0], "open")
    ok(release(banks), 200)
    # An auditor sends no commands.
    problem(capture(hold, auth=d.token("audit", "auditor")), 403, "forbidden")


def test_a_hold_that_disagrees_with_its_account_fails_alone():
    # A damaged store: the account's held amount no longer covers its open hold. That hold is not
    # decided (500, key released, nothing written), the service lives on, and the expiry sweep
    # pages past it to the holds due after it.
    broken_acct, fine_acct = d.funded(1000), d.funded(1000)
    broken = ok(place(broken_acct, 100))["hold_id"]
    d.sql(f"UPDATE account_state SET held_minor = 0 WHERE account_id = '{broken_acct}'")
    d.sql(f"UPDATE holds SET expires_at = now() - interval '1 hour' WHERE hold_id = '{broken}'")
    before = d.event_count()
    key = str(uuid.uuid4())
    problem(capture(broken, key=key), 500, "internal")
    problem(capture(broken, key=key), 500, "internal")  # not replayed: nothing ran
    fine = ok(place(fine_acct, 100, expires_in_seconds=1))["hold_id"]
    deadline = time.time() + 15
    while hold_row(fine)[0] == "open" and time.time() < deadline:
        time.sleep(0.2)
    eq(hold_row(fine)[0], "expired", "the sweep went past the broken hold")
    eq(hold_row(broken)[0], "open")
    eq(d.event_count(), before + 2, "only the fine hold's placement and expiry were written")
    ok(d.deposit(fine_acct, 1))  # the service is alive


if __name__ == "__main__":
    sys.exit(d.main(dict(globals()), "holds"))
