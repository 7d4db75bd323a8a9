#!/usr/bin/env python3
"""End-to-end: statements by time (issue #33). GET /v1/accounts/{id}/transactions?from=T&to=T&type=...
through the real pipeline (command service, relay, Kafka, projector, FerretDB, query API; ASan
builds), in a ledger of its own:

- every window, paged with any limit, is exactly the account's full statement filtered by
  from <= occurred_at < to and type, newest first, across open and sealed pages;
- bounds are half-open and instants compare as given (offsets, %2B or a raw +, before 1970);
- hostile parameters are 400 problems, others' accounts 404 exactly as missing ones;
- an account of 10,000 movements answers a window anywhere in its history in about the same time,
  with a handful of page-time lookups (the times_g index, ledgerline_query_statement_time_probes_total),
  not a walk of its 313 pages;
- pages sealed without a time document (an older build's) are walked instead: still exact;
- account reads show held_minor, available_minor, overdraft_limit_minor and frozen, and balance
  as of T and the audit's state_after carry them too."""
import concurrent.futures as cf
import datetime
import os
import random
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import ll_e2e  # noqa: E402
from ll_e2e import (Service, check, drop_ledger, eq, free_port, ledger_env, own_ledger, post, prometheus,  # noqa: E402
                    request, run, token, wait_until)

CMD, QRY = free_port(), free_port()
PROBLEM = "https://ledgerline.dev/problems/"
DB = "ledgerline_statements_by_time"
ENV = ledger_env(DB, "statements-by-time")
TYPES = ["MoneyDeposited", "MoneyWithdrawn", "TransferSent", "TransferReceived"]
PROBES = 'ledgerline_query_statement_time_probes_total{service="query"}'
UNINDEXED = 'ledgerline_query_statement_unindexed_total{service="query"}'
rng = random.Random(33)


def cmd(path, body, auth=ll_e2e.OPERATOR):
    s, _, b = post(path, body, port=CMD, auth=auth)
    check(s in (200, 201), f"{path}: {s} {b}")
    return b


def get(path, auth=ll_e2e.OPERATOR):
    return request("GET", path, port=QRY, auth=auth)


def open_account(owner="stmt"):
    return cmd("/v1/accounts", {"owner": owner, "currency": "EUR"})["account_id"]


def us_of(text):
    d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round((d - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds() * 1e6)


def text_of(us, offset_minutes=0):
    """RFC 3339 of us, with 6 fraction digits, in the given offset."""
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    d = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=us)
    return d.astimezone(tz).isoformat(timespec="microseconds").replace("+00:00", "Z")


def enc(text):
    return text.replace("+", "%2B")


def wait_version(a, version):
    s, _, b = get(f"/v1/accounts/{a}?min_version={version}")
    eq(s, 200, str(b))
    return b


def full_statement(a):
    """Every movement of a, newest first (the unfiltered statement, paged)."""
    items, cursor = [], None
    while True:
        s, _, page = get(f"/v1/accounts/{a}/transactions?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        eq(s, 200, str(page))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def window(a, frm=None, to=None, types=None, limit=50, auth=ll_e2e.OPERATOR):
    """The window's movements, paged with limit: (items, requests)."""
    q = [f"limit={limit}"]
    if frm is not None:
        q.append(f"from={enc(frm)}")
    if to is not None:
        q.append(f"to={enc(to)}")
    if types:
        q.append("type=" + ",".join(types))
    items, cursor, requests = [], None, 0
    while True:
        s, _, page = get(f"/v1/accounts/{a}/transactions?" + "&".join(q + ([f"cursor={cursor}"] if cursor else [])),
                         auth=auth)
        eq(s, 200, str(page))
        check(len(page["items"]) <= limit, "a page holds at most limit items")
        items += page["items"]
        requests += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, requests


def expected(full, frm_us=None, to_us=None, types=None):
    return [i for i in full if (frm_us is None or us_of(i["occurred_at"]) >= frm_us)
            and (to_us is None or us_of(i["occurred_at"]) < to_us) and (not types or i["type"] in types)]


def versions(items):
    return [i["version"] for i in items]


def busy_account(n, other):
    """An account with n movements: deposits, withdrawals and transfers both ways with other."""
    a = open_account()
    cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 1_000_000, "currency": "EUR"})
    cmd(f"/v1/accounts/{other}/deposits", {"amount_minor": 1_000_000, "currency": "EUR"})
    last = 2
    for i in range(n - 1):
        k = i % 4
        if k == 0:
            body = {"amount_minor": 10 + i, "currency": "EUR", "reference": f"d{i}"}
            last = cmd(f"/v1/accounts/{a}/deposits", body)["version"]
        elif k == 1:
            last = cmd(f"/v1/accounts/{a}/withdrawals", {"amount_minor": 1 + i % 7, "currency": "EUR"})["version"]
        elif k == 2:
            last = cmd("/v1/transfers", {"from_account_id": a, "to_account_id": other, "amount_minor": 3,
                                         "currency": "EUR"})["from"]["version"]
        else:
            r = cmd("/v1/transfers", {"from_account_id": other, "to_account_id": a, "amount_minor": 2,
                                      "currency": "EUR"})
            last = r["to"]["version"]
    wait_version(a, last)
    return a


def test_windows_equal_the_filtered_statement():
    other = open_account("other")
    a = busy_account(170, other)  # 171 versions: five sealed pages and an open one
    full = full_statement(a)
    eq(len(full), 170)
    times = [us_of(i["occurred_at"]) for i in full]
    check(times == sorted(times, reverse=True), "occurred_at never decreases with the version")
    cases = [(None, None, None), (None, None, ["TransferReceived"]), (None, None, ["MoneyWithdrawn", "TransferSent"])]
    for _ in range(45):
        lo, hi = sorted(rng.sample(range(len(full)), 2))
        frm = times[hi] + rng.choice([-1, 0, 0, 1])  # at, just before or just after a movement
        to = times[lo] + rng.choice([-1, 0, 0, 1])
        if frm >= to:
            continue
        kind = rng.random()
        cases.append((frm if kind > 0.2 else None, to if kind < 0.8 or kind > 0.9 else None,
                       rng.sample(TYPES, rng.randint(1, 3)) if rng.random() < 0.4 else None))
    for frm, to, types in cases:
        limit = rng.choice([1, 2, 7, 31, 32, 33, 50, 200])
        got, _ = window(a, None if frm is None else text_of(frm), None if to is None else text_of(to), types, limit)
        want = expected(full, frm, to, types)
        eq(versions(got), versions(want), f"from {frm} to {to} types {types} limit {limit}")
        eq(got, want, "items as the statement has them")


def test_bounds_are_half_open_and_instants_compare_as_given():
    other = open_account("other")
    a = busy_account(40, other)
    full = full_statement(a)
    k = full[10]
    at = us_of(k["occurred_at"])
    got, _ = window(a, frm=text_of(at), to=text_of(at + 1))
    eq(versions(got), [k["version"]], "from is inclusive, to exclusive")
    got, _ = window(a, frm=text_of(at - 1), to=text_of(at))
    check(k["version"] not in versions(got), "to is exclusive")
    for offset in (120, -330, 14 * 60 - 1):
        frm, to = enc(text_of(at, offset)), enc(text_of(at + 1, offset))
        s, _, page = get(f"/v1/accounts/{a}/transactions?from={frm}&to={to}")
        eq((s, versions(page["items"])), (200, [k["version"]]), f"offset {offset}, %2B encoded")
    raw = text_of(at, 60)  # an unencoded + stays a + (as for as_of)
    s, _, page = get(f"/v1/accounts/{a}/transactions?from={raw}&to={enc(text_of(at + 1))}")
    eq((s, versions(page["items"])), (200, [k["version"]]))
    # Nine fraction digits, a lowercase t and z. Events are whole microseconds, so both bounds
    # round up to the microsecond: .000 holds the event at its microsecond, .999 starts after it.
    nine = text_of(at)[:-1].replace("T", "t") + "000z"
    s, _, page = get(f"/v1/accounts/{a}/transactions?from={nine}&to={enc(text_of(at + 1))}")
    eq((s, versions(page.get("items", []))), (200, [k["version"]]), nine)
    after = text_of(at)[:-1] + "999Z"
    s, _, page = get(f"/v1/accounts/{a}/transactions?from={after}&to={enc(text_of(at + 2))}")
    eq(s, 200, after)
    check(k["version"] not in versions(page["items"]), f"{after} starts after the event at its microsecond")
    # Before 1970 and past everything: windows that hold nothing, or everything.
    eq(window(a, frm="1900-01-01T00:00:00Z", to="1969-12-31T23:59:59Z")[0], [])
    eq(versions(window(a, frm="1900-01-01T00:00:00Z", to="9999-12-31T23:59:59-10:00", limit=200)[0]), versions(full))
    eq(window(a, frm="9999-12-31T23:00:00Z")[0], [])
    eq(versions(window(a, to="0001-01-01T00:00:00+01:00")[0]), [])


def test_hostile_parameters_are_400_problems():
    other = open_account("other")
    a = busy_account(3, other)
    base = f"/v1/accounts/{a}/transactions"
    bad = ["from=yesterday", "to=2026-11-24", "from=2026-11-24T12:00:00", "from=2026-02-30T00:00:00Z",
           "from=2026-11-24T12:00:60Z", "from=2026-11-24T12:00:00%2B24:00", "to=0000-01-01T00:00:00Z",
           "from=2026-11-24T12:00:00Z&to=2026-11-24T12:00:00Z",  # an empty window
           "from=2026-11-24T12:00:00Z&to=2026-11-24T11:00:00Z",
           "from=2026-11-24T13:00:00%2B01:00&to=2026-11-24T12:00:00Z",  # the same instant
           "from=1960-01-01T00:00:00Z&to=1950-01-01T00:00:00Z",
           "type=", "type=Nope", "type=HoldPlaced", "type=AccountOpened", "type=moneydeposited",
           "type=MoneyDeposited,", "type=MoneyDeposited,,TransferSent", "type=MoneyDeposited%00",
           "from=2026-11-24T12:00:00Z&from=2026-11-24T13:00:00Z", "type=MoneyDeposited&type=TransferSent",
           "type=MoneyDeposited,MoneyDeposited,MoneyDeposited,MoneyDeposited,MoneyDeposited,MoneyDeposited",
           "from=" + "1" * 200, "type=" + "MoneyDeposited," * 20 + "MoneyDeposited", "frm=2026-11-24T12:00:00Z"]
    for q in bad:
        s, h, b = get(f"{base}?{q}")
        eq((s, b.get("type") if isinstance(b, dict) else b), (400, PROBLEM + "invalid-query"), q)
        check(h["content-type"].startswith("application/problem+json"), q)
    eq(get(f"{base}?type=MoneyDeposited,TransferSent,TransferReceived,MoneyWithdrawn,HoldCaptured")[0], 200)
    eq(get(f"{base}?from=1960-01-01T00:00:00Z&to=1965-01-01T00:00:00Z")[0], 200, "before 1970, in order")


def test_others_accounts_answer_as_missing_ones():
    mine = token(sub=f"alice-{uuid.uuid4().hex[:6]}", role="customer")
    theirs = open_account("mallory")
    cmd(f"/v1/accounts/{theirs}/deposits", {"amount_minor": 5, "currency": "EUR"})
    wait_version(theirs, 2)
    q = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&type=MoneyDeposited"
    s1, _, b1 = get(f"/v1/accounts/{theirs}/transactions?{q}", auth=mine)
    s2, _, b2 = get(f"/v1/accounts/{uuid.uuid4()}/transactions?{q}", auth=mine)
    eq((s1, b1), (s2, b2), "another's account answers exactly as a missing one")
    eq(s1, 404)


def test_a_first_page_larger_than_the_view_keeps_leaves_the_history_whole():
    # The live view keeps an account's 51 newest movements. A first page of 200 read from the
    # read model (the view cannot tell it) once offered those 51 as the whole history when the page
    # had no next one: the next pages, answered from memory, then ended early.
    a = open_account("view")
    last = deposits(a, 80, workers=2)
    wait_version(a, last)
    eq(len(full_statement(a)), 80)
    got, _ = window(a, limit=55)
    eq(versions(got), list(range(81, 1, -1)), "paged with 55 after a page of 200")


def deposits(a, n, workers=6):
    """n deposits into a, from several clients at once; returns the last version."""
    def one(i):
        return cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 1 + i % 100, "currency": "EUR"})["version"]
    with cf.ThreadPoolExecutor(workers) as ex:
        return max(ex.map(one, range(n)))


def test_ten_thousand_movements_answer_a_window_anywhere_alike():
    a = open_account("big")
    t0 = time.time()
    last = deposits(a, 10_000)
    wait_until(lambda: get(f"/v1/accounts/{a}?min_version={last}")[0] == 200, 120, "the read model", interval_s=0.5)
    print(f"    10,000 deposits made and projected in {time.time() - t0:.1f} s")
    full = full_statement(a)
    eq(len(full), 10_000)
    times = [us_of(i["occurred_at"]) for i in full]  # newest first
    rows = []
    for depth in (0.001, 0.1, 0.5, 0.9, 0.999):  # where in the history the window lies
        hi = int(depth * (len(full) - 60))
        frm, to = times[hi + 49], times[hi] + 1  # 50 movements
        want = versions(full[hi:hi + 50])
        by_time, by_cursor, probes = [], [], []
        for _ in range(9):  # interleaved with the same page by cursor: the machine's load hits both alike
            p0 = prometheus(QRY)[PROBES]
            t = time.perf_counter()
            s, _, page = get(f"/v1/accounts/{a}/transactions?limit=50&from={text_of(frm)}&to={text_of(to)}")
            by_time.append((time.perf_counter() - t) * 1000)
            probes.append(prometheus(QRY)[PROBES] - p0)
            eq((s, versions(page["items"])), (200, want), f"depth {depth}")
            t = time.perf_counter()
            s, _, page = get(f"/v1/accounts/{a}/transactions?limit=50&cursor={want[0] + 1}")
            by_cursor.append((time.perf_counter() - t) * 1000)
            eq((s, versions(page["items"])), (200, want), f"depth {depth}, by cursor")
        by_time.sort(), by_cursor.sort()
        rows.append((depth, by_time[4], by_cursor[4], max(probes)))
    for depth, p50, cursor_p50, probes in rows:
        print(f"    50 movements at depth {depth:5.3f} of 10,000: by time p50 {p50:6.2f} ms, {probes:.0f} page-time"
              f" lookups; the same page by cursor {cursor_p50:6.2f} ms")
    # 313 sealed pages: bisection alone takes 9 lookups a bound, two bounds may be searched.
    check(all(r[3] <= 2 * (3 * 9 + 3) for r in rows), f"page-time lookups bounded: {rows}")
    check(all(r[1] < 3 * r[2] + 10 for r in rows), f"by time costs about what the same page by cursor does: {rows}")
    # The same windows by type, paged: exact as well.
    frm, to = times[7000], times[6000]
    got, requests = window(a, text_of(frm), text_of(to), ["MoneyDeposited"], limit=200)
    eq(versions(got), versions(expected(full, frm, to)))
    print(f"    a window of 1,000 movements in {requests} pages of 200")


def ferret_sql(query):
    """Runs SQL in FerretDB's own PostgreSQL database (where it keeps each collection as a table)."""
    return subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", "55432", "-U", "ferretdb", "-d", "ferretdb",
                           "-c", query], capture_output=True, text=True, env=dict(os.environ, PGPASSWORD="ferretdb"))


def ferret_table(collection):
    out = ferret_sql(f"SELECT _jsonb->>'table' FROM \"{DB}\"._ferretdb_database_metadata"
                     f" WHERE _jsonb->>'_id' = '{collection}'")
    eq(out.returncode, 0, out.stderr)
    return out.stdout.strip()


def test_pages_without_time_documents_are_walked_exactly():
    # An older build sealed pages without their time documents (here: removed from FerretDB's
    # table): a window is still exact, walked newest first, and counted as unindexed.
    other = open_account("other")
    a = busy_account(140, other)
    full = full_statement(a)
    table = ferret_table("times_g1")
    check(table != "", "times_g1 exists")
    out = ferret_sql(f"DELETE FROM \"{DB}\".\"{table}\" WHERE _jsonb->>'_id' LIKE '{a}:%'")
    eq((out.returncode, out.stdout.strip()), (0, "DELETE 4"), out.stderr)
    times = [us_of(i["occurred_at"]) for i in full]
    before = prometheus(QRY)[UNINDEXED]
    for lo, hi, limit in ((100, 130, 7), (3, 120, 50), (0, 139, 200)):
        frm, to = times[hi], times[lo]
        got, _ = window(a, text_of(frm), text_of(to), limit=limit)
        eq(versions(got), versions(expected(full, frm, to)))
    check(prometheus(QRY)[UNINDEXED] > before, "counted as walked without the index")


def test_account_reads_show_every_figure():
    a = open_account("figures")
    v = cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 700, "currency": "EUR"})["version"]
    acct = wait_version(a, v)
    eq({k: acct[k] for k in ("balance_minor", "held_minor", "available_minor", "overdraft_limit_minor", "frozen")},
       {"balance_minor": 700, "held_minor": 0, "available_minor": 700, "overdraft_limit_minor": 0, "frozen": False})
    s, _, bal = get(f"/v1/accounts/{a}/balance?as_of=2100-01-01T00:00:00Z")
    eq((s, [bal[k] for k in ("balance_minor", "held_minor", "available_minor", "overdraft_limit_minor", "frozen")]),
       (200, [700, 0, 700, 0, False]))
    s, _, audit = get(f"/v1/accounts/{a}/audit")
    eq([(i["state_after"]["held_minor"], i["state_after"]["available_minor"], i["state_after"]["frozen"])
        for i in audit["items"]], [(0, 0, False), (0, 700, False)])


if __name__ == "__main__":
    own_ledger(DB, ENV)
    os.environ.update(ENV)
    code = 1
    try:
        with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD), \
                Service("relay", ["--poll-ms", "200"]), \
                Service("projector", ["--metrics-listen", f"127.0.0.1:{free_port()}"]), \
                Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY):
            warm = open_account("warm-up")
            wait_until(lambda: get(f"/v1/accounts/{warm}?min_version=1")[0] == 200, 120, "the projector",
                       interval_s=0.5)
            code = run(dict(globals()), "statements_by_time")
    finally:
        drop_ledger(DB)
    sys.exit(code)
