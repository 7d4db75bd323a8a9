#!/usr/bin/env python3
"""End-to-end: the command service over HTTP against the real PostgreSQL of the local stack.
Happy paths, every error a client can cause, idempotency, If-Match, and a concurrency run whose
result is checked in the event store (versions contiguous, no lost update, no negative balance,
hash chains intact). Starts its own ledgerline-command (ASan build) on port 18080.

A ledger of its own (database, topic), made and dropped here: the suite tries UPDATE, DELETE and
TRUNCATE on the events table as the schema owner (a safeguard that must hold, but that would wipe
the stack's ledger the day it does not), installs a failing trigger, and prunes idempotency keys
with a 3 s retention, none of which may reach the stack's ledger."""
import concurrent.futures as cf
import os
import random
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vectors"))
from check_vectors import verify_line  # noqa: E402
import ll_e2e  # noqa: E402
from ll_e2e import (Service, check, drop_ledger, eq, ledger_env, own_ledger, post, prometheus, request,  # noqa: E402
                    run, wait_until)

PROBLEM = "https://ledgerline.dev/problems/"
DB = "ledgerline_command_api"
ENV = ledger_env(DB, "command-api")


def sql(query, **kw):
    return ll_e2e.sql(query, db=DB, **kw)


def sql_error(query, **kw):
    return ll_e2e.sql_error(query, db=DB, **kw)


def open_account(owner="alice", currency="EUR"):
    status, headers, body = post("/v1/accounts", {"owner": owner, "currency": currency})
    eq(status, 201, f"open: {body}")
    return body["account_id"]


def deposit(acct, amount, currency="EUR", key=None, headers=None):
    return post(f"/v1/accounts/{acct}/deposits", {"amount_minor": amount, "currency": currency}, key=key,
                headers=headers)


def withdraw(acct, amount, currency="EUR", key=None, headers=None):
    return post(f"/v1/accounts/{acct}/withdrawals", {"amount_minor": amount, "currency": currency}, key=key,
                headers=headers)


def transfer(a, b, amount, currency="EUR", key=None):
    return post("/v1/transfers", {"from_account_id": a, "to_account_id": b, "amount_minor": amount,
                                  "currency": currency}, key=key)


def problem(resp, status, slug):
    got_status, headers, body = resp
    eq(got_status, status, f"status ({body})")
    check(headers["content-type"].startswith("application/problem+json"), f"problem content type: {headers}")
    eq(body["type"], PROBLEM + slug, "problem type")
    eq(body["status"], status, "problem status field")
    check(body.get("title") and "detail" in body, f"title and detail: {body}")


# ---- happy paths ------------------------------------------------------------------------------

def test_open_account_returns_the_account():
    status, headers, body = post("/v1/accounts", {"owner": "alice", "currency": "EUR"})
    eq(status, 201)
    uuid.UUID(body["account_id"])
    uuid.UUID(body["event_id"])
    eq({k: body[k] for k in ("owner", "currency", "status", "balance_minor", "version")},
       {"owner": "alice", "currency": "EUR", "status": "open", "balance_minor": 0, "version": 1})
    eq(headers["location"], f"/v1/accounts/{body['account_id']}")
    eq(headers["etag"], '"1"')


def test_deposit_withdraw_close():
    a = open_account()
    s, h, b = deposit(a, 1000)
    eq((s, b["version"], b["balance_minor"], b["account_id"]), (201, 2, 1000, a))
    eq(h["etag"], '"2"')
    s, _, b = withdraw(a, 400)
    eq((s, b["version"], b["balance_minor"]), (201, 3, 600))
    problem(post(f"/v1/accounts/{a}/close", {}), 422, "balance-not-zero")
    withdraw(a, 600)
    s, _, b = post(f"/v1/accounts/{a}/close", {})
    eq((s, b["status"], b["version"], b["balance_minor"]), (200, "closed", 6 - 1, 0))
    problem(deposit(a, 1), 422, "account-closed")
    problem(post(f"/v1/accounts/{a}/close", {}), 422, "account-closed")


def test_transfer_moves_money_and_hides_the_destination_balance():
    a, b = open_account("alice"), open_account("bob")
    deposit(a, 500)
    s, _, body = transfer(a, b, 200)
    eq(s, 201, str(body))
    uuid.UUID(body["transfer_id"])
    eq((body["from"]["account_id"], body["from"]["balance_minor"], body["from"]["version"]), (a, 300, 3))
    eq((body["to"]["account_id"], body["to"]["version"]), (b, 2))
    check("balance_minor" not in body["to"], "destination balance not disclosed")
    rows = sql(f"SELECT account_id, type, transfer_id FROM events WHERE transfer_id = '{body['transfer_id']}' "
               "ORDER BY type")
    eq([(r[0], r[1]) for r in rows], [(b, "TransferReceived"), (a, "TransferSent")])


def test_transfer_rejections():
    a, b = open_account(), open_account()
    usd = open_account(currency="USD")
    deposit(a, 100)
    problem(transfer(a, b, 101), 422, "insufficient-funds")
    problem(transfer(a, a, 1), 422, "same-account")
    problem(transfer(a, usd, 1), 422, "currency-mismatch")
    problem(transfer(a, str(uuid.uuid4()), 1), 404, "account-not-found")
    problem(transfer(str(uuid.uuid4()), a, 1), 404, "account-not-found")
    eq(sql(f"SELECT balance_minor, version FROM account_state WHERE account_id = '{a}'"), [["100", "2"]])


def test_unknown_account_is_404():
    problem(deposit(str(uuid.uuid4()), 5), 404, "account-not-found")
    problem(withdraw(str(uuid.uuid4()).upper(), 5), 404, "account-not-found")


# ---- hostile input ----------------------------------------------------------------------------

def test_bad_requests_are_4xx_problems_and_store_nothing():
    a = open_account()
    deposit(a, 50)
    before = sql("SELECT count(*) FROM events")[0][0]
    path = f"/v1/accounts/{a}/deposits"
    problem(request("POST", path, body={"amount_minor": 1, "currency": "EUR"}), 400, "idempotency-key-required")
    problem(post(path, {"amount_minor": 1, "currency": "EUR"}, key="has space"), 400, "invalid-idempotency-key")
    problem(post(path, {"amount_minor": 1, "currency": "EUR"}, key="k" * 129), 400, "invalid-idempotency-key")
    problem(post(path, None, raw=b"{not json"), 400, "invalid-request")
    problem(post(path, {"amount_minor": 1, "currency": "EUR", "balance_minor": 10**9}), 400, "invalid-request")
    problem(post(path, None, raw=b'{"amount_minor":1.5,"currency":"EUR"}'), 400, "invalid-request")
    problem(post(path, None, raw=b'{"amount_minor":1e3,"currency":"EUR"}'), 400, "invalid-request")
    problem(post(path, {"amount_minor": "100", "currency": "EUR"}), 400, "invalid-request")
    problem(post(path, {"amount_minor": 10**15 + 1, "currency": "EUR"}), 400, "invalid-request")
    problem(post(path, {"amount_minor": 0, "currency": "EUR"}), 400, "invalid-request")
    problem(post(path, {"amount_minor": -5, "currency": "EUR"}), 400, "invalid-request")
    problem(post(path, None, raw=b'{"amount_minor":99999999999999999999999,"currency":"EUR"}'), 400, "invalid-request")
    problem(post(path, {"amount_minor": 1, "currency": "BTC"}), 400, "invalid-request")
    problem(post(path, None, raw=b'{"amount_minor":1,"currency":"EUR","reference":"\xff\xfe"}'), 400, "invalid-request")
    problem(post(path, None, raw=b"[" * 5000 + b"]" * 5000), 400, "invalid-request")
    problem(post(path, {"amount_minor": 1, "currency": "EUR", "reference": "x" * 20000}), 413, "body-too-large")
    problem(post(path, {"amount_minor": 1, "currency": "EUR"}, headers={"content-type": "text/plain"}), 415,
            "unsupported-media-type")
    problem(post("/v1/accounts/not-a-uuid/deposits", {"amount_minor": 1, "currency": "EUR"}), 400,
            "invalid-account-id")
    for bad in ('W/"3"', '"3', "*", '"1", "2"', "3a", '""'):
        problem(post(path, {"amount_minor": 1, "currency": "EUR"}, headers={"if-match": bad}), 400, "invalid-if-match")
    problem(request("GET", path), 405, "method-not-allowed")
    problem(request("GET", "/v1/nothing"), 404, "not-found")
    eq(sql("SELECT count(*) FROM events")[0][0], before, "nothing stored")
    eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{a}'"), [["50"]])


# ---- idempotency and If-Match -----------------------------------------------------------------

def test_same_key_same_body_replays_the_first_response():
    a = open_account()
    key = str(uuid.uuid4())
    s1, h1, b1 = deposit(a, 70, key=key)
    s2, h2, b2 = deposit(a, 70, key=key)
    eq((s1, s2), (201, 201))
    eq(b2["event_id"], b1["event_id"], "same event")
    eq(h2.get("idempotent-replayed"), "true")
    check("idempotent-replayed" not in h1, "first response is not a replay")
    eq(sql(f"SELECT count(*) FROM events WHERE command_id = '{key}'"), [["1"]])


def test_rejections_replay_too():
    a = open_account()
    key = str(uuid.uuid4())
    problem(withdraw(a, 10, key=key), 422, "insufficient-funds")
    deposit(a, 100)
    s, h, b = withdraw(a, 10, key=key)  # funds arrived, but this key already has its answer
    eq((s, b["type"], h.get("idempotent-replayed")), (422, PROBLEM + "insufficient-funds", "true"))


def test_same_key_other_body_is_422():
    a = open_account()
    key = str(uuid.uuid4())
    deposit(a, 70, key=key)
    problem(deposit(a, 71, key=key), 422, "idempotency-key-reused")
    b = open_account()
    problem(deposit(b, 70, key=key), 422, "idempotency-key-reused")


def test_concurrent_duplicates_apply_once():
    # The first request is held in flight (its account row locked in the database), so the
    # duplicates surely arrive while it runs: each must be told 409, none may apply.
    a = open_account()
    key = str(uuid.uuid4())
    locker = subprocess.Popen(
        ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", "55432", "-U", "ledgerline_owner", "-d", DB, "-c",
         f"BEGIN; SELECT 1 FROM account_state WHERE account_id = '{a}' FOR UPDATE; SELECT pg_sleep(3); COMMIT;"],
        env=dict(os.environ, PGPASSWORD="ledgerline_owner"), stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    with cf.ThreadPoolExecutor(17) as pool:
        first = pool.submit(deposit, a, 5, key=key)
        time.sleep(0.5)
        check(not first.done(), "the first request waits on the lock")
        dups = list(pool.map(lambda _: deposit(a, 5, key=key), range(16)))
        first = first.result()
    eq(locker.wait(timeout=30), 0, "the locking session")
    eq(first[0], 201, f"the first request: {first[2]}")
    eq(sorted({r[0] for r in dups}), [409], "duplicates while the first is in flight")
    eq({r[2]["type"] for r in dups}, {PROBLEM + "idempotency-key-in-use"})
    s, h, b = deposit(a, 5, key=key)
    eq((s, h.get("idempotent-replayed"), b["event_id"]), (201, "true", first[2]["event_id"]), "afterwards: replay")
    eq(sql(f"SELECT count(*) FROM events WHERE command_id = '{key}'"), [["1"]])
    eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{a}'"), [["5"]])


def test_if_match():
    a = open_account()
    s, h, _ = deposit(a, 10, headers={"if-match": '"1"'})
    eq((s, h["etag"]), (201, '"2"'))
    problem(deposit(a, 10, headers={"if-match": '"1"'}), 412, "version-mismatch")
    eq(deposit(a, 10, headers={"if-match": h["etag"]})[0], 201)


def test_a_retry_with_a_corrected_if_match_runs():
    a = open_account()
    deposit(a, 10)  # version 2
    key = str(uuid.uuid4())
    problem(deposit(a, 10, key=key, headers={"if-match": '"1"'}), 412, "version-mismatch")
    s, h, _ = deposit(a, 10, key=key, headers={"if-match": '"2"'})  # the client read the ETag again
    eq((s, h.get("etag")), (201, '"3"'))
    check("idempotent-replayed" not in h, "executed, not the stale 412 replayed")
    s, h, _ = deposit(a, 10, key=key, headers={"if-match": '"2"'})
    eq((s, h.get("idempotent-replayed"), h.get("etag")), (201, "true", '"3"'), "its retry replays")
    problem(deposit(a, 10, key=key, headers={"if-match": '"3"'}), 422, "idempotency-key-reused")
    problem(deposit(a, 10, key=key), 422, "idempotency-key-reused")
    eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{a}'"), [["20"]])


def test_a_replay_carries_the_first_answers_etag_and_location():
    key = str(uuid.uuid4())
    s1, h1, b1 = post("/v1/accounts", {"owner": "replayed", "currency": "EUR"}, key=key)
    s2, h2, b2 = post("/v1/accounts", {"owner": "replayed", "currency": "EUR"}, key=key)
    eq((s1, s2, h2.get("idempotent-replayed"), b2), (201, 201, "true", b1))
    eq((h2.get("etag"), h2.get("location")), (h1["etag"], h1["location"]), "open")
    a = b1["account_id"]
    key = str(uuid.uuid4())
    _, h1, _ = deposit(a, 50, key=key)
    deposit(a, 5)  # the account moves on; the replay still says what the first answer said
    _, h2, _ = deposit(a, 50, key=key)
    eq((h2.get("idempotent-replayed"), h2.get("etag")), ("true", h1["etag"]), "deposit")
    b = open_account()
    key = str(uuid.uuid4())
    _, h1, _ = transfer(a, b, 5, key=key)
    _, h2, _ = transfer(a, b, 5, key=key)
    eq((h2.get("idempotent-replayed"), h2.get("etag")), ("true", h1["etag"]), "transfer")
    problem(withdraw(a, 10**9, key=key), 422, "idempotency-key-reused")


def test_a_key_is_kept_for_its_retention_then_pruned():
    port, body = 18088, {"amount_minor": 5, "currency": "EUR"}
    env = {"LEDGERLINE_IDEMPOTENCY_RETENTION_SECONDS": "3"}
    with Service("command", ["--listen", f"127.0.0.1:{port}"], port=port, env=env):
        a = post("/v1/accounts", {"owner": "retention", "currency": "EUR"}, port=port)[2]["account_id"]
        key, other = str(uuid.uuid4()), str(uuid.uuid4())
        s1, _, b1 = post(f"/v1/accounts/{a}/deposits", body, key=key, port=port)
        post(f"/v1/accounts/{a}/deposits", body, key=other, port=port)
        s2, h2, b2 = post(f"/v1/accounts/{a}/deposits", body, key=key, port=port)
        eq((s1, s2, h2.get("idempotent-replayed"), b2["event_id"]), (201, 201, "true", b1["event_id"]),
           "within the retention: the first answer")
        time.sleep(3.5)
        s3, h3, b3 = post(f"/v1/accounts/{a}/deposits", body, key=key, port=port)
        eq(s3, 201, f"past the retention: {b3}")
        check("idempotent-replayed" not in h3 and b3["event_id"] != b1["event_id"], "past the retention: a new command")
        eq(b3["version"], b2["version"] + 2, "applied once more")
        eq(sql(f"SELECT now() - created_at < interval '3 s' FROM idempotency_keys WHERE key = '{key}'"), [["t"]],
           "the key taken again starts a new window")
        # Every expired key of the database goes first (this suite's others too): allow for many.
        wait_until(lambda: sql(f"SELECT count(*) FROM idempotency_keys WHERE key = '{other}'") == [["0"]], 60,
                   "the expired key pruned")
        check(prometheus(port)['ledgerline_idempotency_keys_pruned_total{service="command"}'] >= 1, "pruning counted")


# ---- the event store --------------------------------------------------------------------------

def test_events_are_append_only_in_the_database():
    a = open_account()
    err = sql_error(f"UPDATE events SET envelope = 'x' WHERE account_id = '{a}'")
    check("append-only" in err, err)
    check("append-only" in sql_error(f"DELETE FROM events WHERE account_id = '{a}'"), "delete refused")
    check("append-only" in sql_error("TRUNCATE events CASCADE"), "truncate refused")
    app = ("ledgerline", "ledgerline")
    check("permission denied" in sql_error(f"UPDATE events SET type = 'x' WHERE account_id = '{a}'", user=app),
          "app role cannot update")
    check("permission denied" in sql_error(f"DELETE FROM events WHERE account_id = '{a}'", user=app),
          "app role cannot delete")


def test_every_event_has_an_outbox_row():
    # No relay runs during this suite: every event committed is still in the outbox.
    a = open_account()
    deposit(a, 3)
    rows = sql(f"SELECT e.version, o.global_position IS NOT NULL FROM events e LEFT JOIN outbox o "
               f"USING (global_position) WHERE e.account_id = '{a}' ORDER BY e.version")
    eq(rows, [["1", "t"], ["2", "t"]])


def test_concurrent_clients_on_hot_accounts():
    accounts = [open_account(f"hot{i}") for i in range(4)]
    for a in accounts:
        deposit(a, 1000)
    accepted = {a: 1000 for a in accounts}
    lock = threading.Lock()

    def client(seed):
        rnd = random.Random(seed)
        for _ in range(40):
            x, y = rnd.sample(accounts, 2)
            amount = rnd.randint(1, 400)
            kind = rnd.random()
            if kind < 0.3:
                s, _, b = deposit(x, amount)
                if s == 201:
                    with lock:
                        accepted[x] += amount
            elif kind < 0.6:
                s, _, b = withdraw(x, amount)
                if s == 201:
                    with lock:
                        accepted[x] -= amount
            else:
                s, _, b = transfer(x, y, amount)
                if s == 201:
                    with lock:
                        accepted[x] -= amount
                        accepted[y] += amount
            check(s in (201, 422), f"unexpected {s}: {b}")

    with cf.ThreadPoolExecutor(12) as pool:
        list(pool.map(client, range(12)))
    ids = ",".join(f"'{a}'" for a in accounts)
    for a in accounts:
        versions = [int(r[0]) for r in sql(f"SELECT version FROM events WHERE account_id = '{a}' ORDER BY version")]
        eq(versions, list(range(1, len(versions) + 1)), f"contiguous versions of {a}")
        state = sql(f"SELECT balance_minor, version FROM account_state WHERE account_id = '{a}'")[0]
        eq(int(state[0]), accepted[a], f"balance of {a} equals acknowledged commands")
        eq(int(state[1]), len(versions), "state version")
        check(int(state[0]) >= 0, "never negative")
        # balance_after of each event never negative, and the chain verifies
        heads = {}
        for (env,) in sql(f"SELECT envelope FROM events WHERE account_id = '{a}' ORDER BY version"):
            for ok, what in verify_line(env.encode(), heads)[0]:
                check(ok, f"{a}: {what}")
            check('"balance_after_minor":-' not in env, "no negative balance_after")
    total = sum(int(r[0]) for r in sql(f"SELECT balance_minor FROM account_state WHERE account_id IN ({ids})"))
    eq(total, sum(accepted.values()), "money conserved")


def poison_run(errcode, status, slug):
    """Deposits to one account fail inside PostgreSQL with errcode; mixed with healthy accounts so
    they share batches. Healthy ones must get 201, poisoned ones status/slug."""
    poison = open_account("poison")
    healthy = [open_account("healthy") for _ in range(4)]
    # As the schema owner: make any state change of the poison account fail inside PostgreSQL.
    sql(f"""CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.account_id = '{poison}' THEN RAISE EXCEPTION 'poisoned' USING ERRCODE = '{errcode}';
            END IF; RETURN NEW; END $$;
            CREATE TRIGGER test_poison BEFORE UPDATE ON account_state FOR EACH ROW EXECUTE FUNCTION test_poison();""")
    try:
        targets = [poison if i % 5 == 0 else healthy[i % 4] for i in range(100)]
        with cf.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda a: (a, deposit(a, 1)), targets))
    finally:
        sql("DROP TRIGGER test_poison ON account_state; DROP FUNCTION test_poison()")
    for a, (s, _, b) in results:
        if a == poison:
            problem((s, {"content-type": "application/problem+json"}, b), status, slug)
        else:
            eq(s, 201, f"healthy neighbour failed: {b}")
    eq(sql(f"SELECT version FROM account_state WHERE account_id = '{poison}'"), [["1"]], "poison unchanged")
    eq(deposit(poison, 1)[0], 201, "the account works again once the fault is gone")


def test_a_failing_command_does_not_fail_its_batch_neighbours():
    poison_run("P0001", 500, "internal")  # not retryable: answered at once


def test_a_retryable_failure_is_retried_then_answered_503():
    series = 'ledgerline_dependency_errors_total{service="command",dependency="postgresql"}'
    before = prometheus(18080)[series]
    # serialization_failure (40001) is retried by the store (by SQLSTATE), then given up on.
    poison_run("40001", 503, "storage-unavailable")
    check(prometheus(18080)[series] >= before + 3, "each failed attempt is counted in /metrics")


def test_health_and_readiness():
    eq(request("GET", "/healthz")[0], 200)
    eq(request("GET", "/readyz")[0], 200)


if __name__ == "__main__":
    # No relay runs on this ledger: test_every_event_has_an_outbox_row finds every event's row.
    own_ledger(DB, ENV)
    os.environ.update(ENV)  # the services started below
    with Service("command", ["--listen", "127.0.0.1:18080"], port=18080):
        code = run(dict(globals()), "command_api")
    drop_ledger(DB)
    sys.exit(code)
