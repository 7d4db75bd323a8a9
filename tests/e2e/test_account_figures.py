#!/usr/bin/env python3
"""End-to-end: the query API's side of ledger depth (issue #33), through the real pipeline
(command service, relay, Kafka, projector, FerretDB, query API; ASan builds) in a ledger of its own:

- account reads show balance_minor, held_minor, available_minor, overdraft_limit_minor and frozen
  after holds, captures, releases, limits and freezes: from the live view and from the read model
  (a second query API with the view off) alike, and as the event store has them;
- GET /v1/holds/{id} follows a hold through open, captured, released and expired; a hold on an
  account the caller may not see answers exactly as a missing one;
- balance as of T and the audit's state_after carry the figures;
- statements show captures (hold_id, released_minor) and filter them by type; holds placed
  between movements never stall a statement (a request reads a bounded number of pages)."""
import concurrent.futures as cf
import datetime
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import ll_e2e  # noqa: E402
from ll_e2e import (Service, check, drop_ledger, eq, free_port, ledger_env, own_ledger, post, request,  # noqa: E402
                    run, token, wait_until)

CMD, QRY, QRY_NO_VIEW = free_port(), free_port(), free_port()
PROBLEM = "https://ledgerline.dev/problems/"
DB = "ledgerline_account_figures"
ENV = ledger_env(DB, "account-figures")
ENV["LEDGERLINE_HOLD_EXPIRY_INTERVAL_MS"] = "200"
FIGURES = ("balance_minor", "held_minor", "available_minor", "overdraft_limit_minor", "frozen")
AUDITOR = token(sub="auditor", role="auditor")


def cmd(path, body, auth=ll_e2e.OPERATOR, method="POST"):
    if method == "POST":
        s, _, b = post(path, body, port=CMD, auth=auth)
    else:
        s, _, b = request(method, path, body=body, headers={"idempotency-key": str(uuid.uuid4())}, port=CMD, auth=auth)
    check(s in (200, 201), f"{path}: {s} {b}")
    return b


def get(path, auth=ll_e2e.OPERATOR, port=None):
    return request("GET", path, port=port or QRY, auth=auth)


def open_account(owner="figures", amount=0):
    a = cmd("/v1/accounts", {"owner": owner, "currency": "EUR"})["account_id"]
    if amount:
        cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": amount, "currency": "EUR"})
    return a


def place(a, amount, auth=ll_e2e.OPERATOR, **extra):
    return cmd(f"/v1/accounts/{a}/holds", dict({"amount_minor": amount, "currency": "EUR"}, **extra), auth=auth)


def figures(a, version):
    """The account's figures at version, from both query APIs (the live view, and the read model
    alone): they must agree."""
    got = []
    for port in (QRY, QRY_NO_VIEW):
        s, _, b = get(f"/v1/accounts/{a}?min_version={version}", port=port)
        eq(s, 200, str(b))
        eq(b["version"], version)
        got.append({k: b[k] for k in FIGURES})
    eq(got[0], got[1], "the live view and the read model")
    return got[0]


def fig(balance, held, limit=0, frozen=False):
    return {"balance_minor": balance, "held_minor": held, "available_minor": balance - held,
            "overdraft_limit_minor": limit, "frozen": frozen}


def test_account_reads_show_every_figure():
    a = open_account(amount=1000)
    h = place(a, 300)
    eq(figures(a, h["version"]), fig(1000, 300))
    v = cmd(f"/v1/accounts/{a}/credit-limit", {"overdraft_limit_minor": 500}, method="PUT")["version"]
    eq(figures(a, v), fig(1000, 300, 500))
    v = cmd(f"/v1/accounts/{a}/withdrawals", {"amount_minor": 1100, "currency": "EUR"})["version"]
    eq(figures(a, v), fig(-100, 300, 500), "available down to the floor's side of zero")
    v = cmd(f"/v1/accounts/{a}/freeze", {"reason": "court order"})["version"]
    eq(figures(a, v), fig(-100, 300, 500, True))
    v = cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 400, "currency": "EUR"})["version"]  # credits land
    eq(figures(a, v), fig(300, 300, 500, True))
    v = cmd(f"/v1/accounts/{a}/unfreeze", {})["version"]
    eq(figures(a, v), fig(300, 300, 500))
    v = cmd(f"/v1/holds/{h['hold_id']}/capture", {"amount_minor": 120})["version"]
    eq(figures(a, v), fig(180, 0, 500), "captured 120, the rest released")
    # As the event store has them.
    rows = ll_e2e.sql(f"SELECT balance_minor, held_minor, overdraft_limit_minor, frozen FROM account_state"
                      f" WHERE account_id = '{a}'", db=DB)
    eq(rows, [["180", "0", "500", "f"]])


def hold_of(hold, auth=ll_e2e.OPERATOR):
    s, _, b = get(f"/v1/holds/{hold}", auth=auth)
    eq(s, 200, str(b))
    return b


def test_a_hold_reads_through_its_life():
    a = open_account(amount=1000)
    h = place(a, 300, reference="card auth 7", expires_in_seconds=3600)
    b = hold_of(h["hold_id"])
    eq({k: b[k] for k in ("hold_id", "account_id", "status", "amount_minor", "currency", "captured_minor",
                           "released_minor", "reference", "expires_at", "settled_at", "placed_version")},
       {"hold_id": h["hold_id"], "account_id": a, "status": "open", "amount_minor": 300, "currency": "EUR",
        "captured_minor": 0, "released_minor": 0, "reference": "card auth 7", "expires_at": h["expires_at"],
        "settled_at": None, "placed_version": h["version"]})
    check(b["placed_at"] < b["expires_at"], str(b))
    cmd(f"/v1/holds/{h['hold_id']}/capture", {"amount_minor": 100})
    b = hold_of(h["hold_id"])  # the event store's: current at once, no wait
    eq((b["status"], b["captured_minor"], b["released_minor"]), ("captured", 100, 200))
    check(b["settled_at"] is not None and b["settled_at"] >= b["placed_at"], str(b))
    r = place(a, 50)
    cmd(f"/v1/holds/{r['hold_id']}/release", {})
    b = hold_of(r["hold_id"])
    eq((b["status"], b["captured_minor"], b["released_minor"]), ("released", 0, 50))
    e = place(a, 70, expires_in_seconds=1)
    wait_until(lambda: hold_of(e["hold_id"])["status"] == "expired", 10, "the expiry sweep")
    b = hold_of(e["hold_id"])
    eq((b["captured_minor"], b["released_minor"]), (0, 70))


def test_a_hold_the_caller_may_not_see_answers_as_a_missing_one():
    alice, bob = token(sub="alice-figures", role="customer"), token(sub="bob-figures", role="customer")
    mine = open_account("alice-figures", 1000)
    theirs = open_account("bob-figures", 1000)
    bobs = place(theirs, 10, auth=bob)["hold_id"]
    on_mine = place(mine, 20)["hold_id"]  # placed by the bank on her account: hers to see
    eq(hold_of(on_mine, auth=alice)["amount_minor"], 20)
    eq(hold_of(bobs, auth=AUDITOR)["amount_minor"], 10, "auditors read every hold")
    s1, h1, b1 = get(f"/v1/holds/{bobs}", auth=alice)
    s2, h2, b2 = get(f"/v1/holds/{uuid.uuid4()}", auth=alice)
    eq((s1, b1), (s2, b2), "another's hold answers exactly as a missing one")
    eq((s1, b1["type"]), (404, PROBLEM + "hold-not-found"))
    eq(h1["content-type"], h2["content-type"])
    for path, status, slug in ((f"/v1/holds/{bobs[:-1]}", 400, "invalid-hold-id"),
                               ("/v1/holds/x", 400, "invalid-hold-id"),
                               (f"/v1/holds/{bobs}/capture", 404, "not-found"),
                               (f"/v1/holds/{bobs}?x=1", 400, "invalid-query"),
                               ("/v1/holds/", 404, "not-found")):
        s, _, b = get(path)
        eq((s, b.get("type") if isinstance(b, dict) else b), (status, PROBLEM + slug), path)
    s, h, _ = request("POST", f"/v1/holds/{bobs}", body={}, port=QRY)
    eq((s, h.get("allow")), (405, "GET, HEAD"))
    eq(get(f"/v1/holds/{bobs}", auth=None)[0], 401)


def test_balance_as_of_and_audit_carry_the_figures():
    a = open_account(amount=1000)
    h = place(a, 400)
    time.sleep(0.01)
    mid = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    time.sleep(0.01)
    cmd(f"/v1/holds/{h['hold_id']}/capture", {"amount_minor": 150})
    cmd(f"/v1/accounts/{a}/credit-limit", {"overdraft_limit_minor": 70}, method="PUT")
    s, _, bal = get(f"/v1/accounts/{a}/balance?as_of={mid}")
    eq((s, {k: bal[k] for k in FIGURES}, bal["version"]), (200, fig(1000, 400), 3), str(bal))
    s, _, bal = get(f"/v1/accounts/{a}/balance?as_of=2100-01-01T00:00:00Z")
    eq({k: bal[k] for k in FIGURES}, fig(850, 0, 70))
    s, _, audit = get(f"/v1/accounts/{a}/audit")
    eq(s, 200)
    eq([(i["event"]["type"], {k: i["state_after"][k] for k in FIGURES}) for i in audit["items"]],
       [("AccountOpened", fig(0, 0)), ("MoneyDeposited", fig(1000, 0)), ("HoldPlaced", fig(1000, 400)),
        ("HoldCaptured", fig(850, 0)), ("CreditLimitSet", fig(850, 0, 70))])
    capture = audit["items"][3]["event"]["data"]  # the envelope's data as stored
    eq((capture["hold_id"], capture["amount_minor"], capture["released_minor"], capture["held_after_minor"]),
       (h["hold_id"], 150, 250, 0))
    # A page that starts past version 2 resumes from the event before it: the same figures.
    s, _, page = get(f"/v1/accounts/{a}/audit?from_version=4&limit=1")
    eq({k: page["items"][0]["state_after"][k] for k in FIGURES}, fig(850, 0))


def test_a_customer_does_not_learn_why_or_by_whom_its_account_was_frozen():
    a = open_account("frozen-owner", 100)
    cmd(f"/v1/accounts/{a}/freeze", {"reason": "AML case 4711"})
    customer = token(sub="frozen-owner", role="customer")
    items = None
    for auth, who in ((customer, "customer"), (AUDITOR, "auditor")):
        s, _, b = get(f"/v1/accounts/{a}/audit", auth=auth)
        eq(s, 200, f"{who}: {b}")
        items = [i for i in b["items"] if i["event"]["type"] == "AccountFrozen"]
        eq(len(items), 1, who)
        if who == "customer":
            eq((items[0]["event"]["data"]["reason"], items[0]["event"]["actor"]), ("", ""), "blanked for the customer")
            eq(items[0]["redacted"], ["actor", "data.reason"])
            eq(items[0]["state_after"]["frozen"], True, "that it is frozen is the customer's to know")
    eq(items[0]["event"]["data"]["reason"], "AML case 4711", "the auditor sees the event as stored")
    check("redacted" not in items[0], "nothing redacted for the auditor")


def statement(a, query="", port=None):
    items, cursor, requests = [], None, 0
    while True:
        s, _, page = get(f"/v1/accounts/{a}/transactions?limit=50{query}" + (f"&cursor={cursor}" if cursor else ""),
                         port=port)
        eq(s, 200, str(page))
        items += page["items"]
        requests += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, requests


def test_statements_show_captures_and_filter_them():
    a, b = open_account(amount=1000), open_account("payee")
    h1, h2 = place(a, 300), place(a, 200)
    cmd(f"/v1/holds/{h1['hold_id']}/capture", {"amount_minor": 100})
    last = cmd(f"/v1/holds/{h2['hold_id']}/capture", {"to_account_id": b})
    eq(get(f"/v1/accounts/{a}?min_version={last['version']}")[0], 200)
    items, _ = statement(a)
    eq([i["type"] for i in items], ["HoldCaptured", "HoldCaptured", "MoneyDeposited"])
    eq((items[1]["hold_id"], items[1]["amount_minor"], items[1]["released_minor"]), (h1["hold_id"], 100, 200))
    eq((items[0]["hold_id"], items[0]["counterparty_account_id"]), (h2["hold_id"], b))
    eq([i["version"] for i in statement(a, "&type=HoldCaptured")[0]], [items[0]["version"], items[1]["version"]])
    eq([i["type"] for i in statement(b, "&type=TransferReceived")[0]], ["TransferReceived"])
    # A payment and its fee: each leg a transfer naming the payment, in both statements.
    fee = open_account("bank")
    p = cmd("/v1/payments", {"legs": [{"from_account_id": a, "to_account_id": b, "amount_minor": 50, "currency": "EUR"},
                                      {"from_account_id": a, "to_account_id": fee, "amount_minor": 2,
                                       "currency": "EUR"}], "reference": "invoice 9"})
    eq(get(f"/v1/accounts/{a}?min_version={p['legs'][1]['from']['version']}")[0], 200)
    sent = statement(a, "&type=TransferSent")[0]
    eq([(i["amount_minor"], i["counterparty_account_id"], i["payment_id"]) for i in sent],
       [(2, fee, p["payment_id"]), (50, b, p["payment_id"])])
    eq(get(f"/v1/accounts/{fee}?min_version=2")[0], 200)
    eq([i["payment_id"] for i in statement(fee)[0]], [p["payment_id"]])


def test_holds_between_movements_never_stall_a_statement():
    # 2,200 holds placed between deposits: about 69 pages of 32 versions without a movement. A
    # request reads at most 64 sealed pages, so the statement read from the read model (the live
    # view would tell these five movements from memory) takes two requests, each bounded.
    a = open_account(amount=1_000_000)
    for amount in (1, 2):
        cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": amount, "currency": "EUR"})
    with cf.ThreadPoolExecutor(6) as ex:
        list(ex.map(lambda i: place(a, 1), range(2200)))
    last = None
    for amount in (3, 4):
        last = cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": amount, "currency": "EUR"})["version"]
    eq(get(f"/v1/accounts/{a}?min_version={last}", port=QRY_NO_VIEW)[0], 200)
    t = time.perf_counter()
    items, requests = statement(a, port=QRY_NO_VIEW)
    ms = (time.perf_counter() - t) * 1000
    eq([i["amount_minor"] for i in items], [4, 3, 2, 1, 1_000_000])
    eq(requests, 2, "one request stopped after 64 pages, the next went on from there")
    print(f"    5 movements among 2,200 holds: {requests} requests, {ms:.0f} ms in all")
    s, _, acct = get(f"/v1/accounts/{a}")
    eq((acct["held_minor"], acct["available_minor"]), (2200, 1_000_010 - 2200))
    # By time: the holds' stretch is skipped by the window's start.
    items, requests = statement(a, f"&from={items[1]['occurred_at']}", port=QRY_NO_VIEW)
    eq(([i["amount_minor"] for i in items], requests), ([4, 3], 1))
    eq([i["amount_minor"] for i in statement(a)[0]], [4, 3, 2, 1, 1_000_000], "from the live view")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    os.environ.update(ENV)
    code = 1
    try:
        with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD), \
                Service("relay", ["--poll-ms", "200"]), \
                Service("projector", ["--metrics-listen", f"127.0.0.1:{free_port()}"]), \
                Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY), \
                Service("query", ["--listen", f"127.0.0.1:{QRY_NO_VIEW}"], port=QRY_NO_VIEW,
                        env={"LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX": "0"}):
            warm = open_account("warm-up")
            wait_until(lambda: get(f"/v1/accounts/{warm}?min_version=1")[0] == 200, 120, "the projector",
                       interval_s=0.5)
            code = run(dict(globals()), "account_figures")
    finally:
        drop_ledger(DB)
    sys.exit(code)
