"""Helpers of the fault suites: the bank workload with its outcomes, and the views of a ledger of
a suite's own (its database, its projectors' partitions and lag) that several suites share."""
import json
import os
import random
import re
import subprocess
import threading
import time
import uuid

from ll_e2e import BIN, eq, post, prometheus, request

LAG = re.compile(r'ledgerline_projector_lag_events\{[^}]*partition="(\d+)"[^}]*\}')


def held(port):
    """The partitions the projector with /metrics on port holds (one lag series per partition)."""
    try:
        return {int(m.group(1)) for m in (LAG.match(k) for k in prometheus(port)) if m}
    except OSError:
        return set()


def lag(port):
    """Events the projector on port has still to apply, over its partitions."""
    return sum(v for k, v in prometheus(port).items() if k.startswith("ledgerline_projector_lag_events{"))


def projector_metric(port, name):
    return prometheus(port).get(f'{name}{{service="projector"}}', 0)


def ledger_sql(env, query):
    """Rows of query, as the schema owner, in the database of a suite's ledger (env from ledger_env)."""
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", env["LEDGERLINE_PG_MIGRATE_CONNINFO"], "-c", query],
                         capture_output=True, text=True)
    eq(out.returncode, 0, out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def ledger_reconcile(env):
    """ledgerline-audit reconcile of the whole ledger: [] when its read model equals its store."""
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", "reconcile"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, **env))
    if out.returncode not in (0, 1):
        raise RuntimeError(f"ledgerline-audit reconcile: {out.stderr}")
    return json.loads(out.stdout)


def send(cmd, port, timeout=5):
    """applied (2xx), refused (4xx: the ledger said no) or unknown (no answer, 5xx). An applied
    command's answer is kept in cmd["answer"] (a hold's id, for one)."""
    try:
        s, _, b = request("POST", cmd["path"], body=cmd["body"], headers={"idempotency-key": cmd["key"]}, port=port,
                          timeout=timeout)
    except Exception:
        return "unknown"
    if 200 <= s < 300:
        cmd["answer"] = b
        return "applied"
    if 400 <= s < 500 and s not in (408, 429):
        return "refused"
    return "unknown"


class Workload:
    """Client threads sending random commands (deposits, withdrawals, transfers) over accounts to
    the command services ports() names at each send; every command and its outcome is recorded
    (dicts: key, path, body, kind, amount, port, status "applied" | "refused" | "unknown", and
    sent_at, answered_at: epoch seconds of the first attempt).

    depth=True adds the ledger's depth (issue #33): payments of 2-3 legs from one account
    (kind "payment", legs), holds placed (kind "hold"; the answer's hold_id joins a shared pool),
    captured (kind "capture", of a pooled hold, partly, to another account or not) and released
    (kind "release"); a capture and a release may race for one hold."""

    def __init__(self, accounts, clients, seed, ports, depth=False):
        self.accounts, self.clients, self.ports, self.depth = accounts, clients, ports, depth
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.commands = []
        self.holds = []  # hold ids placed and not yet asked to end
        self.stop = threading.Event()

    def depth_command(self, rng, kind, a, amount):
        """path, body and extra fields of a depth command; None when there is no hold to end."""
        if kind == "payment":
            legs = [{"from_account_id": a, "to_account_id": rng.choice([x for x in self.accounts if x != a]),
                     "amount_minor": rng.randint(1, 2000), "currency": "EUR"} for _ in range(rng.randint(2, 3))]
            return "/v1/payments", {"legs": legs, "reference": "fault payment"}, {"legs": len(legs)}
        if kind == "hold":
            return f"/v1/accounts/{a}/holds", {"amount_minor": amount, "currency": "EUR"}, {"account": a}
        with self.lock:
            if not self.holds:
                return None
            hold = self.holds.pop(rng.randrange(len(self.holds)))
            if rng.random() < 0.2:
                self.holds.append(hold)  # the same hold asked again: a capture and a release may race
        if kind == "release":
            return f"/v1/holds/{hold}/release", {}, {"hold": hold}
        body = {"amount_minor": rng.randint(1, 500)}
        if rng.random() < 0.5:
            body["to_account_id"] = rng.choice(self.accounts)
        return f"/v1/holds/{hold}/capture", body, {"hold": hold}

    def one(self, rng):
        a, b = rng.sample(self.accounts, 2)
        kinds = ["deposit", "deposit", "withdraw", "transfer", "transfer"]
        if self.depth:
            kinds += ["payment", "hold", "hold", "capture", "release"]
        kind = rng.choice(kinds)
        amount = rng.randint(1, 5000)
        extra = {}
        if kind in ("payment", "hold", "capture", "release"):
            made = self.depth_command(rng, kind, a, amount)
            if made is None:
                kind, made = "hold", self.depth_command(rng, "hold", a, amount)
            path, body, extra = made
            amount = body.get("amount_minor", 0)
        elif kind == "deposit":
            path, body = f"/v1/accounts/{a}/deposits", {"amount_minor": amount, "currency": "EUR"}
        elif kind == "withdraw":
            path, body = f"/v1/accounts/{a}/withdrawals", {"amount_minor": amount, "currency": "EUR"}
        else:
            path, body = "/v1/transfers", {"from_account_id": a, "to_account_id": b, "amount_minor": amount,
                                           "currency": "EUR"}
        cmd = {"key": str(uuid.uuid4()), "path": path, "body": body, "kind": kind, "amount": amount,
               "was_unknown": False, "port": rng.choice(self.ports()), **extra}
        cmd["sent_at"] = time.time()
        cmd["status"] = send(cmd, cmd["port"])
        cmd["answered_at"] = time.time()
        with self.lock:
            self.commands.append(cmd)
            if kind == "hold" and cmd["status"] == "applied":
                self.holds.append(cmd["answer"]["hold_id"])
        if cmd["status"] == "unknown":
            time.sleep(0.2)  # as a client backs off when the service does not answer

    def client(self, i):
        rng = random.Random(self.rng.random() + i)
        while not self.stop.is_set():
            self.one(rng)
            time.sleep(0.005)  # steady load the projector can follow on this machine

    def __enter__(self):
        self.threads = [threading.Thread(target=self.client, args=(i,)) for i in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


class Deposits(threading.Thread):
    """Deposits of 1 over the accounts from clients threads until stopped, client i through
    ports[i % len(ports)]; counts what was acknowledged per account (acked) and keeps every other
    answer (errors)."""

    def __init__(self, accounts, ports, clients):
        super().__init__(daemon=True)
        self.accounts, self.ports, self.clients = accounts, ports, clients
        self.stop, self.acked, self.errors = threading.Event(), {}, []
        self.lock = threading.Lock()

    def client(self, i):
        port = self.ports[i % len(self.ports)]
        while not self.stop.is_set():
            account = self.accounts[i % len(self.accounts)]
            s, _, body = post(f"/v1/accounts/{account}/deposits", {"amount_minor": 1, "currency": "EUR"}, port=port)
            with self.lock:
                if s == 201:
                    self.acked[account] = self.acked.get(account, 0) + 1
                else:
                    self.errors.append((s, body))
            i += self.clients
            time.sleep(0.01)

    def run(self):
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def resolve_unknown(commands, ports, budget_s=120):
    """Gives every command whose outcome the client never learned a definite answer by retrying
    it with its key (bounded in all), at a command service other than the one that did not
    answer when there is one. Returns those commands, marked was_unknown."""
    unknown = [c for c in commands if c["status"] == "unknown"]
    deadline = time.time() + budget_s
    for c in unknown:
        c["was_unknown"] = True
        while time.time() < deadline:
            others = [p for p in ports() if p != c["port"]] or ports()
            c["status"] = send(c, random.choice(others))
            if c["status"] != "unknown":
                break
            time.sleep(0.5)
    return unknown
