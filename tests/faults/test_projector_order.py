#!/usr/bin/python3
"""Faults: the orders that hurt the projector (#32). Whatever order, duplication or loss the topic
delivers, across restarts and generation switches, no acknowledged event stays missing from the
read model for more than 10 s, also for an account that never moves again; and the read model
never shows a version it does not hold every event below.

Each test makes one of those orders by hand in a ledger of this suite's own (database, MongoDB
database, topic, group): the relay stopped while commands are acknowledged, copies of stored
envelopes produced with kcat in the order the test wants, outbox rows deleted as a relay that
published them would, the event store made unreachable, a halt recorded as a killed projector
left it. Then it waits at most 10 s for `ledgerline-audit reconcile` to find the account's read
model equal to the store, and for a query API that reads only the read model (live view off) to
show its newest version. Needs PostgreSQL, Kafka and FerretDB."""
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ll_e2e import (BIN, KAFKA, Service, check, create_topic, drop_ledger, eq, kafka_messages, ledger_env,  # noqa: E402
                    own_ledger, post, prometheus, request, run, sql_superuser, wait_until)

CMD, QRY, METRICS = 18680, 18681, 18682
DB = "ledgerline_projector_order"
ENV = ledger_env(DB, "projector-order")
TOPIC = ENV["LEDGERLINE_KAFKA_TOPIC_EVENTS"]
ENV["LEDGERLINE_KAFKA_TOPIC_DLQ"] = f"{TOPIC}.dlq"
ENV["LEDGERLINE_QUERY_VIEW_ACCOUNTS_MAX"] = "0"  # the query API answers from the read model alone
ENV["LEDGERLINE_PROJECTOR_HEAL_EVENTS_MAX"] = "100"  # a gap of a few hundred events takes several rounds
PROJECTOR_ARGS = ["--metrics-ms", "1000", "--metrics-listen", f"127.0.0.1:{METRICS}"]
BOUND_S = 10  # the goal: no acknowledged event missing longer than this
OWNER_DSN = ENV["LEDGERLINE_PG_MIGRATE_CONNINFO"]


def metric(name):
    return prometheus(METRICS).get(f'ledgerline_projector_{name}{{service="projector"}}', 0)


def events_total(outcome):
    return prometheus(METRICS).get(f'ledgerline_projector_events_total{{service="projector",outcome="{outcome}"}}', 0)


def holes(outcome):
    return prometheus(METRICS).get(f'ledgerline_projector_holes_total{{service="projector",outcome="{outcome}"}}', 0)


def owner_sql(query):
    out = subprocess.run(["psql", "-X", "-q", "-At", OWNER_DSN, "-c", query], capture_output=True, text=True)
    eq(out.returncode, 0, out.stderr)
    return out.stdout.strip()


def open_account(owner):
    s, _, b = post("/v1/accounts", {"owner": owner, "currency": "EUR"}, port=CMD)
    eq(s, 201, b)
    return b["account_id"]


def deposit(account, amount):
    s, _, b = post(f"/v1/accounts/{account}/deposits", {"amount_minor": amount, "currency": "EUR"}, port=CMD)
    eq(s, 201, b)
    return b["version"]


def stored(account, version):
    return owner_sql(f"SELECT envelope FROM events WHERE account_id = '{account}' AND version = {version}")


def produce(key, *values):
    """Produces values in order, keyed by key, to the partition the relay would use (murmur2)."""
    out = subprocess.run(["kcat", "-P", "-b", KAFKA, "-t", TOPIC, "-k", key, "-X", "partitioner=murmur2_random",
                          "-D", "\x1e"], input="\x1e".join(values), capture_output=True, text=True, timeout=30)
    eq(out.returncode, 0, out.stderr)


def published_by_hand(account):
    """What a relay that published the account's outbox rows leaves: no rows."""
    owner_sql(f"DELETE FROM outbox WHERE account_id = '{account}'")


def reconciled(account):
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", "reconcile", "--account",
                          account], capture_output=True, text=True, timeout=60, env=dict(os.environ, **ENV))
    if out.returncode not in (0, 1):
        raise RuntimeError(f"ledgerline-audit reconcile: {out.stderr}")
    return json.loads(out.stdout) == []


def everything_reconciled():
    """ledgerline-audit reconcile over every account of the ledger: none differs."""
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", "reconcile"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, **ENV))
    if out.returncode not in (0, 1):
        raise RuntimeError(f"ledgerline-audit reconcile: {out.stderr}")
    return json.loads(out.stdout) == []


def visible(account, version):
    s, _, b = request("GET", f"/v1/accounts/{account}?min_version={version}", port=QRY)
    return s == 200 and b.get("version") == version


def readable_within_bound(account, version, since, what):
    """The account's read model equals the store, its newest version readable, within BOUND_S of since."""
    left = BOUND_S - (time.time() - since)
    wait_until(lambda: reconciled(account) and visible(account, version), max(left, 0.5),
               f"{what}: version {version} of {account} in the read model within {BOUND_S} s")


def start_projector(ledger):
    """Starts the projector and returns once it has its partitions: the bound counts from there
    (a member killed with -9 holds them until its session times out, 6 s, which no projector can
    shorten)."""
    ledger["projector"] = Service("projector", PROJECTOR_ARGS, port=METRICS, env=ENV).start()
    wait_until(lambda: any(k.startswith("ledgerline_projector_lag_events{") for k in prometheus(METRICS)), 60,
               "the projector's partitions assigned")
    return time.time()


def restart_projector(ledger):
    ledger["projector"].kill9()
    return start_projector(ledger)


class relay_stopped:
    def __init__(self, ledger):
        self.ledger = ledger

    def __enter__(self):
        eq(self.ledger["relay"].stop(), 0, "the relay's exit code")

    def __exit__(self, *exc):
        self.ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()


def projected_once(account):
    wait_until(lambda: reconciled(account), 30, f"{account} projected")


# ---- the orders -------------------------------------------------------------------------------

def test_a_copy_of_the_last_event_before_the_relay_publishes_the_others(ledger):
    """The issue's reproduction: version 4 produced again by hand while the projector is down,
    before the relay publishes versions 2-4; then the projector starts with nothing remembered."""
    a = open_account("order-repro")
    projected_once(a)
    with relay_stopped(ledger):
        for amount in (7, 7, 7):
            deposit(a, amount)
        ledger["projector"].kill9()
        produce(a, stored(a, 4))
    wait_until(lambda: owner_sql(f"SELECT count(*) FROM outbox WHERE account_id = '{a}'") == "0", 30,
               "the relay published the account")
    since = start_projector(ledger)
    readable_within_bound(a, 4, since, "a later copy first")
    v = deposit(a, 7)  # and it keeps moving
    readable_within_bound(a, v, time.time(), "the next deposit")


def test_a_reordered_partition_v4_v3_v4(ledger):
    """[v4, v3, v4] in one partition, v2 projected before, v3 published (its outbox row gone) but
    its copy arriving after v4's, the projector remembering nothing."""
    a = open_account("order-434")
    deposit(a, 5)
    projected_once(a)
    with relay_stopped(ledger):
        deposit(a, 6)
        deposit(a, 7)
        ledger["projector"].kill9()
        published_by_hand(a)
        produce(a, stored(a, 4), stored(a, 3), stored(a, 4))
        since = start_projector(ledger)
        readable_within_bound(a, 4, since, "[v4, v3, v4]")


def test_the_earlier_events_arrive_batches_after_a_later_one(ledger):
    """v4 alone first (taken on the store's word: v3 left the outbox), projected and committed;
    the copies of v2 and v3 come in a later batch (a relay sending them again). The later copies
    are not mere duplicates: the account is read again and brought up to the store."""
    a = open_account("order-later")
    projected_once(a)
    with relay_stopped(ledger):
        for amount in (1, 2, 3):
            deposit(a, amount)
        ledger["projector"].kill9()
        published_by_hand(a)
        produce(a, stored(a, 4))
        start_projector(ledger)
        wait_until(lambda: events_total("applied") >= 1, 30, "v4 projected on the store's word")
        found = holes("found")
        since = time.time()
        produce(a, stored(a, 2), stored(a, 3))
        readable_within_bound(a, 4, since, "v2 and v3 after v4")
        wait_until(lambda: holes("healed") >= found + 1, 5, "the hole counted as found and healed")


def command(method, path, body):
    """A command of #33's routes (an operator's token: limits and freezes are theirs)."""
    s, _, b = request(method, path, body=body, headers={"idempotency-key": str(uuid.uuid4())}, port=CMD)
    check(s in (200, 201), f"{method} {path}: {s} {b}")
    return b


def test_an_account_trusted_at_a_hold_a_limit_or_a_freeze(ledger):
    """The projector takes an account it does not remember on the event store's word: the state
    once the event before the batch's first applied, from that event alone (ll_account_at). Here
    that event is a HoldPlaced, a CreditLimitSet or an AccountFrozen (projected, then the
    projector stopped: it remembers nothing), and the next one checks the figures it carries
    (held, limit, frozen after): taken right, it applies on the store's word, nothing halts, and
    the read model equals the store in held, limit and frozen too (reconcile compares them)
    within the bound."""
    cases = {}
    for case in ("hold", "limit", "freeze"):
        a = open_account(f"order-trusted-{case}")
        deposit(a, 100)
        cases[case] = a
    command("POST", f"/v1/accounts/{cases['hold']}/holds", {"amount_minor": 30, "currency": "EUR"})  # v3
    command("PUT", f"/v1/accounts/{cases['limit']}/credit-limit", {"overdraft_limit_minor": 100})  # v3
    command("POST", f"/v1/accounts/{cases['freeze']}/freeze", {"reason": "order test"})  # v3
    for a in cases.values():
        projected_once(a)
    halted = metric("halted_accounts")
    eq(ledger["projector"].stop(), 0, "the projector's exit code")  # its offsets committed past v3
    s, _, b = post(f"/v1/accounts/{cases['hold']}/withdrawals", {"amount_minor": 60, "currency": "EUR"}, port=CMD)
    eq(s, 201, b)  # v4: available 70 - 60, still held 30
    s, _, b = post(f"/v1/accounts/{cases['limit']}/withdrawals", {"amount_minor": 150, "currency": "EUR"}, port=CMD)
    eq(s, 201, b)  # v4: balance -50, within the limit
    deposit(cases["freeze"], 5)  # v4: a credit lands on a frozen account
    since = start_projector(ledger)
    for case, a in cases.items():
        readable_within_bound(a, 4, since, f"trusted at a {case}")
    wait_until(lambda: metric("store_states_total") >= 3, 5, "the three taken on the store's word")
    eq(metric("halted_accounts"), halted, "nothing halted")
    want = {"hold": (40, 30, 0, False), "limit": (-50, 0, 100, False), "freeze": (105, 0, 0, True)}
    for case, a in cases.items():
        s, _, b = request("GET", f"/v1/accounts/{a}", port=QRY)
        eq(s, 200, b)
        got = tuple(b.get(k) for k in ("balance_minor", "held_minor", "overdraft_limit_minor", "frozen"))
        eq(got, want[case], f"{case}: balance, held, limit, frozen as the query API reads them")


def test_an_account_behind_a_gap_when_the_projector_restarts(ledger):
    """A gap the store cannot close at that moment (unreachable), the projector killed meanwhile,
    the store reachable again, and the account never moving again: its events appear."""
    a = open_account("order-waiting")
    projected_once(a)
    with relay_stopped(ledger):
        deposit(a, 4)
        deposit(a, 5)
        sql_superuser(f"REVOKE CONNECT ON DATABASE {DB} FROM PUBLIC;"
                      f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{DB}'"
                      " AND usename = 'ledgerline'", db="postgres")
        try:
            produce(a, stored(a, 3))  # v2 skipped by the topic, the store unreachable
            wait_until(lambda: metric("waiting_accounts") == 1, 30, "the account waits behind its gap")
            ledger["projector"].kill9()
        finally:
            sql_superuser(f"GRANT CONNECT ON DATABASE {DB} TO PUBLIC", db="postgres")
        since = start_projector(ledger)
        readable_within_bound(a, 3, since, "after the store came back")
    wait_until(lambda: metric("waiting_accounts") == 0, 5, "nothing waits")


def test_an_account_behind_a_gap_when_the_store_comes_back(ledger):
    """The same without a restart: the batch is tried again until the store answers, then the
    gap closes within the bound (the store's back-off never outlasts the outage)."""
    a = open_account("order-store-back")
    projected_once(a)
    with relay_stopped(ledger):
        deposit(a, 4)
        deposit(a, 5)
        sql_superuser(f"REVOKE CONNECT ON DATABASE {DB} FROM PUBLIC;"
                      f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{DB}'"
                      " AND usename = 'ledgerline'", db="postgres")
        try:
            produce(a, stored(a, 3))
            wait_until(lambda: metric("waiting_accounts") == 1, 30, "the account waits behind its gap")
            time.sleep(6)  # longer than the store's back-off after a failed read
        finally:
            sql_superuser(f"GRANT CONNECT ON DATABASE {DB} TO PUBLIC", db="postgres")
        since = time.time()
        readable_within_bound(a, 3, since, "after the store came back, no restart")
    wait_until(lambda: metric("waiting_accounts") == 0, 5, "nothing waits")


def test_a_gap_larger_than_one_read_of_the_store(ledger):
    """A gap of 250 events with projector_heal_events_max 100, the account remembered before
    and its events taken as published: closed in three rounds of one batch, none of them
    trusting the store's word for the rest."""
    a = open_account("order-large-gap")
    projected_once(a)
    with relay_stopped(ledger):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: deposit(a, 1), range(250)))
        published_by_hand(a)
        last = int(owner_sql(f"SELECT version FROM account_state WHERE account_id = '{a}'"))
        since = time.time()
        produce(a, stored(a, last))
        readable_within_bound(a, last, since, "a gap of 250 events")


def test_an_undecodable_copy_of_the_only_new_event(ledger):
    """The one event an account gets arrives unreadable (dead-lettered) and the relay is down:
    the account is brought up to the store from the copy's key."""
    a = open_account("order-undecodable")
    projected_once(a)
    with relay_stopped(ledger):
        v = deposit(a, 9)
        since = time.time()
        produce(a, '{"not": "an event"')
        readable_within_bound(a, v, since, "after an undecodable copy")


def test_a_forged_copy_is_replaced_by_the_stored_event(ledger):
    """A copy of version 2 that does not link to version 1 (forged, or broken on the way), while
    the store holds a valid version 2: the store's is applied, the copy dead-lettered, nothing
    halts."""
    a = open_account("order-forged")
    projected_once(a)
    halted = metric("halted_accounts")
    dlq_since = int(time.time() * 1000) - 1000
    with relay_stopped(ledger):
        deposit(a, 11)
        forged = json.loads(stored(a, 2))
        forged.update({"prev_hash": "a" * 64, "hash": "b" * 64})
        since = time.time()
        produce(a, json.dumps(forged, separators=(",", ":"), sort_keys=True))
        readable_within_bound(a, 2, since, "a forged copy")
    # /metrics shows a snapshot taken after each batch (at most 50 ms later): waited for.
    wait_until(lambda: metric("replaced_events_total") >= 1, 5, "counted as replaced")
    eq(metric("halted_accounts"), halted, "nothing halted")
    dead = [m for m in kafka_messages(f"{TOPIC}.dlq", dlq_since) if m["key"] == a]
    eq(len(dead), 1, "the forged copy dead-lettered once")


def test_a_halted_account_keeps_the_events_before_the_halt(ledger):
    """A projector killed after it recorded a halt at version 3 and before it committed the batch
    that held it, whose copy of version 2 never came (lost, or still to be published): started
    again, it brings the account up to its halt from the store (version 2) and keeps version 3
    halted, though every copy in its batch is at or past the halt."""
    from pymongo import MongoClient

    a = open_account("order-halted")
    projected_once(a)
    with relay_stopped(ledger):
        deposit(a, 3)
        deposit(a, 4)
        ledger["projector"].kill9()
        with MongoClient("mongodb://127.0.0.1:57017/") as mongo:
            gen = mongo[DB]["read_model_meta"].find_one({"_id": "active"})["generation"]
            halts = mongo[DB][f"halts_g{gen}"]
            halts.replace_one({"_id": a}, {"_id": a, "version": 3, "reason": "test: halted",
                                           "at_us": int(time.time() * 1e6)}, upsert=True)
            try:
                produce(a, stored(a, 3))
                since = start_projector(ledger)
                wait_until(lambda: visible(a, 2), max(BOUND_S - (time.time() - since), 0.5),
                           "version 2 written before the halt")
                time.sleep(1)
                s, _, b = request("GET", f"/v1/accounts/{a}", port=QRY)
                eq((s, b.get("version")), (200, 2), "version 3 stays halted")
            finally:
                halts.delete_one({"_id": a})  # for the tests after this one
                ledger["projector"].kill9()
    start_projector(ledger)


def test_a_rebuild_with_no_settling(ledger):
    """ledgerline-rebuild --settle-seconds 0 while deposits flow into 40 accounts, the load stopped
    just after it switched: the projector projects into the new generation again from where it
    resumes, so within 10 s every account equals the store, also those that moved between the
    rebuild's last catch-up and the projector's following the switch (written to the old
    generation meanwhile), and none moves again."""
    accounts = [open_account(f"order-rebuild-{i}") for i in range(40)]
    stop = threading.Event()
    errors = []

    def load():
        i = 0
        while not stop.is_set():
            try:
                deposit(accounts[i % len(accounts)], 1)
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))
            i += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    proc = subprocess.Popen([os.path.join(BIN, "ledgerline-rebuild"), "--settle-seconds", "0", "--from",
                             "store"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **ENV))
    try:
        try:
            for line in proc.stderr:
                if line.startswith("switched to generation"):
                    break
            # Deposits go on for a moment: the projector takes up to a second to see the switch
            # and writes them to the old generation meanwhile; the rebuild no longer catches up.
            time.sleep(0.8)
        finally:
            stop.set()
            for w in workers:
                w.join()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    eq(proc.returncode, 0, f"rebuild: {err}")
    eq(errors, [], "deposits")
    since = time.time()
    wait_until(lambda: everything_reconciled(), BOUND_S, "every account in the read model within 10 s")


def commit_offsets_for(group, generation_tag):
    """Commits, for consumer group `group`, every partition of the topic at its log end with
    metadata generation_tag ("g<N>"), as a projector that had projected everything into
    generation N and then died would leave them (librdkafka through ctypes: the group must have
    no live member)."""
    import ctypes

    rk_lib = ctypes.CDLL("librdkafka.so.1")
    rk_lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    rk_lib.rd_kafka_new.restype = ctypes.c_void_p
    rk_lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    rk_lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.c_size_t]

    class TP(ctypes.Structure):
        _fields_ = [("topic", ctypes.c_char_p), ("partition", ctypes.c_int32), ("offset", ctypes.c_int64),
                    ("metadata", ctypes.c_void_p), ("metadata_size", ctypes.c_size_t), ("opaque", ctypes.c_void_p),
                    ("err", ctypes.c_int), ("_private", ctypes.c_void_p)]

    class TPList(ctypes.Structure):
        _fields_ = [("cnt", ctypes.c_int), ("size", ctypes.c_int), ("elems", ctypes.POINTER(TP))]

    rk_lib.rd_kafka_topic_partition_list_new.restype = ctypes.POINTER(TPList)
    rk_lib.rd_kafka_topic_partition_list_add.restype = ctypes.POINTER(TP)
    rk_lib.rd_kafka_topic_partition_list_add.argtypes = [ctypes.POINTER(TPList), ctypes.c_char_p, ctypes.c_int32]
    rk_lib.rd_kafka_commit.argtypes = [ctypes.c_void_p, ctypes.POINTER(TPList), ctypes.c_int]
    rk_lib.rd_kafka_query_watermark_offsets.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                                        ctypes.POINTER(ctypes.c_int64),
                                                        ctypes.POINTER(ctypes.c_int64), ctypes.c_int]
    rk_lib.rd_kafka_topic_partition_list_destroy.argtypes = [ctypes.POINTER(TPList)]
    rk_lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    rk_lib.malloc.restype = ctypes.c_void_p
    conf = rk_lib.rd_kafka_conf_new()
    errstr = ctypes.create_string_buffer(512)
    for k, v in (("bootstrap.servers", KAFKA), ("group.id", group), ("enable.auto.commit", "false")):
        eq(rk_lib.rd_kafka_conf_set(conf, k.encode(), v.encode(), errstr, 512), 0, errstr.value)
    rk = rk_lib.rd_kafka_new(1, conf, errstr, 512)  # RD_KAFKA_CONSUMER
    check(rk, errstr.value)
    parts = rk_lib.rd_kafka_topic_partition_list_new(6)
    try:
        tag = generation_tag.encode()
        for i in range(6):
            lo, hi = ctypes.c_int64(), ctypes.c_int64()
            eq(rk_lib.rd_kafka_query_watermark_offsets(rk, TOPIC.encode(), i, ctypes.byref(lo), ctypes.byref(hi),
                                                       10000), 0, "watermarks")
            tp = rk_lib.rd_kafka_topic_partition_list_add(parts, TOPIC.encode(), i)
            tp.contents.offset = hi.value
            buf = rk_lib.malloc(len(tag))  # freed by librdkafka with the list
            ctypes.memmove(buf, tag, len(tag))
            tp.contents.metadata, tp.contents.metadata_size = buf, len(tag)
        # Refused (UNKNOWN_MEMBER_ID) until the broker has let the killed member's session expire.
        wait_until(lambda: rk_lib.rd_kafka_commit(rk, parts, 0) == 0, 60, "the offsets committed", interval_s=1)
    finally:
        rk_lib.rd_kafka_topic_partition_list_destroy(parts)
        rk_lib.rd_kafka_destroy(rk)


def test_a_projector_that_died_between_the_catch_up_and_the_switch(ledger):
    """A projector that projected events into the old generation after the rebuild's last
    catch-up (so the new generation lacks them) and died before it followed the switch, as its
    committed offsets show (made here: the group's offsets set past those events, tagged with the
    old generation); started again, its partitions start where the new one resumes. The accounts
    never move again."""
    from pymongo import MongoClient

    accounts = [open_account(f"order-rebuild-down-{i}") for i in range(10)]
    for a in accounts:
        deposit(a, 1)
    projected_once(accounts[-1])
    old = MongoClient("mongodb://127.0.0.1:57017/")[DB]["read_model_meta"].find_one({"_id": "active"})["generation"]
    with relay_stopped(ledger):
        ledger["projector"].kill9()
        out = subprocess.run([os.path.join(BIN, "ledgerline-rebuild"), "--settle-seconds", "0", "--from", "store"],
                             capture_output=True, text=True, env=dict(os.environ, **ENV), timeout=300)
        eq(out.returncode, 0, out.stderr)
        for a in accounts:  # acknowledged after the rebuild's catch-up: in no generation yet
            deposit(a, 2)
    wait_until(lambda: owner_sql("SELECT count(*) FROM outbox") == "0", 30, "the relay published them")
    commit_offsets_for(ENV["LEDGERLINE_KAFKA_PROJECTOR_GROUP"], f"g{old}")
    since = start_projector(ledger)
    wait_until(lambda: everything_reconciled(), max(BOUND_S - (time.time() - since), 0.5),
               "every account in the read model within 10 s")


def test_a_stored_event_that_does_not_decode_halts_only_its_account(ledger):
    """The store's own event is unreadable (altered, or a schema newer than this projector) and
    the projector needs it (an undecodable copy of it arrives): that account halts, nothing else
    waits for it. Last: the halt stays in this ledger."""
    a = open_account("order-store-broken")
    projected_once(a)
    halted = metric("halted_accounts")
    with relay_stopped(ledger):
        deposit(a, 5)
        deposit(a, 6)
        sql_superuser(f"""ALTER TABLE events DISABLE TRIGGER events_no_update_delete;
            UPDATE events SET envelope = '{{"not":"an event"}}' WHERE account_id = '{a}' AND version = 3;
            ALTER TABLE events ENABLE TRIGGER events_no_update_delete;""", db=DB)
        produce(a, '{"not":"an event"}')
        wait_until(lambda: metric("halted_accounts") == halted + 1, BOUND_S, "the account halted")
        # Halted at the broken row, not before it: version 2 (read in the same query) is written.
        wait_until(lambda: visible(a, 2), 5, "the valid event before the broken row written")
        b = open_account("order-store-broken-other")
    since = time.time()
    readable_within_bound(b, 1, since, "another account after a halt")
    wait_until(lambda: metric("waiting_accounts") == 0, 5, "nothing waits")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    create_topic(f"{TOPIC}.dlq")
    ledger = {}
    with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=ENV), \
            Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY, env=ENV):
        ledger["relay"] = Service("relay", ["--poll-ms", "200"], env=ENV).start()
        ledger["projector"] = Service("projector", PROJECTOR_ARGS, port=METRICS, env=ENV).start()
        code = run({n: (lambda f=f: f(ledger)) for n, f in dict(globals()).items() if n.startswith("test_")},
                   "projector_order")
        for name in ("projector", "relay"):
            if ledger[name].stop() != 0:
                print(f"  FAIL the {name} exited non-zero")
                code = 1
    drop_ledger(DB)
    sys.exit(code)
