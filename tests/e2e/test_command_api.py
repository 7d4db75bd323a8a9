#!/usr/bin/env python3
"""End-to-end: the command service over HTTP against the real PostgreSQL of the local stack.
Happy paths, every error a client can cause, idempotency, If-Match, and a concurrency run whose
result is checked in the event store (versions contiguous, no lost update, no negative balance,
hash chains intact). Starts its own ledgerline-command (ASan build) on port 18080."""
import concurrent.futures as cf
import os
import random
import sys
import threading
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vectors"))
from check_vectors import verify_line  # noqa: E402
from ll_e2e import (Service, check, eq, paused_stack_services, post, prometheus, request, run, sql,  # noqa: E402
                    sql_error)

PROBLEM = "https://ledgerline.dev/problems/"


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
    a = open_account()
    key = str(uuid.uuid4())
    with cf.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: deposit(a, 5, key=key), range(32)))
    statuses = sorted({r[0] for r in results})
    check(set(statuses) <= {201, 409}, f"statuses {statuses}")
    event_ids = {r[2]["event_id"] for r in results if r[0] == 201}
    eq(len(event_ids), 1, "one event for all 201s")
    check(any(r[0] == 409 for r in results) or len(event_ids) == 1, "duplicates detected")
    eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{a}'"), [["5"]])


def test_if_match():
    a = open_account()
    s, h, _ = deposit(a, 10, headers={"if-match": '"1"'})
    eq((s, h["etag"]), (201, '"2"'))
    problem(deposit(a, 10, headers={"if-match": '"1"'}), 412, "version-mismatch")
    eq(deposit(a, 10, headers={"if-match": h["etag"]})[0], 201)


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
            for ok, what in verify_line(env.encode(), heads):
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
    # No relay may drain the outbox while test_every_event_has_an_outbox_row_or_was_published runs.
    with paused_stack_services("relay"), Service("command", ["--listen", "127.0.0.1:18080"], port=18080):
        code = run(dict(globals()), "command_api")
    sys.exit(code)
