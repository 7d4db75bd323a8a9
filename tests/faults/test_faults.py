#!/usr/bin/env python3
"""Fault injection: a steady mixed workload (deposits, withdrawals, transfers, payments of 2-3
legs, holds placed, captured and released, over a few hot accounts, concurrent clients) through the HTTP API while, in turn, each component is killed
with SIGKILL and restarted: the command service, the relay, the projector, the query API, the
Kafka broker, the MongoDB-protocol server (FerretDB) and PostgreSQL.

After each fault the workload stops, every command whose outcome the client never learned
(timeout, refused connection, 5xx) is retried with its Idempotency-Key until it gets a definite
answer, the pipeline drains, and then:
- every command answered 2xx is in the event store exactly once (deposits, withdrawals, holds,
  releases one event, transfers and captures to an account two, payments two per leg), and no
  refused command is;
- every stored event of the workload's accounts is in Kafka, and the MongoDB read model equals
  the store (ledgerline-audit reconcile);
- versions are contiguous; hash chains verify; no balance was ever negative (replayed);
- the bank invariant: the sum of the balances equals funding + deposits - withdrawals - captures
  out of the bank of the commands that were applied; held = the holds placed and not ended, per
  account as the store's holds table says; available never below the floor.
Recovery time: from the kill until a probe (deposit 201, then GET ?min_version= 200) succeeds.

Bounded form in make test (each fault once, a few seconds of load); `--soak` (make soak) runs
longer. Prints a table and writes it to var/log/faults-latest.md."""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ll_cluster import Workload, resolve_unknown  # noqa: E402
from ll_e2e import (BIN, ROOT, Service, check, eq, kafka_messages, paused_stack_services, post,  # noqa: E402
                    reconcile, request, sql, stack, wait_until)

CMD, QRY = 18680, 18681
TOPIC = "ledgerline.account-events"
FUNDING = 20_000  # small, so withdrawals and transfers are refused now and then
RUN = os.path.join(ROOT, "var", "run")


def probe():
    """One end-to-end probe: a deposit acknowledged and then readable. True when it worked."""
    try:
        s, _, b = request("POST", f"/v1/accounts/{PROBE[0]}/deposits", body={"amount_minor": 1, "currency": "EUR"},
                          headers={"idempotency-key": str(uuid.uuid4())}, port=CMD, timeout=2)
        if s != 201:
            return False
        s, _, _ = request("GET", f"/v1/accounts/{PROBE[0]}?min_version={b['version']}", port=QRY, timeout=3)
        return s == 200
    except Exception:
        return False


PROBE = [None]


def open_bank(prefix):
    """The workload's six accounts, each funded with FUNDING, and the probe's account (PROBE),
    through the command service on CMD. Returns the six ids."""
    accounts = []
    for i in range(6):
        s, _, b = post("/v1/accounts", {"owner": f"{prefix}-{i}", "currency": "EUR"}, port=CMD)
        eq(s, 201, "open")
        accounts.append(b["account_id"])
        eq(post(f"/v1/accounts/{b['account_id']}/deposits", {"amount_minor": FUNDING, "currency": "EUR"},
                port=CMD)[0], 201, "fund")
    PROBE[0] = post("/v1/accounts", {"owner": f"{prefix}-probe", "currency": "EUR"}, port=CMD)[2]["account_id"]
    return accounts


def start_pipeline(env, command_env=None):
    """The four services on the suites' ports with env (the command service also command_env);
    returns them, started and ready."""
    return [Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD,
                    env=dict(env, **(command_env or {}))).start(60),
            Service("relay", ["--poll-ms", "200"], env=env).start(),
            Service("projector", [], env=env).start(),
            Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY, env=env).start(60)]


def stop_pipeline(procs):
    for p in procs:
        if p.proc.poll() is None:
            p.stop()


def pid_of(name):
    with open(os.path.join(RUN, f"{name}.pid")) as f:
        return int(f.readline())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_infra(name):
    """SIGKILL a stack server and (PostgreSQL) its backends, as a machine crash would, and wait
    until they are all gone."""
    pid = pid_of(name)
    children = [int(c) for c in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                               text=True).stdout.split()]
    for p in [pid] + children:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not any(alive(p) for p in [pid] + children), 30, f"{name} to die")


def supervise(name):
    """Restarts a stack server as a supervisor would: again until it is up (bounded)."""
    def go():
        for attempt in range(10):
            try:
                stack("up", name)
                return
            except RuntimeError:
                time.sleep(1 + attempt)
        raise RuntimeError(f"{name} did not come back")
    return go


class Target:
    def __init__(self, name, kill, restart):
        self.name, self.kill, self.restart = name, kill, restart


def run_fault(target, services, accounts, seconds, clients, seed):
    since_ms = int(time.time() * 1000) - 2000
    with Workload(accounts, clients, seed, lambda: [CMD], depth=True) as wl:
        time.sleep(seconds / 3)
        t_kill = time.time()
        target.kill()
        time.sleep(0.5)
        restart_error = []

        def restart():
            try:
                target.restart()
            except Exception as e:  # reported below: a thread's exception is otherwise lost
                restart_error.append(e)

        restarter = threading.Thread(target=restart)
        restarter.start()
        recovered = None
        while time.time() - t_kill < 120 and not restart_error:
            if probe():
                recovered = time.time() - t_kill
                break
            time.sleep(0.1)
        restarter.join()
        if restart_error:
            raise restart_error[0]
        time.sleep(max(0.0, seconds - (time.time() - t_kill) - seconds / 3))
    unknown = resolve_unknown(wl.commands, lambda: [CMD])
    return wl.commands, unknown, recovered, since_ms


def events_of(c):
    """Events an applied command wrote."""
    if c["kind"] == "transfer":
        return 2
    if c["kind"] == "payment":
        return 2 * c["legs"]
    if c["kind"] == "capture" and "to_account_id" in c["body"]:
        return 2
    return 1


def verify(accounts, all_commands, since_ms):
    """The checks of the module docstring; returns (lost, duplicated) and raises on any breach."""
    applied = [c for c in all_commands if c["status"] == "applied"]
    refused = [c for c in all_commands if c["status"] == "refused"]
    check(not [c for c in all_commands if c["status"] == "unknown"], "every outcome resolved")
    ids = "','".join(accounts)
    rows = sql(f"SELECT command_id, count(*) FROM events WHERE account_id IN ('{ids}') GROUP BY command_id")
    stored = {k: int(n) for k, n in rows}
    lost = [c["key"] for c in applied if c["key"] not in stored]
    duplicated = [c["key"] for c in applied if stored.get(c["key"], 0) != events_of(c)]
    duplicated = [k for k in duplicated if k in stored]
    eq(lost, [], "acknowledged commands missing from the store")
    eq(duplicated, [], "commands stored more than once")
    eq([c["key"] for c in refused if c["key"] in stored], [], "refused commands stored")
    # Versions contiguous, and the bank invariant.
    gaps = sql(f"SELECT account_id FROM events WHERE account_id IN ('{ids}') GROUP BY account_id"
               " HAVING max(version) <> count(*) OR min(version) <> 1")
    eq(gaps, [], "versions contiguous")
    total = sum(int(b) for (b,) in sql(f"SELECT balance_minor FROM account_state WHERE account_id IN ('{ids}')"))
    deposits = sum(c["amount"] for c in applied if c["kind"] == "deposit")
    withdrawals = sum(c["amount"] for c in applied if c["kind"] == "withdraw")
    # A capture without a destination takes the money out, as a withdrawal does; one to an
    # account of the bank moves it inside, as transfers and payments do.
    withdrawals += sum(c["answer"]["captured_minor"] for c in applied
                       if c["kind"] == "capture" and "to_account_id" not in c["body"])
    eq(total, FUNDING * len(accounts) + deposits - withdrawals,
       "sum of balances = funding + deposits - withdrawals - captures out")
    # Holds: what is held is the sum of the holds placed and not ended, per the store's holds
    # table and per the commands; nothing available was spent twice.
    placed = {c["answer"]["hold_id"]: c["amount"] for c in applied if c["kind"] == "hold"}
    ended = {c["hold"] for c in applied if c["kind"] in ("capture", "release")}
    held = sum(int(h) for (h,) in sql(f"SELECT held_minor FROM account_state WHERE account_id IN ('{ids}')"))
    eq(held, sum(v for k, v in placed.items() if k not in ended), "held = holds placed and not captured or released")
    mismatched = sql(f"SELECT s.account_id FROM account_state s LEFT JOIN (SELECT account_id, sum(amount_minor) AS open"
                     f" FROM holds WHERE status = 'open' GROUP BY account_id) h USING (account_id)"
                     f" WHERE s.account_id IN ('{ids}') AND s.held_minor <> coalesce(h.open, 0)")
    eq(mismatched, [], "each account's held_minor = the sum of its open holds")
    overdrawn = sql(f"SELECT account_id FROM account_state WHERE account_id IN ('{ids}')"
                    " AND balance_minor - held_minor < -overdraft_limit_minor")
    eq(overdrawn, [], "available never below the floor")
    # Everything reached Kafka, and the read model equals the store.
    wait_until(lambda: sql("SELECT count(*) FROM outbox")[0][0] == "0", 120, "the outbox to drain")
    events = {eid for (eid,) in sql(f"SELECT event_id FROM events WHERE account_id IN ('{ids}')"
                                    f" AND occurred_at >= to_timestamp({since_ms / 1000})")}
    in_kafka = {json.loads(m["payload"])["event_id"] for m in kafka_messages(TOPIC, since_ms) if m["key"] in accounts}
    eq(sorted(events - in_kafka), [], "stored events missing from Kafka")
    for a in accounts:
        version = int(sql(f"SELECT version FROM account_state WHERE account_id = '{a}'")[0][0])
        # Readable through the API (the query API's live view, fed by Kafka) ...
        wait_until(lambda a=a, v=version: request("GET", f"/v1/accounts/{a}?min_version={v}", port=QRY)[0] == 200,
                   120, f"the read model of {a}")
    for a in accounts:
        # ... and in MongoDB, where the projector catches up at its own pace.
        wait_until(lambda a=a: reconcile(a) == [], 300, f"MongoDB to equal the store for {a}", interval_s=1)
        rows = audit("replay", "--account", a)
        negative = [r for r in rows if int(r["balance_minor"]) < 0]
        eq(negative, [], f"no negative balance in the replay of {a}")
        r = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "verify", "--account", a], capture_output=True,
                           text=True, timeout=60)
        eq(r.returncode, 0, f"hash chain of {a}: {r.stdout}")
    return len(lost), len(duplicated)


def audit(*args):
    r = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", *args], capture_output=True,
                       text=True, timeout=120)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"ledgerline-audit {' '.join(args)}: {r.stderr}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--soak", action="store_true", help="longer load per fault (make soak)")
    ap.add_argument("--seconds", type=float, help="load per fault (default 6, soak 60)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--only", help="one fault by name")
    args = ap.parse_args()
    seconds = args.seconds or (60 if args.soak else 6)
    random.seed(20261125)
    results, failures = [], 0
    procs = {}

    def start(name):
        spec = {"command": (["--listen", f"127.0.0.1:{CMD}"], CMD), "query": (["--listen", f"127.0.0.1:{QRY}"], QRY),
                "relay": (["--poll-ms", "200"], None), "projector": ([], None)}[name]
        procs[name] = Service(name, spec[0], port=spec[1]).start(wait_s=60)

    with paused_stack_services("command", "relay", "projector", "query"):
        for name in ("command", "relay", "projector", "query"):
            start(name)
        try:
            accounts = open_bank("fault")
            targets = [Target(n, (lambda n=n: procs[n].kill9()), (lambda n=n: start(n)))
                       for n in ("command", "relay", "projector", "query")]
            targets += [Target("kafka", lambda: kill_infra("kafka"), supervise("kafka")),
                        Target("ferretdb", lambda: kill_infra("ferretdb"), supervise("ferretdb")),
                        Target("postgres", lambda: kill_infra("postgres"), supervise("postgres"))]
            all_commands = []
            for i, target in enumerate(targets):
                if args.only and target.name != args.only:
                    continue
                t0 = time.time()
                try:
                    commands, unknown, recovered, since_ms = run_fault(target, procs, accounts, seconds, args.clients,
                                                                       i)
                    all_commands += commands
                    lost, dup = verify(accounts, all_commands, since_ms)
                    row = {"fault": f"kill -9 {target.name}", "commands": len(commands),
                           "acknowledged": sum(c["status"] == "applied" and not c.get("was_unknown") for c in commands),
                           "refused": sum(c["status"] == "refused" for c in commands),
                           "unknown_then_applied": sum(c.get("was_unknown") and c["status"] == "applied"
                                                       for c in commands),
                           "unknown_then_refused": sum(c.get("was_unknown") and c["status"] == "refused"
                                                       for c in commands),
                           "lost": lost, "duplicated": dup,
                           "recovery_s": round(recovered, 2) if recovered is not None else None,
                           "ok": recovered is not None}
                    print(f"  {'ok  ' if row['ok'] else 'FAIL'} kill -9 {target.name} ({time.time() - t0:.1f}s): "
                          f"{json.dumps(row)}", flush=True)
                    failures += not row["ok"]
                except Exception as e:
                    failures += 1
                    row = {"fault": f"kill -9 {target.name}", "error": str(e)[:300]}
                    print(f"  FAIL kill -9 {target.name}: {e}", flush=True)
                    # Leave the stack whole for the next fault.
                    for name in ("postgres", "kafka", "ferretdb"):
                        stack("up", name)
                    for name, p in list(procs.items()):
                        if p.proc.poll() is not None:
                            start(name)
                results.append(row)
        finally:
            for p in procs.values():
                if p.proc.poll() is None:
                    p.stop()
    table = ["| fault | commands | acknowledged | refused by the ledger | no answer, then applied on retry |"
             " no answer, then refused | lost | duplicated | recovery s |", "|" + "---|" * 9]
    for r in results:
        if "error" in r:
            table.append(f"| {r['fault']} | error: {r['error']} |||||||| ")
        else:
            table.append(f"| {r['fault']} | {r['commands']} | {r['acknowledged']} | {r['refused']} | "
                         f"{r['unknown_then_applied']} | {r['unknown_then_refused']} | {r['lost']} | {r['duplicated']} | "
                         f"{r['recovery_s']} |")
    text = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `tests/faults/test_faults.py "
            f"{'--soak ' if args.soak else ''}--seconds {seconds:g} --clients {args.clients}`.\n\n" + "\n".join(table) + "\n")
    print("\n" + text)
    os.makedirs(os.path.join(ROOT, "var", "log"), exist_ok=True)
    with open(os.path.join(ROOT, "var", "log", "faults-latest.md"), "w") as f:
        f.write(text)
    passed = len(results) - failures
    print(f"faults: {passed} passed, {failures} failed")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
