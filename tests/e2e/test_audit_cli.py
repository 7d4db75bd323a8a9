#!/usr/bin/env python3
"""End-to-end: ledgerline-audit against a scripted history written through the command API,
outputs checked field by field (json and csv), tampering found by verify (exit 1), a transfer
traced, and bad arguments refused (exit 2). A ledger of its own (database, topic), so that
`verify` of every account costs what this suite wrote, whatever else the local stack holds."""
import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import (BIN, Service, check, eq, free_port, ledger_env, own_ledger, post, request, run, sql,  # noqa: E402
                    tamper_amount, token, wait_until)

CMD = 18080
DB = "ledgerline_audit_cli"
ENV = ledger_env(DB, "audit-cli")


def projector():
    """This suite's projector; its metrics on a port of its own (the stack's may be running)."""
    return Service("projector", ["--metrics-listen", f"127.0.0.1:{free_port()}"]).start()


def audit(*args):
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), *args], capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout, out.stderr


def cmd(path, body):
    s, _, b = post(path, body, port=CMD)
    check(s in (200, 201), f"{path}: {s} {b}")
    return b


def history():
    a = cmd("/v1/accounts", {"owner": "audited", "currency": "EUR"})["account_id"]
    b = cmd("/v1/accounts", {"owner": "other", "currency": "EUR"})["account_id"]
    cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 5000, "currency": "EUR", "reference": "salary, november"})
    cmd(f"/v1/accounts/{a}/withdrawals", {"amount_minor": 1200, "currency": "EUR"})
    time.sleep(1.1)
    # Half a second after the withdrawal and before the transfer, to the microsecond (whole
    # seconds could fall before the withdrawal).
    t = time.time() - 0.5
    mid = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"
    t = cmd("/v1/transfers", {"from_account_id": a, "to_account_id": b, "amount_minor": 800, "currency": "EUR"})
    return a, b, t["transfer_id"], mid


A, B, T, MID = None, None, None, None


def instant():
    """Now, to the microsecond, as RFC 3339."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def send(method, path, body):
    s, _, b = request(method, path, body=body, headers={"idempotency-key": str(uuid.uuid4())}, port=CMD)
    check(s in (200, 201), f"{method} {path}: {s} {b}")
    return b


def depth_history():
    """H: 1 opened, 2 deposit 1000, 3 hold of 300, 4 hold of 100, [instant HELD] 5 200 of the first
    captured to G (the rest released), 6 the second released, 7 limit 500, 8 a payment's leg of
    50 to G, 9 its fee of 5 to F, 10 frozen. G and F receive."""
    h = cmd("/v1/accounts", {"owner": "held", "currency": "EUR"})["account_id"]
    g = cmd("/v1/accounts", {"owner": "merchant", "currency": "EUR"})["account_id"]
    f = cmd("/v1/accounts", {"owner": "fees", "currency": "EUR"})["account_id"]
    cmd(f"/v1/accounts/{h}/deposits", {"amount_minor": 1000, "currency": "EUR"})
    first = send("POST", f"/v1/accounts/{h}/holds", {"amount_minor": 300, "currency": "EUR", "reference": "card"})
    second = send("POST", f"/v1/accounts/{h}/holds", {"amount_minor": 100, "currency": "EUR"})
    time.sleep(0.01)
    held_at = instant()
    time.sleep(0.01)
    capture = send("POST", f"/v1/holds/{first['hold_id']}/capture", {"amount_minor": 200, "to_account_id": g})
    send("POST", f"/v1/holds/{second['hold_id']}/release", {})
    send("PUT", f"/v1/accounts/{h}/credit-limit", {"overdraft_limit_minor": 500})
    payment = send("POST", "/v1/payments", {"legs": [
        {"from_account_id": h, "to_account_id": g, "amount_minor": 50, "currency": "EUR"},
        {"from_account_id": h, "to_account_id": f, "amount_minor": 5, "currency": "EUR"}], "reference": "order 7"})
    send("POST", f"/v1/accounts/{h}/freeze", {"reason": "audit test"})
    return {"h": h, "g": g, "f": f, "first": first["hold_id"], "second": second["hold_id"], "held_at": held_at,
            "capture": capture["transfer_id"], "payment": payment["payment_id"],
            "legs": [leg["transfer_id"] for leg in payment["legs"]]}


D = None


def test_events_json_field_by_field():
    rc, out, err = audit("--format", "json", "events", "--account", A)
    eq(rc, 0, err)
    rows = json.loads(out)
    eq([(r["version"], r["type"], r["amount_minor"], r["balance_after_minor"]) for r in rows],
       [(1, "AccountOpened", None, None), (2, "MoneyDeposited", 5000, 5000), (3, "MoneyWithdrawn", 1200, 3800),
        (4, "TransferSent", 800, 3000)])
    eq({r["account_id"] for r in rows}, {A})
    eq(rows[3]["transfer_id"], T)
    eq(rows[3]["counterparty_account_id"], B)
    eq(rows[0]["currency"], "EUR")
    check(all(r["actor"] == "operator:test-operator" for r in rows), "actor: the token's role and subject")


def test_events_filters():
    rc, out, _ = audit("--format", "json", "events", "--account", A, "--type", "MoneyWithdrawn")
    eq([r["version"] for r in json.loads(out)], [3])
    rc, out, _ = audit("--format", "json", "events", "--transfer", T)
    eq(sorted((r["account_id"], r["type"]) for r in json.loads(out)), sorted([(A, "TransferSent"), (B, "TransferReceived")]))
    rc, out, _ = audit("--format", "json", "events", "--account", A, "--until", MID)
    eq([r["version"] for r in json.loads(out)], [1, 2, 3])
    rc, out, _ = audit("--format", "json", "events", "--account", A, "--actor", "nobody")
    eq(json.loads(out), [])
    rc, out, _ = audit("--format", "json", "events", "--account", A, "--actor", "operator:test-operator")
    eq(len(json.loads(out)), 4)


def test_actor_is_filtered_before_the_limit():
    # Events of that actor come after many others in the store: --limit 1 must still find one.
    # The second subject has what JSON escapes in it (the envelope is searched for its text first).
    for sub in (f"audit-{uuid.uuid4().hex[:12]}", f'au"d\\it/{uuid.uuid4().hex[:12]}'):
        s, _, b = post("/v1/accounts", {"owner": "by-another", "currency": "EUR"}, port=CMD, auth=token(sub=sub))
        eq(s, 201, b)
        rc, out, err = audit("--format", "json", "events", "--actor", f"operator:{sub}", "--limit", "1")
        eq((rc, [r["account_id"] for r in json.loads(out)]), (0, [b["account_id"]]), err)
    rc, _, err = audit("events", "--actor", "x" * 200)
    eq(rc, 2, err)
    check("longer than" in err, err)


def test_csv_cells_are_never_formulas():
    # An Idempotency-Key is the client's text and becomes command_id: a spreadsheet must not run it.
    a = cmd("/v1/accounts", {"owner": "csv", "currency": "EUR"})["account_id"]
    keys = [f"{c}1+{uuid.uuid4().hex[:8]}" for c in "=+-@"]
    for key in keys:
        s, _, b = post(f"/v1/accounts/{a}/deposits", {"amount_minor": 1, "currency": "EUR"}, key=key, port=CMD)
        eq(s, 201, b)
    rc, out, err = audit("--format", "csv", "events", "--account", a)
    eq(rc, 0, err)
    got = [r["command_id"] for r in csv.DictReader(io.StringIO(out)) if r["type"] == "MoneyDeposited"]
    eq(got, ["'" + k for k in keys], "a leading ' keeps each a text cell")
    rc, out, _ = audit("--format", "json", "events", "--account", a)
    eq([r["command_id"] for r in json.loads(out)][1:], keys, "JSON keeps the value as it is")


def test_replay_csv():
    rc, out, err = audit("--format", "csv", "replay", "--account", A)
    eq(rc, 0, err)
    rows = list(csv.DictReader(io.StringIO(out)))
    eq([r["balance_minor"] for r in rows], ["0", "5000", "3800", "3000"])
    eq([r["status"] for r in rows], ["open"] * 4)
    eq(len(rows[0]["hash"]), 64)


def test_balance_as_of():
    rc, out, _ = audit("--format", "json", "balance", "--account", A, "--as-of", MID)
    eq((rc, json.loads(out)[0]["balance_minor"], json.loads(out)[0]["version"]), (0, 3800, 3))
    rc, _, err = audit("balance", "--account", A, "--as-of", "2000-01-01T00:00:00Z")
    eq(rc, 2)
    check("did not exist" in err, err)


def test_trace_transfer():
    rc, out, err = audit("--format", "json", "trace", "--transfer", T)
    eq(rc, 0, err)
    eq(len(json.loads(out)), 2)
    check("consistent" in err, err)


def test_table_is_aligned_for_people():
    rc, out, _ = audit("replay", "--account", A)
    lines = out.splitlines()
    eq(lines[0].split(), ["version", "occurred_at", "type", "amount_minor", "balance_minor", "held_minor",
                          "available_minor", "overdraft_limit_minor", "frozen", "status", "hash"])
    eq(len({line.index(" open ") for line in lines[1:]}), 1, "status column aligned")


def test_verify_finds_tampering_and_names_the_version():
    eq(audit("verify", "--account", A)[0], 0)
    victim = cmd("/v1/accounts", {"owner": "victim", "currency": "EUR"})["account_id"]
    for amount in (10, 20):
        cmd(f"/v1/accounts/{victim}/deposits", {"amount_minor": amount, "currency": "EUR"})
    tamper_amount(victim, 3, 20, 21, db=DB)
    rc, out, err = audit("--format", "json", "verify", "--account", victim)
    eq(rc, 1, err)
    row = json.loads(out)[0]
    eq((row["account_id"], row["ok"], row["first_bad_version"], row["events_checked"]), (victim, "NO", 3, 2))
    check("altered" in row["reason"], row["reason"])
    rc, out, err = audit("--format", "json", "verify")  # all accounts: the victim is among the broken
    eq(rc, 1)
    check(victim in {r["account_id"] for r in json.loads(out)}, "listed in the full verification")
    check("broken" in err, err)


def test_reconcile_store_against_read_models(services):
    a = cmd("/v1/accounts", {"owner": "reconciled", "currency": "EUR"})["account_id"]
    cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 42, "currency": "EUR"})
    wait_until(lambda: audit("reconcile", "--account", a)[0] == 0, 60, "the read model to agree")
    rc, _, err = audit("reconcile", "--account", a)  # rows streamed one by one; a summary on stderr
    check(rc == 0 and "reconciled 1 accounts against read-model generation" in err and "0 differ" in err, err)
    services["projector"].stop()  # the next account never reaches the read model
    b = cmd("/v1/accounts", {"owner": "unprojected", "currency": "EUR"})["account_id"]
    rc, out, err = audit("--format", "json", "reconcile", "--account", b)
    services["projector"] = projector()
    eq(rc, 1, err)
    eq((json.loads(out)[0]["account_id"], json.loads(out)[0]["difference"]), (b, "missing in the read model"))
    wait_until(lambda: audit("reconcile", "--account", b)[0] == 0, 60, "the restarted projector to catch up")


def test_events_list_holds_limits_freezes_and_payments():
    rc, out, err = audit("--format", "json", "events", "--account", D["h"])
    eq(rc, 0, err)
    rows = {r["version"]: r for r in json.loads(out)}
    eq([rows[v]["type"] for v in sorted(rows)],
       ["AccountOpened", "MoneyDeposited", "HoldPlaced", "HoldPlaced", "HoldCaptured", "HoldReleased",
        "CreditLimitSet", "TransferSent", "TransferSent", "AccountFrozen"])
    placed = rows[3]
    eq((placed["amount_minor"], placed["hold_id"], placed["balance_after_minor"], placed["held_after_minor"]),
       (300, D["first"], 1000, 300))
    check(placed["expires_at"] and placed["released_minor"] is None, placed)
    cap = rows[5]
    eq((cap["amount_minor"], cap["released_minor"], cap["hold_id"], cap["transfer_id"], cap["counterparty_account_id"],
        cap["balance_after_minor"], cap["held_after_minor"]), (200, 100, D["first"], D["capture"], D["g"], 800, 100))
    eq((rows[6]["amount_minor"], rows[6]["hold_id"], rows[6]["held_after_minor"]), (100, D["second"], 0))
    eq((rows[7]["overdraft_limit_minor"], rows[7]["amount_minor"], rows[7]["frozen"]), (500, None, "false"))
    eq([(rows[v]["payment_id"], rows[v]["transfer_id"], rows[v]["amount_minor"]) for v in (8, 9)],
       [(D["payment"], D["legs"][0], 50), (D["payment"], D["legs"][1], 5)])
    eq((rows[10]["reason"], rows[10]["frozen"], rows[10]["balance_after_minor"], rows[10]["overdraft_limit_minor"]),
       ("audit test", "true", 745, 500))
    eq((rows[1]["frozen"], rows[1]["held_after_minor"], rows[2]["payment_id"]), (None, None, None))
    rc, out, _ = audit("--format", "json", "events", "--type", "HoldCaptured", "--account", D["h"])
    eq([r["version"] for r in json.loads(out)], [5])


def test_trace_a_capture_to_an_account_and_payment_legs():
    rc, out, err = audit("--format", "json", "trace", "--transfer", D["capture"])
    eq(rc, 0, err)
    eq(sorted((r["account_id"], r["type"]) for r in json.loads(out)),
       sorted([(D["h"], "HoldCaptured"), (D["g"], "TransferReceived")]))
    check("consistent" in err and "hold captured" in err, err)
    for leg in D["legs"]:
        rc, out, err = audit("--format", "json", "trace", "--transfer", leg)
        eq(rc, 0, err)
        eq({r["payment_id"] for r in json.loads(out)}, {D["payment"]})
        check(f"payment {D['payment']}" in err, err)


def test_replay_and_balance_as_of_show_held_and_available():
    rc, out, err = audit("--format", "json", "balance", "--account", D["h"], "--as-of", D["held_at"])
    eq(rc, 0, err)
    row = json.loads(out)[0]
    eq((row["version"], row["balance_minor"], row["held_minor"], row["available_minor"], row["frozen"]),
       (4, 1000, 400, 600, "false"))
    rc, out, err = audit("--format", "json", "replay", "--account", D["h"])
    eq(rc, 0, err)
    last = json.loads(out)[-1]
    eq((last["balance_minor"], last["held_minor"], last["available_minor"], last["overdraft_limit_minor"],
        last["frozen"]), (745, 0, 745, 500, "true"))


def test_reconcile_compares_held_limit_and_frozen():
    h = D["h"]
    wait_until(lambda: audit("reconcile", "--account", h)[0] == 0, 60, "the read model to agree")
    a = cmd("/v1/accounts", {"owner": "reconciled-held", "currency": "EUR"})["account_id"]
    cmd(f"/v1/accounts/{a}/deposits", {"amount_minor": 100, "currency": "EUR"})
    send("POST", f"/v1/accounts/{a}/holds", {"amount_minor": 10, "currency": "EUR"})
    wait_until(lambda: audit("reconcile", "--account", a)[0] == 0, 60, "the read model to agree")
    # The store's row altered (this suite's own ledger): each figure is compared on its own.
    for change, difference in (("held_minor = held_minor + 1", "HELD DIFFERS at the same version"),
                               ("overdraft_limit_minor = 7", "overdraft limit differs at the same version"),
                               ("frozen = NOT frozen", "frozen differs at the same version")):
        sql(f"UPDATE account_state SET {change} WHERE account_id = '{a}'", db=DB)
        try:
            rc, out, err = audit("--format", "json", "reconcile", "--account", a)
        finally:
            sql(f"UPDATE account_state SET held_minor = 10, overdraft_limit_minor = 0, frozen = false"
                f" WHERE account_id = '{a}'", db=DB)
        eq(rc, 1, err)
        eq(json.loads(out)[0]["difference"], difference)
    eq(audit("reconcile", "--account", a)[0], 0)


def test_bad_arguments_exit_2():
    for args in (["nonsense"], ["replay"], ["events", "--account", "x"], ["events", "--type", "Nope"],
                 ["balance", "--account", A, "--as-of", "yesterday"], ["--format", "xml", "events"],
                 ["events", "--limit", "0"]):
        rc, _, err = audit(*args)
        eq(rc, 2, f"{args}: {err}")
        check(err.startswith("ledgerline-audit:") or "Usage" in err, err)
    rc, out, _ = audit("--help")
    eq(rc, 0)
    check("Examples" in out, "help has examples")


if __name__ == "__main__":
    services = {}
    own_ledger(DB, ENV)
    os.environ.update(ENV)  # the services and every ledgerline-audit run below
    with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD), Service("relay", ["--poll-ms", "200"]):
        services["projector"] = projector()
        A, B, T, MID = history()
        D = depth_history()
        tests = {n: (lambda f=f: f(services)) if f.__code__.co_argcount else f
                 for n, f in dict(globals()).items() if n.startswith("test_")}
        code = run(tests, "audit_cli")
        if services["projector"].stop() != 0:
            code = 1
    sys.exit(code)
