#!/usr/bin/env python3
"""End-to-end: a body over h2o's entity cap (1 MiB) is answered 413 problem+json, and the client
reads that answer every time. h2o refuses such a request once it has read the headers and closes
while the client is still sending; closing on unread bytes resets the connection, and a client
that gives up at the reset (Python's http.client: 91 of 100 here) lost its 413. The servers now
linger (lib/ll_http.c, as nginx's lingering_close): they send FIN after the answer and drop what
still comes, for at most LL_HTTP_LINGER_MS (5 s) and LL_HTTP_LINGER_BYTES_MAX (4 MiB), and the
lingering connection counts against the connection cap. Against a command service and a query
API of a ledger of this suite's own."""
import http.client
import json
import os
import socket
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import (OPERATOR, Service, check, drop_ledger, eq, free_port, ledger_env, own_ledger, post,  # noqa: E402
                    request, run)

DB = "ledgerline_oversized_body"
ENV = ledger_env(DB, "oversized-body")
CMD = free_port()
QRY = next(p for p in iter(free_port, None) if p != CMD)
PROBLEM = "https://ledgerline.dev/problems/"
TRIES = 100
BODY_BYTES = 2 * 1024 * 1024  # twice the entity cap
LINGER_S = 5


def deposit_body(size=BODY_BYTES):
    """A deposit of exactly size bytes of JSON: a well-formed command, only too large."""
    doc = {"amount_minor": 100, "currency": "EUR", "reference": ""}
    doc["reference"] = "x" * (size - len(json.dumps(doc)))
    body = json.dumps(doc).encode()
    eq(len(body), size, "body size")
    return body


def head(path, length, extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {OPERATOR}\r\n"
            f"Content-Type: application/json\r\nIdempotency-Key: {uuid.uuid4()}\r\n{extra}"
            f"Content-Length: {length}\r\n\r\n").encode()


def deposit_path():
    return f"/v1/accounts/{uuid.uuid4()}/deposits"


def read_to_eof(s, got=None):
    """Everything the server sends until it closes; raises on a reset (got, a list, keeps what
    came before it)."""
    got = [] if got is None else got
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return b"".join(got)
        got.append(chunk)


def problem_413(reply):
    """None when reply is one complete 413 problem+json, else what is wrong with it."""
    head_, sep, body = reply.partition(b"\r\n\r\n")
    lines = head_.decode("latin-1").split("\r\n")
    if not sep or not lines[0].startswith("HTTP/1.1 413 "):
        return f"not a 413: {reply[:40]!r}"
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if headers.get("content-type") != "application/problem+json":
        return f"content type {headers.get('content-type')!r}"
    if int(headers.get("content-length", -1)) != len(body):
        return f"cut: {len(body)} of {headers.get('content-length')} bytes"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:40]!r}"
    if (doc.get("type"), doc.get("status")) != (PROBLEM + "body-too-large", 413):
        return f"problem {doc}"
    return None


def oversized_exchange(port, path, body):
    """Sends the whole request as a client library would, then reads the answer to the end.
    Returns None when the client got its complete 413 and a clean close, else what went wrong:
    a reset while sending (where clients such as http.client give up) or while reading, and
    whether the 413 could still be read from what had arrived before it."""
    failed, got = None, []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(head(path, len(body)) + body)
        except OSError as e:
            failed = f"send: {type(e).__name__}"
        try:
            read_to_eof(s, got)
        except OSError as e:
            failed = (failed + ", " if failed else "") + f"recv: {type(e).__name__}"
    wrong = problem_413(b"".join(got))
    if failed is None:
        return wrong
    return f"{failed} ({'413 lost: ' + wrong if wrong else 'the 413 had arrived before the reset'})"


def tries(port, path):
    body = deposit_body()
    outcomes = {}
    for _ in range(TRIES):
        what = oversized_exchange(port, path() if callable(path) else path, body) or "complete 413"
        outcomes[what] = outcomes.get(what, 0) + 1
    print(f"       {port} {path if isinstance(path, str) else 'deposits'}: {outcomes}", flush=True)
    eq(outcomes, {"complete 413": TRIES}, f"{TRIES} oversized bodies one after another")


def alive(port):
    eq(request("GET", "/healthz", port=port, auth=None)[0], 200, f"server on {port} still up")


def test_every_oversized_deposit_gets_its_413():
    tries(CMD, deposit_path)
    alive(CMD)


def test_every_oversized_query_body_gets_its_413():
    # The query API has no POST routes, but h2o's cap comes first: the same 413 for any path.
    tries(QRY, f"/v1/accounts/{uuid.uuid4()}")
    alive(QRY)


def test_pythons_http_client_reads_every_413():
    # http.client gives up at a reset while it sends the body: before the servers lingered,
    # most of these raised BrokenPipeError or ConnectionResetError instead of returning the 413.
    body, outcomes = deposit_body(), {}
    for _ in range(TRIES):
        conn = http.client.HTTPConnection("127.0.0.1", CMD, timeout=10)
        try:
            conn.request("POST", deposit_path(), body=body, headers={
                "Authorization": f"Bearer {OPERATOR}", "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4())})
            resp = conn.getresponse()
            what = str(resp.status) if json.loads(resp.read())["status"] == resp.status else "a wrong problem"
        except OSError as e:
            what = type(e).__name__
        finally:
            conn.close()
        outcomes[what] = outcomes.get(what, 0) + 1
    print(f"       http.client: {outcomes}", flush=True)
    eq(outcomes, {"413": TRIES}, f"{TRIES} oversized deposits through http.client")


def test_expect_100_continue_gets_the_413_without_the_body():
    for port in (CMD, QRY):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head(deposit_path(), BODY_BYTES, "Expect: 100-continue\r\n"))  # and no body
            t0 = time.time()
            reply = read_to_eof(s)
            took = time.time() - t0
        eq(problem_413(reply), None, f"413 on {port} to headers alone (no 100 Continue first)")
        check(took < 2, f"the server closes after the answer, not after lingering ({took:.1f}s)")


def test_bodies_under_the_entity_cap_are_served_as_before():
    # Opened and deposited on a kept-alive connection; over body_bytes_max (16 KiB) but under
    # h2o's cap the handler answers the 413 itself, with the whole body read, and keeps it open.
    s, _, b = post("/v1/accounts", {"owner": "oversized-body", "currency": "EUR"}, port=CMD)
    eq(s, 201, f"open: {b}")
    path = f"/v1/accounts/{b['account_id']}/deposits"
    s, _, b = post(path, {"amount_minor": 100, "currency": "EUR"}, port=CMD)
    eq(s, 201, f"deposit: {b}")
    s, h, b = post(path, None, raw=deposit_body(64 * 1024), port=CMD)
    eq((s, b["type"]), (413, PROBLEM + "body-too-large"), "64 KiB deposit")
    check(h.get("connection", "").lower() != "close", f"the connection is kept: {h}")


def test_a_client_that_keeps_sending_is_let_go_after_the_linger_time():
    with socket.create_connection(("127.0.0.1", CMD), timeout=10) as s:
        s.sendall(head(deposit_path(), 100 * BODY_BYTES) + b"x" * 65536)
        eq(problem_413(read_to_eof(s)), None, "the answer, then FIN")
        t0, err = time.time(), None
        while time.time() - t0 < 3 * LINGER_S:  # 1 KiB every 100 ms: dropped, not reset, until the bound
            try:
                s.send(b"x" * 1024)
            except OSError as e:
                err = e
                break
            time.sleep(0.1)
        took = time.time() - t0
    check(err is not None, "the connection is closed in the end")
    check(LINGER_S - 1.5 < took < LINGER_S + 3, f"closed after the linger time ({took:.1f}s, {err!r})")
    alive(CMD)


def test_a_client_that_floods_is_let_go_after_the_linger_bytes():
    sent, t0 = 0, time.time()
    with socket.create_connection(("127.0.0.1", CMD), timeout=10) as s:
        try:
            s.sendall(head(deposit_path(), 100 * BODY_BYTES))
            chunk = b"x" * 65536
            while sent < 64 * 1024 * 1024:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
    took = time.time() - t0
    check(sent < 64 * 1024 * 1024, f"cut before 64 MiB ({sent >> 20} MiB went)")
    check(took < LINGER_S - 1, f"by the byte bound, before the time bound ({took:.1f}s)")
    alive(CMD)


def test_a_lingering_connection_counts_against_the_cap():
    port = free_port()
    env = dict(ENV, LEDGERLINE_HTTP_CONNECTIONS_MAX="1")
    with Service("query", ["--listen", f"127.0.0.1:{port}"], port=port, env=env):
        # The helper's kept-alive /healthz connection would hold the one slot: have it closed.
        request("GET", "/healthz", port=port, auth=None, headers={"connection": "close"})
        time.sleep(0.2)
        for client_closes in (True, False):
            lingering = socket.create_connection(("127.0.0.1", port), timeout=10)
            lingering.sendall(head(deposit_path(), BODY_BYTES) + b"x" * 65536)
            eq(problem_413(read_to_eof(lingering)), None, "the answer")
            t0 = time.time()
            if client_closes:
                lingering.close()  # the server sees it at once and frees the slot
            with socket.create_connection(("127.0.0.1", port), timeout=3 * LINGER_S) as other:
                other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = read_to_eof(other)
            took = time.time() - t0
            lingering.close()
            check(reply.startswith(b"HTTP/1.1 200"), f"served in the end: {reply[:40]!r}")
            if client_closes:
                check(took < 2, f"a client that closes frees its slot at once ({took:.1f}s)")
            else:
                check(LINGER_S - 1.5 < took < LINGER_S + 3, f"the slot frees after the linger time ({took:.1f}s)")


if __name__ == "__main__":
    own_ledger(DB, ENV)
    code = 1
    try:
        with Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=ENV), \
                Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY, env=ENV):
            code = run(dict(globals()), "oversized_body")
    finally:
        drop_ledger(DB)
    sys.exit(code)
