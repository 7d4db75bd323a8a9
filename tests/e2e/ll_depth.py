"""Shared by the ledger-depth suites (issue #33: test_holds, test_payments, test_limits_freeze):
a ledger of the suite's own (database and topic, made and dropped by the suite) with its own
ledgerline-command (ASan build) on a free port, sweeping expired holds every 200 ms, and the
client calls the suites make. Checks go through the command responses and the event store (psql).

    import ll_depth as d
    d.setup("holds")
    ... tests using d.post, d.open_account, d.problem, d.sql ...
    sys.exit(d.main(globals(), "holds"))
"""
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import ll_e2e  # noqa: E402
from ll_e2e import OPERATOR, Service, check, drop_ledger, eq, free_port, ledger_env, own_ledger, run, token  # noqa: E402,F401

PROBLEM = "https://ledgerline.dev/problems/"
DB = PORT = ENV = None


def setup(name):
    """Names the suite's ledger (database ledgerline_<name>) and picks its service's port."""
    global DB, PORT, ENV
    DB = "ledgerline_" + name.replace("-", "_")
    ENV = ledger_env(DB, name)
    ENV["LEDGERLINE_HOLD_EXPIRY_INTERVAL_MS"] = "200"
    PORT = free_port()


def main(namespace, suite):
    """Makes the ledger, runs the suite's tests against its own command service, drops the ledger."""
    own_ledger(DB, ENV)
    try:
        with Service("command", ["--listen", f"127.0.0.1:{PORT}"], port=PORT, env=ENV):
            code = run(namespace, suite)
    finally:
        drop_ledger(DB)
    return code


def customer(sub):
    return token(sub, "customer")


def post(path, body, key=None, auth=OPERATOR, headers=None):
    return ll_e2e.post(path, body, key=key, port=PORT, headers=headers, auth=auth)


def put(path, body, key=None, auth=OPERATOR, headers=None):
    h = {"idempotency-key": key or str(uuid.uuid4())}
    h.update(headers or {})
    return ll_e2e.request("PUT", path, body=body, headers=h, port=PORT, auth=auth)


def request(method, path, **kw):
    return ll_e2e.request(method, path, port=PORT, **kw)


def sql(query):
    return ll_e2e.sql(query, db=DB)


def metrics():
    return ll_e2e.prometheus(PORT)


def problem(resp, status, slug):
    """Checks that resp is the problem slug with status; returns its body."""
    got, headers, body = resp
    eq(got, status, f"status ({body})")
    check(headers["content-type"].startswith("application/problem+json"), f"problem content type: {headers}")
    eq(body["type"], PROBLEM + slug, "problem type")
    return body


def ok(resp, status=201):
    got, _, body = resp
    eq(got, status, f"status ({body})")
    return body


def open_account(owner="alice", currency="EUR"):
    return ok(post("/v1/accounts", {"owner": owner, "currency": currency}))["account_id"]


def deposit(acct, amount, currency="EUR", auth=OPERATOR):
    return post(f"/v1/accounts/{acct}/deposits", {"amount_minor": amount, "currency": currency}, auth=auth)


def withdraw(acct, amount, currency="EUR", auth=OPERATOR):
    return post(f"/v1/accounts/{acct}/withdrawals", {"amount_minor": amount, "currency": currency}, auth=auth)


def transfer(a, b, amount, currency="EUR", auth=OPERATOR):
    return post("/v1/transfers", {"from_account_id": a, "to_account_id": b, "amount_minor": amount,
                                  "currency": currency}, auth=auth)


def funded(amount, owner="alice", currency="EUR"):
    a = open_account(owner, currency)
    if amount:
        ok(deposit(a, amount, currency))
    return a


def state(acct):
    """The event store's state row: (version, balance, held, limit, frozen)."""
    rows = sql("SELECT version, balance_minor, held_minor, overdraft_limit_minor, frozen FROM account_state"
               f" WHERE account_id = '{acct}'")
    if not rows:
        return None
    v, b, h, lim, f = rows[0]
    return int(v), int(b), int(h), int(lim), f == "t"


def events(acct):
    """The account's event types in version order."""
    return [r[0] for r in sql(f"SELECT type FROM events WHERE account_id = '{acct}' ORDER BY version")]


def event_count():
    return int(sql("SELECT count(*) FROM events")[0][0])
