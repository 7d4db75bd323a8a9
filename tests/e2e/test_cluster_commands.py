#!/usr/bin/env python3
"""End-to-end: two command services on one event store at once (issue #19, the command tier).

What must hold with several instances behind a load balancer:
- the same Idempotency-Key sent to both instances at the same instant is applied once: one
  answer is the command's, the other its replay or 409 `idempotency-key-in-use`, and a retry at
  either instance later replays the first answer (same event);
- If-Match holds across instances: a version one instance moved past is refused by the other;
- concurrent commands on the same accounts through both instances leave every stream
  contiguous, every hash chain intact and the balances equal to what was acknowledged.
Starts two ledgerline-command processes (ASan build) on free ports."""
import concurrent.futures as cf
import os
import random
import sys
import threading
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vectors"))
from check_vectors import verify_line  # noqa: E402
from ll_e2e import BIN, Service, check, eq, free_port, post, run, sql  # noqa: E402

A, B = free_port(), free_port()
IN_USE = "https://ledgerline.dev/problems/idempotency-key-in-use"


def open_account(port, owner="cluster"):
    status, _, body = post("/v1/accounts", {"owner": owner, "currency": "EUR"}, port=port)
    eq(status, 201, f"open: {body}")
    return body["account_id"]


def deposit(port, account, amount, key=None, headers=None):
    return post(f"/v1/accounts/{account}/deposits", {"amount_minor": amount, "currency": "EUR"}, key=key,
                port=port, headers=headers)


def test_one_key_sent_to_both_instances_at_once_is_applied_once():
    account = open_account(A)
    barrier = threading.Barrier(2)

    def send(port, key):
        barrier.wait()
        return deposit(port, account, 7, key=key)

    outcomes = {}
    with cf.ThreadPoolExecutor(2) as pool:
        for _ in range(40):
            key = f"twin-{uuid.uuid4()}"
            a, b = pool.submit(send, A, key), pool.submit(send, B, key)
            answers = [a.result(), b.result()]
            statuses = sorted(s for s, _, _ in answers)
            outcomes[tuple(statuses)] = outcomes.get(tuple(statuses), 0) + 1
            check(statuses in ([201, 201], [201, 409]), f"two instances, one key: {answers}")
            firsts = [body for s, _, body in answers if s == 201]
            if statuses == [201, 201]:  # the second was a replay: the same event
                eq(firsts[0]["event_id"], firsts[1]["event_id"], "a replay answers the same event")
            else:
                refused = [body for s, _, body in answers if s == 409][0]
                eq(refused["type"], IN_USE, "the other instance says the key is in use")
            # A later retry at either instance replays the first answer.
            for port in (A, B):
                s, _, body = deposit(port, account, 7, key=key)
                eq(s, 201, f"retry at {port}: {body}")
                eq(body["event_id"], firsts[0]["event_id"], "the retry replays the first answer")
            eq(sql(f"SELECT count(*) FROM events WHERE command_id = '{key}'"), [["1"]], f"{key}: one event")
    print(f"    outcomes over 40 keys (sorted statuses: count): {outcomes}")
    versions = [int(r[0]) for r in sql(f"SELECT version FROM events WHERE account_id = '{account}' ORDER BY 1")]
    eq(versions, list(range(1, 42)), "one open and 40 deposits, nothing twice")
    eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{account}'"), [[str(40 * 7)]])


def test_if_match_holds_across_instances():
    account = open_account(A)
    s, headers, _ = deposit(A, account, 100, headers={"If-Match": '"1"'})
    eq(s, 201, "version 1 -> 2 on A")
    eq(headers.get("etag"), '"2"', "the new version")
    s, _, body = deposit(B, account, 100, headers={"If-Match": '"1"'})
    eq(s, 412, f"B refuses the version A moved past: {body}")
    s, _, _ = deposit(B, account, 100, headers={"If-Match": '"2"'})
    eq(s, 201, "B accepts the current version")
    eq(sql(f"SELECT version, balance_minor FROM account_state WHERE account_id = '{account}'"), [["3", "200"]])


def test_concurrent_commands_through_both_instances_keep_every_stream_whole():
    accounts = [open_account(A if i % 2 else B) for i in range(6)]
    for a in accounts:
        eq(deposit(A, a, 1000)[0], 201)
    accepted = {a: 1000 for a in accounts}
    lock = threading.Lock()

    def client(seed):
        rnd = random.Random(seed)
        for _ in range(40):
            port = A if rnd.random() < 0.5 else B
            x, y = rnd.sample(accounts, 2)
            amount = rnd.randint(1, 400)
            if rnd.random() < 0.4:
                s, _, b = deposit(port, x, amount)
                delta = {x: amount}
            else:
                s, _, b = post("/v1/transfers", {"from_account_id": x, "to_account_id": y, "amount_minor": amount,
                                                 "currency": "EUR"}, port=port)
                delta = {x: -amount, y: amount}
            check(s in (201, 422), f"unexpected {s}: {b}")
            if s == 201:
                with lock:
                    for k, v in delta.items():
                        accepted[k] += v

    with cf.ThreadPoolExecutor(12) as pool:
        list(pool.map(client, range(12)))
    for a in accounts:
        versions = [int(r[0]) for r in sql(f"SELECT version FROM events WHERE account_id = '{a}' ORDER BY version")]
        eq(versions, list(range(1, len(versions) + 1)), f"contiguous versions of {a}")
        eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{a}'"), [[str(accepted[a])]],
           f"balance of {a} equals what both instances acknowledged")
        heads = {}
        for (env,) in sql(f"SELECT envelope FROM events WHERE account_id = '{a}' ORDER BY version"):
            for ok, what in verify_line(env.encode(), heads)[0]:
                check(ok, f"{a}: {what}")


if __name__ == "__main__":
    with Service("command", ["--listen", f"127.0.0.1:{A}"], port=A), \
            Service("command-b", ["--listen", f"127.0.0.1:{B}"], port=B,
                    binary=os.path.join(BIN, "ledgerline-command")):
        code = run(dict(globals()), "cluster_commands")
    sys.exit(code)
