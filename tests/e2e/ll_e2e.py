"""Helpers for ledgerline's end-to-end tests: start real ledgerline processes against the local
stack, talk HTTP to them as a client would, and look into PostgreSQL and Kafka to check what
was stored. Standard library only; the SQL goes through psql, Kafka through kcat.

A test file defines functions named test_*; run(globals()) runs them in order and prints
"NAME: N passed, N failed" (tests/run.sh adds those up).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The MongoDB driver initialises itself when a program loads it and keeps counters in
# /dev/shm/mongoc-<pid>; a process killed with -9 leaves its file behind, and a later one given
# the same pid prints "Falling back to malloc for counters" on stderr, in front of the message a
# test reads. The counters only serve mongoc-stat: every program the suites start goes without.
os.environ.setdefault("MONGOC_DISABLE_SHM", "1")
BIN = os.environ.get("LL_TEST_BIN", os.path.join(ROOT, "build", "asan", "bin"))
LOG_DIR = os.path.join(ROOT, "var", "log", "tests")
LOG_ROTATE_BYTES = 256 * 1024 * 1024  # a log past this is moved aside to .1 when its process starts
PG = dict(host="127.0.0.1", port="55432", db="ledgerline")
# The stack's own ledger (`make run`: PG database and MongoDB database of this name). Suites may
# use it as a client would, through the API; whatever tampers works in a ledger of its own
# (ledger_env/own_ledger/drop_ledger), and the helpers below refuse this name.
SHARED_DB = "ledgerline"
OWNER = ("ledgerline_owner", "ledgerline_owner")
KAFKA = "127.0.0.1:59092"
# The JWT secret of every ledgerline process a test starts (Service sets it), and the tokens the
# helpers send unless told otherwise: an operator may do everything.
JWT_SECRET = "ledgerline-test-secret-0123456789abcdef"


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub="test-operator", role="operator", ttl=3600, secret=JWT_SECRET, header=None, claims=None):
    """An HS256 JWT as ledgerline-token makes it; header/claims override fields (hostile tests)."""
    now = int(time.time())
    h = {"alg": "HS256", "typ": "JWT"}
    h.update(header or {})
    c = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    c.update(claims or {})
    c = {k: v for k, v in c.items() if v is not None}
    signing = _b64url(json.dumps(h).encode()) + "." + _b64url(json.dumps(c).encode())
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + _b64url(sig)


OPERATOR = token()


def bearer(tok):
    return {"authorization": f"Bearer {tok}"}


class Service:
    """A ledgerline process started for a test, stopped (SIGTERM) or killed at the end."""

    def __init__(self, name, args, port=None, env=None, binary=None):
        if name == "relay" and "--metrics-listen" not in args:
            # Suites run several relays at once: each gets its own metrics port.
            args = args + ["--metrics-listen", f"127.0.0.1:{free_port()}"]
        self.name, self.args, self.port = name, args, port
        self.binary = binary or os.path.join(BIN, f"ledgerline-{name}")
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("LEDGERLINE_JWT_SECRET", JWT_SECRET)
        # Suites fire bursts from one token; the rate-limit tests set their own limits.
        self.env.setdefault("LEDGERLINE_RATE_LIMIT_PER_SECOND", "0")
        self.env.setdefault("LEDGERLINE_RATE_LIMIT_IP_PER_SECOND", "0")
        self.proc = None

    def start(self, wait_s=20):
        if self.port is not None and port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use: a leftover {self.name}? (pkill -f ledgerline-)")
        try:
            return self._start(wait_s)
        except Exception:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            raise

    def _start(self, wait_s):
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log_path = os.path.join(LOG_DIR, f"{self.name}.log")
        if os.path.exists(self.log_path) and os.path.getsize(self.log_path) > LOG_ROTATE_BYTES:
            os.replace(self.log_path, self.log_path + ".1")  # as deploy/local/stack.sh does
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary] + self.args,
                                     stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        if self.port is not None:
            deadline = time.time() + wait_s
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    status, _, _ = request("GET", "/healthz", port=self.port, timeout=1)
                    if status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            raise RuntimeError(f"{self.name} did not answer /healthz within {wait_s}s")
        return self

    def stop(self, timeout_s=20):
        """SIGTERM and wait; returns the exit code (ASan reports make it non-zero)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"{self.name} did not stop within {timeout_s}s of SIGTERM")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        code = self.stop()
        if code != 0 and exc[0] is None:
            raise AssertionError(f"{self.name} exited with {code} (sanitizer report?); see {self.log_path}")


_connections = {}


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def request(method, path, body=None, headers=None, port=18080, timeout=10, raw=None, auth=OPERATOR):
    """One HTTP request on a kept-alive connection per (thread, port). Returns (status, headers, json_or_text).
    auth: the bearer token to send (an operator's by default), or None for no Authorization header."""
    import threading

    key = (threading.get_ident(), port)
    hdrs = {"content-type": "application/json"} if body is not None or raw is not None else {}
    if auth is not None:
        hdrs.update(bearer(auth))
    hdrs.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    for attempt in range(2):
        conn = _connections.get(key)
        if conn is None:
            conn = _connections[key] = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.timeout = timeout  # a cached connection keeps the timeout it was made with otherwise
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                _connections.pop(key, None)
            ctype = resp.getheader("content-type", "")
            payload = json.loads(text) if "json" in ctype and text else text
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            _connections.pop(key, None)
            if attempt == 1:
                raise
        except Exception:
            conn.close()
            _connections.pop(key, None)
            raise


def post(path, body, key=None, port=18080, headers=None, raw=None, auth=OPERATOR):
    h = {"idempotency-key": key or str(uuid.uuid4())}
    h.update(headers or {})
    return request("POST", path, body=body, headers=h, port=port, raw=raw, auth=auth)


def sql(query, *, user=OWNER, db=None):
    """Runs SQL as the schema owner (or user=(name, password)) in db (the stack's by default);
    returns rows as lists of strings."""
    env = dict(os.environ, PGPASSWORD=user[1])
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", PG["host"], "-p",
                          PG["port"], "-U", user[0], "-d", db or PG["db"], "-c", query],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def not_shared(db):
    """db, unless it names the stack's own ledger: a test that tampers must never reach it."""
    if not isinstance(db, str) or not db or db.strip().strip('"').lower() == SHARED_DB:
        raise ValueError(f"refused: {db!r} is the stack's own ledger (make run); tamper in a ledger of the "
                         "suite's own (ledger_env/own_ledger)")
    return db


def sql_superuser(query, db):
    """Runs SQL as the postgres superuser over the stack's socket (tests that tamper on purpose), in
    db: a suite's own database, or "postgres" to create and drop one; never the stack's ledger."""
    out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                          "-h", os.path.join(ROOT, "var", "pg", "socket"), "-p", PG["port"], "-d", not_shared(db),
                          "-c", query], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return out.stdout


def ledger_env(db, name):
    """The settings of a suite's own ledger: database db (the services' and the owner's conninfo),
    MongoDB database db, and a topic and projector group named after name and this run."""
    stamp = time.strftime("%Y%m%d%H%M%S")
    conninfo = f"host=127.0.0.1 port={PG['port']} dbname={db}"
    return {
        "LEDGERLINE_PG_CONNINFO": f"{conninfo} user=ledgerline password=ledgerline",
        "LEDGERLINE_PG_MIGRATE_CONNINFO": f"{conninfo} user={OWNER[0]} password={OWNER[1]}",
        "LEDGERLINE_KAFKA_TOPIC_EVENTS": f"ledgerline.{name}-{stamp}",
        "LEDGERLINE_KAFKA_PROJECTOR_GROUP": f"{name}-{stamp}",
        "LEDGERLINE_MONGO_DATABASE": db,
    }


def own_ledger(db, env, topic_maker=None):
    """A ledgerline of a suite's own: database db made afresh and migrated, and the events topic
    env names (LEDGERLINE_KAFKA_TOPIC_EVENTS) created (by topic_maker(topic), create_topic unless
    told), so nothing another suite does reaches it. env also carries the conninfo for db
    (LEDGERLINE_PG_MIGRATE_CONNINFO)."""
    not_shared(db)  # it starts with a DROP DATABASE
    sql_superuser(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", db="postgres")
    sql_superuser(f"CREATE DATABASE {db} OWNER ledgerline_owner", db="postgres")
    out = subprocess.run([os.path.join(BIN, "ledgerline-migrate")], capture_output=True, text=True,
                         env=dict(os.environ, **env))
    eq(out.returncode, 0, f"migrate: {out.stderr}")
    (topic_maker or create_topic)(env["LEDGERLINE_KAFKA_TOPIC_EVENTS"])


def create_topic(topic):
    """Creates topic (6 partitions, infinite retention) as the stack's topics are made."""
    out = subprocess.run([os.path.join(os.path.dirname(BIN), "bench", "gen_events"), "--topic", topic, "--events", "0",
                          "--accounts", "0"], capture_output=True, text=True, timeout=60)
    eq(out.returncode, 0, f"topic {topic}: {out.stderr}")


def drop_ledger(db):
    """Removes what own_ledger made: database db and the MongoDB database db."""
    not_shared(db)
    sql_superuser(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", db="postgres")
    subprocess.run([os.path.join(os.path.dirname(BIN), "bench", "mongo_bulk"), "--uri", "mongodb://127.0.0.1:57017/",
                    "--database", db, "--drop"], capture_output=True, timeout=60)


def stop_all(services):
    """Stops every service; 1 when any exited non-zero (a sanitizer report), else 0."""
    code = 0
    for svc in services:
        if svc.stop() != 0:
            print(f"  FAIL {svc.name} exited non-zero (sanitizer report?); see {svc.log_path}")
            code = 1
    return code


def tamper_amount(account, version, old, new, *, db):
    """Rewrites amount_minor old -> new in one stored event of database db (a suite's own, never
    the stack's), as a superuser past the append-only trigger: what an attacker with database
    access would do. Verification must notice."""
    sql_superuser(f"""ALTER TABLE events DISABLE TRIGGER events_no_update_delete;
        UPDATE events SET envelope = replace(envelope, '"amount_minor":{old}', '"amount_minor":{new}')
         WHERE account_id = '{account}' AND version = {version};
        ALTER TABLE events ENABLE TRIGGER events_no_update_delete;""", not_shared(db))


def remove_event(account, version, *, db):
    """Deletes one stored event (and the account's outbox rows) of database db (a suite's own,
    never the stack's), as a superuser past the append-only trigger. Verification must notice."""
    sql_superuser(f"""ALTER TABLE events DISABLE TRIGGER events_no_update_delete;
        DELETE FROM outbox WHERE account_id = '{account}';
        DELETE FROM events WHERE account_id = '{account}' AND version = {version};
        ALTER TABLE events ENABLE TRIGGER events_no_update_delete;""", not_shared(db))


def sql_error(query, *, user=OWNER, db=None):
    """Runs SQL that must fail; returns psql's error text."""
    try:
        sql(query, user=user, db=db)
    except RuntimeError as e:
        return str(e)
    raise AssertionError(f"expected an error from: {query}")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def run(namespace, suite):
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"  ok   {name} ({time.time() - t0:.2f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"  FAIL {name}", flush=True)
            traceback.print_exc(limit=4, file=sys.stdout)
    print(f"{suite}: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


def stack(*args):
    """Runs deploy/local/stack.sh with args; returns its output."""
    out = subprocess.run([os.path.join(ROOT, "deploy", "local", "stack.sh"), *args], capture_output=True, text=True)
    if out.returncode not in (0, 1) or (out.returncode == 1 and args[0] != "status"):
        raise RuntimeError(f"stack.sh {' '.join(args)} failed: {out.stdout}{out.stderr}")
    return out.stdout + out.stderr


def wait_until(pred, timeout_s, what, interval_s=0.1):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if pred():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def prometheus(port, path="/metrics"):
    """Scrapes a Prometheus text page: {'name{labels}': float}."""
    s, _, text = request("GET", path, port=port)
    if s != 200:
        raise AssertionError(f"GET {path} on {port}: {s}")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def reconcile(account):
    """ledgerline-audit reconcile of one account: [] when the MongoDB read model equals the store."""
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", "reconcile", "--account", account],
                         capture_output=True, text=True, timeout=60)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"ledgerline-audit reconcile: {out.stderr}")
    return json.loads(out.stdout)


def kafka_messages(topic, since_ms):
    """Every message of topic produced since since_ms (epoch ms), as kcat -J dicts."""
    out = subprocess.run(["kcat", "-C", "-b", KAFKA, "-t", topic, "-o", f"s@{since_ms}", "-e", "-q", "-J"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"kcat failed: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


class paused_stack_services:
    """Stops the named stack services (e.g. a relay that would hold the publisher lock) for the
    duration of a suite and restarts those that were running."""

    def __init__(self, *names):
        self.names, self.were_up = names, []

    def __enter__(self):
        for name in self.names:
            if f"{name} " in stack("status", name) and " up" in stack("status", name):
                self.were_up.append(name)
                stack("down", name)
        return self

    def __exit__(self, *exc):
        for name in self.were_up:
            stack("up", name)
