#!/usr/bin/env python3
"""End-to-end security suite (OWASP API Top 10 2023 as it applies here), against a command service
and a query API of its own on the local stack:

- authentication: missing, malformed, expired, not-yet-valid, tampered, alg:none, wrong-secret,
  wrong-role, oversized and doubled tokens are 401 with WWW-Authenticate; a rotated-out secret
  still works while configured as jwt_secret_previous; no server starts without a secret;
- authorization: customers act on and read only their own accounts (404 for others', answered
  exactly as for a missing account, on every route, before If-Match can leak a version),
  open accounts in their own name only (403), auditors read but never write (403), the actor
  recorded in events is the token's role and subject, idempotency keys are per principal;
- resource limits: rate limits per address and per subject (429 + Retry-After), header floods,
  huge request lines, slow clients cut by the request deadline, a connection cap that queues;
- hostile query input; request and correlation ids; /openapi.yaml served.
After the hostile parts nothing stored has changed and both servers still answer."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import (BIN, ROOT, Service, check, eq, paused_stack_services, post,  # noqa: E402
                    request, run, sql, token, wait_until)

CMD, QRY = 18380, 18381
PROBLEM = "https://ledgerline.dev/problems/"
PREVIOUS_SECRET = "ledgerline-test-previous-secret-0123456789"
ALICE, BOB = token("alice", "customer"), token("bob", "customer")
AUDITOR = token("audit-1", "auditor")
SERVICE_ENV = {"LEDGERLINE_JWT_SECRET_PREVIOUS": PREVIOUS_SECRET}


def problem(resp, status, slug):
    s, h, body = resp
    eq(s, status, f"status ({body})")
    eq(h.get("content-type", "").split(";")[0], "application/problem+json", "content type")
    eq(body["type"], PROBLEM + slug, "problem type")
    for leak in ("SELECT", "postgres", "/work/", ".c:", "mongo", "Traceback"):
        check(leak not in str(body), f"no internals in {body}")
    return h, body


def open_as(tok, owner, port=CMD):
    s, _, b = post("/v1/accounts", {"owner": owner, "currency": "EUR"}, port=port, auth=tok)
    eq(s, 201, f"open as {owner}: {b}")
    return b["account_id"]


def deposit(acct, amount, tok, headers=None):
    return post(f"/v1/accounts/{acct}/deposits", {"amount_minor": amount, "currency": "EUR"}, port=CMD, auth=tok,
                headers=headers)


def raw_http(port, data, timeout=5):
    """Sends raw bytes on a fresh connection; returns what came back before close/timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
                if b"\r\n\r\n" in b"".join(chunks) and b"content-length: 0" in b"".join(chunks).lower():
                    break
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def alive():
    for port in (CMD, QRY):
        eq(request("GET", "/healthz", port=port, auth=None)[0], 200, f"server on {port} still up")


# ---- authentication ---------------------------------------------------------------------------

def test_requests_without_a_valid_token_are_401():
    acct = f"/v1/accounts/{uuid.uuid4()}"
    now = int(time.time())
    cases = {
        "no header": None,
        "expired": token(ttl=-120),
        "not yet valid": token(claims={"nbf": now + 600}),
        "no exp": token(claims={"exp": None}),
        "alg none": token(header={"alg": "none"})[: token(header={"alg": "none"}).rindex(".") + 1],
        "alg HS512": token(header={"alg": "HS512"}),
        "wrong secret": token(secret="another-secret-another-secret-0000"),
        "unknown role": token(role="admin"),
        "empty sub": token(sub=""),
        "garbage": "not.a.jwt",
        "oversized": "a" * 5000 + "." + "b" * 10 + "." + "c" * 10,
    }
    tampered = token("alice", "customer").split(".")
    import base64
    import json
    claims = json.loads(base64.urlsafe_b64decode(tampered[1] + "=="))
    claims["role"] = "operator"
    tampered[1] = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    cases["tampered claims"] = ".".join(tampered)
    for what, tok in cases.items():
        for port, method, path, body in ((QRY, "GET", acct, None), (CMD, "POST", "/v1/accounts",
                                                                       {"owner": "x", "currency": "EUR"})):
            h = {"idempotency-key": str(uuid.uuid4())} if method == "POST" else {}
            resp = request(method, path, body=body, headers=h, port=port, auth=tok)
            hdrs, _ = problem(resp, 401, "unauthorized")
            check(hdrs.get("www-authenticate", "").startswith("Bearer realm=\"ledgerline\""),
                  f"{what}: WWW-Authenticate {hdrs.get('www-authenticate')}")
    problem(request("GET", acct, port=QRY, auth=None, headers={"authorization": "Basic dXNlcjpwYXNz"}), 401,
            "unauthorized")
    # Two Authorization headers: refused rather than guessing which one counts.
    reply = raw_http(QRY, (f"GET {acct} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token()}\r\n"
                           f"Authorization: Bearer {token()}\r\nConnection: close\r\n\r\n").encode())
    check(reply.startswith(b"HTTP/1.1 401"), f"two Authorization headers: {reply[:40]!r}")
    alive()


def test_rotated_secret_still_accepted_while_configured_as_previous():
    old = token("rotated", "operator", secret=PREVIOUS_SECRET)
    s, _, _ = request("GET", f"/v1/accounts/{uuid.uuid4()}", port=QRY, auth=old)
    eq(s, 404, "a token of the previous secret is still valid")


def test_no_server_starts_without_a_secret():
    for name in ("command", "query"):
        env = dict(os.environ, LEDGERLINE_JWT_SECRET="")
        out = subprocess.run([os.path.join(BIN, f"ledgerline-{name}"), "--listen", "127.0.0.1:18389"],
                             capture_output=True, text=True, env=env, timeout=60)
        eq(out.returncode, 1, f"{name} without jwt_secret")
        check("jwt_secret" in out.stderr, f"{name} names the missing setting: {out.stderr}")


def test_health_metrics_and_spec_need_no_token():
    spec = open(os.path.join(ROOT, "api", "openapi.yaml")).read()
    for port in (CMD, QRY):
        for path in ("/healthz", "/readyz", "/metrics"):
            eq(request("GET", path, port=port, auth=None)[0], 200, f"{path} on {port}")
        s, h, text = request("GET", "/openapi.yaml", port=port, auth=None)
        eq((s, h["content-type"]), (200, "application/yaml"))
        check(text == spec, "the served spec is api/openapi.yaml (rebuild after editing it)")
        yaml.safe_load(text)


# ---- authorization ----------------------------------------------------------------------------

def test_customers_touch_only_their_own_accounts():
    alice = open_as(ALICE, "alice")
    bob = open_as(BOB, "bob")
    eq(deposit(alice, 1000, ALICE)[0], 201)
    before = sql(f"SELECT version, balance_minor FROM account_state WHERE account_id = '{alice}'")
    missing = str(uuid.uuid4())
    # Writes on another's account: the same 404 as for an account that does not exist.
    _, want = problem(deposit(missing, 5, BOB), 404, "account-not-found")
    for resp in (deposit(alice, 5, BOB),
                 post(f"/v1/accounts/{alice}/withdrawals", {"amount_minor": 5, "currency": "EUR"}, port=CMD, auth=BOB),
                 post(f"/v1/accounts/{alice}/close", {}, port=CMD, auth=BOB),
                 deposit(alice, 5, BOB, headers={"if-match": '"1"'}),  # not 412: no version leaks
                 post("/v1/transfers", {"from_account_id": alice, "to_account_id": bob, "amount_minor": 5,
                                        "currency": "EUR"}, port=CMD, auth=BOB)):
        _, got = problem(resp, 404, "account-not-found")
        eq(got, want, "indistinguishable from a missing account")
    eq(sql(f"SELECT version, balance_minor FROM account_state WHERE account_id = '{alice}'"), before,
       "alice's account untouched")
    # Paying someone else is allowed: the destination may be anyone's; its balance is not shown.
    s, _, t = post("/v1/transfers", {"from_account_id": alice, "to_account_id": bob, "amount_minor": 300,
                                     "currency": "EUR"}, port=CMD, auth=ALICE)
    eq(s, 201, f"alice pays bob: {t}")
    check("balance_minor" not in t["to"], "the destination's balance is not disclosed")
    # Opening in another's name.
    problem(post("/v1/accounts", {"owner": "bob", "currency": "EUR"}, port=CMD, auth=ALICE), 403, "forbidden")
    # Reads: every route answers another's account as a missing one.
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    eq(request("GET", f"/v1/accounts/{alice}?min_version=3", port=QRY, auth=ALICE)[0], 200)
    for suffix in ("", "/transactions", f"/balance?as_of={when}", "/audit", "/audit/verify"):
        _, theirs = problem(request("GET", f"/v1/accounts/{alice}{suffix}", port=QRY, auth=BOB), 404,
                            "account-not-found")
        _, none = problem(request("GET", f"/v1/accounts/{missing}{suffix}", port=QRY, auth=BOB), 404,
                          "account-not-found")
        eq(theirs, none, f"{suffix or 'account'}: another's account reads as missing")
        eq(request("GET", f"/v1/accounts/{alice}{suffix}", port=QRY, auth=ALICE)[0], 200, f"alice reads {suffix}")
    # Waiting for a version of another's account behaves as for a missing account too.
    eq(request("GET", f"/v1/accounts/{alice}?min_version=1", port=QRY, auth=BOB)[0],
       request("GET", f"/v1/accounts/{missing}?min_version=1", port=QRY, auth=BOB)[0])


def test_a_transfer_tells_a_customer_nothing_of_a_destination_it_cannot_see():
    alice = open_as(ALICE, "alice")
    eq(deposit(alice, 1000, ALICE)[0], 201)
    bob = open_as(BOB, "bob")
    closed = open_as(BOB, "bob")
    eq(post(f"/v1/accounts/{closed}/close", {}, port=CMD, auth=BOB)[0], 200)
    s, _, b = post("/v1/accounts", {"owner": "bob", "currency": "USD"}, port=CMD, auth=BOB)
    eq(s, 201, b)
    dollars = b["account_id"]

    def pay(to, amount=5, tok=ALICE):
        return post("/v1/transfers", {"from_account_id": alice, "to_account_id": to, "amount_minor": amount,
                                      "currency": "EUR"}, port=CMD, auth=tok)
    # Missing, closed, another currency: one answer, byte for byte.
    answers = [problem(pay(to), 422, "transfer-rejected")[1] for to in (str(uuid.uuid4()), closed, dollars)]
    eq(answers[1:], answers[:1] * 2, "the same body whatever is wrong with the destination")
    # Its own reasons come first: a refusal never says the destination would have been fine.
    problem(pay(str(uuid.uuid4()), amount=10**9), 422, "insufficient-funds")
    problem(pay(bob, amount=10**9), 422, "insufficient-funds")
    # Paid: the destination's version is not shown either.
    s, _, t = pay(bob)
    eq(s, 201, t)
    eq(sorted(t["to"]), ["account_id", "event_id"], "only the destination's id and the event")
    # Operators keep the detail.
    _, detail = problem(post("/v1/transfers", {"from_account_id": alice, "to_account_id": closed, "amount_minor": 5,
                                               "currency": "EUR"}, port=CMD), 422, "account-closed")
    check("destination" in detail["detail"], detail)
    eq(sql(f"SELECT balance_minor FROM account_state WHERE account_id = '{alice}'"), [["995"]], "one payment")


def test_a_recipient_does_not_see_the_senders_private_fields():
    alice = open_as(ALICE, "alice")
    eq(deposit(alice, 100, ALICE)[0], 201)
    bob = open_as(BOB, "bob")
    key, corr = f"alice-private-{uuid.uuid4()}", f"alice-corr-{uuid.uuid4()}"
    s, _, t = post("/v1/transfers", {"from_account_id": alice, "to_account_id": bob, "amount_minor": 5,
                                     "currency": "EUR"}, key=key, port=CMD, auth=ALICE,
                   headers={"X-Correlation-Id": corr})
    eq(s, 201, t)

    def received(tok):
        s, _, page = request("GET", f"/v1/accounts/{bob}/audit", port=QRY, auth=tok)
        eq(s, 200, page)
        return [i for i in page["items"] if i["event"]["type"] == "TransferReceived"][0]
    # Bob, the recipient: the sender's actor, key and correlation id are blanked, and say so.
    item = received(BOB)
    eq([item["event"][f] for f in ("actor", "command_id", "correlation_id")], ["", "", ""], "blanked for Bob")
    eq(item["redacted"], ["actor", "command_id", "correlation_id"], "named")
    for secret in (key, corr, "customer:alice"):
        check(secret not in json.dumps(item), f"{secret} not shown to the recipient")
    eq(item["state_after"]["balance_minor"], 5, "the movement itself is Bob's to see")
    # An auditor sees the event as stored; Alice sees her own fields on her own leg.
    item = received(AUDITOR)
    eq((item["event"]["actor"], item["event"]["command_id"], item["event"]["correlation_id"]),
       ("customer:alice", key, corr), "auditors see everything")
    check("redacted" not in item, "nothing redacted for auditors")
    s, _, page = request("GET", f"/v1/accounts/{alice}/audit", port=QRY, auth=ALICE)
    sent = [i for i in page["items"] if i["event"]["type"] == "TransferSent"][0]
    eq((sent["event"]["command_id"], sent["event"]["correlation_id"]), (key, corr), "the sender's own leg")
    eq(request("GET", f"/v1/accounts/{bob}/audit/verify", port=QRY, auth=BOB)[2]["ok"], True,
       "the stored chain still verifies")


def test_auditors_read_everything_and_write_nothing():
    acct = open_as(token("op", "operator"), "carol")
    count = sql("SELECT count(*) FROM events")[0][0]
    problem(deposit(acct, 5, AUDITOR), 403, "forbidden")
    problem(post("/v1/accounts", {"owner": "audit-1", "currency": "EUR"}, port=CMD, auth=AUDITOR), 403, "forbidden")
    eq(sql("SELECT count(*) FROM events")[0][0], count, "nothing stored")
    eq(request("GET", f"/v1/accounts/{acct}?min_version=1", port=QRY, auth=AUDITOR)[0], 200)
    eq(request("GET", f"/v1/accounts/{acct}/audit/verify", port=QRY, auth=AUDITOR)[0], 200)


def test_the_actor_is_the_token_and_keys_are_per_principal():
    alice = open_as(ALICE, "alice")
    bob = open_as(BOB, "bob")
    key = str(uuid.uuid4())
    # The same Idempotency-Key from two principals: two commands, neither sees the other's answer.
    s1, _, b1 = post(f"/v1/accounts/{alice}/deposits", {"amount_minor": 7, "currency": "EUR"}, key=key, port=CMD,
                     auth=ALICE)
    s2, _, b2 = post(f"/v1/accounts/{bob}/deposits", {"amount_minor": 7, "currency": "EUR"}, key=key, port=CMD,
                     auth=BOB)
    eq((s1, s2), (201, 201))
    check(b1["event_id"] != b2["event_id"], "separate key spaces")
    actors = sql(f"SELECT envelope::json->>'actor' FROM events WHERE account_id IN ('{alice}', '{bob}') "
                 "ORDER BY account_id, version")
    eq(sorted({a[0] for a in actors}), ["customer:alice", "customer:bob"])


# ---- resource limits --------------------------------------------------------------------------

def test_rate_limits_answer_429_with_retry_after():
    env = dict(SERVICE_ENV, LEDGERLINE_RATE_LIMIT_PER_SECOND="1", LEDGERLINE_RATE_LIMIT_BURST="3",
               LEDGERLINE_RATE_LIMIT_IP_PER_SECOND="1", LEDGERLINE_RATE_LIMIT_IP_BURST="8")
    with paused_stack_services(), Service("query", ["--listen", "127.0.0.1:18382"], port=18382, env=env):
        path = f"/v1/accounts/{uuid.uuid4()}"
        got = [request("GET", path, port=18382, auth=ALICE)[0] for _ in range(4)]
        eq(got, [404, 404, 404, 429], "per subject: a burst of 3")
        h, _ = problem(request("GET", path, port=18382, auth=ALICE), 429, "rate-limited")
        check(int(h["retry-after"]) >= 1, "Retry-After")
        eq(request("GET", path, port=18382, auth=BOB)[0], 404, "another subject has its own bucket")
        # The address bucket (8) is spent by now, whatever the token: a guessing flood is cut early.
        statuses = [request("GET", path, port=18382, auth=token(f"u{i}", "customer"))[0] for i in range(4)]
        check(statuses[-1] == 429, f"per address: {statuses}")
        eq(request("GET", path, port=18382, auth=None)[0], 429, "before authentication")
        eq(request("GET", "/healthz", port=18382, auth=None)[0], 200, "health is never limited")
        time.sleep(2.2)
        eq(request("GET", path, port=18382, auth=BOB)[0], 404, "refilled")


def test_behind_a_trusted_proxy_each_client_has_its_own_address_bucket():
    # The TLS proxy docs/security.md recommends: every connection comes from it. Its
    # X-Forwarded-For names the client; from any other peer the header is ignored.
    env = dict(SERVICE_ENV, LEDGERLINE_RATE_LIMIT_IP_PER_SECOND="1", LEDGERLINE_RATE_LIMIT_IP_BURST="2",
               LEDGERLINE_TRUSTED_PROXIES="127.0.0.1")
    path = f"/v1/accounts/{uuid.uuid4()}"

    def get_as(client, port):
        return request("GET", path, port=port, auth=None, headers={"x-forwarded-for": client})[0]
    with paused_stack_services(), Service("query", ["--listen", "127.0.0.1:18386"], port=18386, env=env):
        eq([get_as("198.51.100.1", 18386) for _ in range(3)], [401, 401, 429], "one client's burst")
        eq(get_as("198.51.100.2", 18386), 401, "another client behind the same proxy has its own bucket")
        eq(get_as("6.6.6.6, 198.51.100.1", 18386), 429, "a client cannot pick its address by writing the header")
    env.pop("LEDGERLINE_TRUSTED_PROXIES")
    with paused_stack_services(), Service("query", ["--listen", "127.0.0.1:18387"], port=18387, env=env):
        eq([get_as(f"198.51.100.{i}", 18387) for i in range(3)], [401, 401, 429],
           "no trusted proxy: the header is ignored, the peer is the client")


def test_header_floods_and_huge_request_lines_are_refused():
    many = "".join(f"X-Flood-{i}: {i}\r\n" for i in range(500))
    reply = raw_http(QRY, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n".encode())
    check(reply == b"" or reply.split(b" ")[1][:1] == b"4", f"500 headers: {reply[:60]!r}")
    reply = raw_http(QRY, b"GET /v1/accounts/" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check(reply == b"" or reply.split(b" ")[1][:1] == b"4", f"200 kB request line: {reply[:60]!r}")
    reply = raw_http(QRY, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 300000 + b"\r\n\r\n")
    check(reply == b"" or reply.split(b" ")[1][:1] == b"4", f"300 kB header: {reply[:60]!r}")
    reply = raw_http(QRY, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 431"), f"20 kB of headers: {reply[:60]!r}")
    reply = raw_http(QRY, b"GET /v1/accounts/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 414"), f"9 kB path: {reply[:60]!r}")
    reply = raw_http(CMD, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200))  # a TLS hello
    check(reply == b"" or reply.split(b" ")[1][:1] == b"4", f"binary garbage: {reply[:60]!r}")
    alive()


def parse_reply(reply):
    """(status, lowercased headers, body) of one raw HTTP/1.1 response."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def test_errors_h2o_answers_itself_are_problems_too():
    # Over the entity cap (1 MiB) h2o refuses before any handler runs; a broken chunked body
    # too. Both answer application/problem+json like every other error (#18 item 13).
    for port in (CMD, QRY):
        reply = raw_http(port, b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 2097152\r\n\r\n" + b"x" * 65536)
        status, headers, body = parse_reply(reply)
        eq(status, 413, f"2 MiB body on {port}: {reply[:80]!r}")
        eq(headers.get("content-type"), "application/problem+json", "content type of h2o's 413")
        doc = json.loads(body)
        eq((doc["type"], doc["status"]), (PROBLEM + "body-too-large", 413), f"problem {doc}")
        eq(int(headers["content-length"]), len(body), "length of the problem")
        reply = raw_http(port, b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
        status, headers, body = parse_reply(reply)
        eq(status, 400, f"broken chunked body on {port}: {reply[:80]!r}")
        eq(headers.get("content-type"), "application/problem+json", "content type of h2o's 400")
        eq(json.loads(body)["type"], PROBLEM + "invalid-request", "problem type of h2o's 400")
    eq(request("GET", "/healthz", port=QRY, auth=None)[1].get("content-type"), "application/json",
       "answers of the handlers keep their own content type")
    alive()


def test_slow_clients_are_cut_by_the_request_deadline():
    env = dict(SERVICE_ENV, LEDGERLINE_REQUEST_TIMEOUT_MS="500")
    with paused_stack_services(), Service("query", ["--listen", "127.0.0.1:18383"], port=18383, env=env):
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", 18383), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
        check(time.time() - t0 < 5, "a slowloris connection is closed after the deadline")
        check(data == b"" or data.startswith(b"HTTP/1.1 4"), f"{data!r}")


def test_a_command_stuck_on_a_lock_meets_the_deadline():
    acct = open_as(token("op", "operator"), "frank")
    env = dict(SERVICE_ENV, LEDGERLINE_REQUEST_TIMEOUT_MS="1000")
    with paused_stack_services(), Service("command", ["--listen", "127.0.0.1:18385"], port=18385, env=env):
        # Another session holds the account's state row for 4 s.
        holder = threading.Thread(target=sql, args=(
            f"BEGIN; SELECT 1 FROM account_state WHERE account_id = '{acct}' FOR UPDATE; SELECT pg_sleep(4); COMMIT;",))
        holder.start()
        time.sleep(0.5)
        t0 = time.time()
        key = str(uuid.uuid4())
        s, h, b = post(f"/v1/accounts/{acct}/deposits", {"amount_minor": 5, "currency": "EUR"}, key=key, port=18385)
        took = time.time() - t0
        holder.join()
        problem((s, h, b), 503, "storage-unavailable")
        check(took < 3, f"answered at the deadline, not after the lock ({took:.1f}s)")
        # Nothing was stored; the same key works once the lock is gone.
        s, _, _ = post(f"/v1/accounts/{acct}/deposits", {"amount_minor": 5, "currency": "EUR"}, key=key, port=18385)
        eq(s, 201, "retry with the same key")
        eq(sql(f"SELECT version FROM account_state WHERE account_id = '{acct}'"), [["2"]], "applied once")


def test_connections_beyond_the_cap_wait_their_turn():
    env = dict(SERVICE_ENV, LEDGERLINE_HTTP_CONNECTIONS_MAX="3")
    with paused_stack_services(), Service("query", ["--listen", "127.0.0.1:18384"], port=18384, env=env):
        # Service.start's /healthz connection may still be open (kept alive by the helper).
        time.sleep(0.2)
        held = [socket.create_connection(("127.0.0.1", 18384), timeout=5) for _ in range(3)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", 18384), timeout=1)  # the kernel's backlog takes it
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            first = extra.recv(100)
        except socket.timeout:
            first = b""
        eq(first, b"", "not served while the cap is reached")
        for s in held:
            s.close()
        extra.settimeout(5)
        check(extra.recv(100).startswith(b"HTTP/1.1 200"), "served once a slot frees")
        extra.close()


def test_hostile_query_input_is_400():
    acct = open_as(token("op", "operator"), "dave")
    for q in ("min_version=-1", "min_version=1e3", "min_version=99999999999999999999", "min_version=1&min_version=2",
              "bogus=1", "min_version=%00", "min_version=" + "9" * 100):
        problem(request("GET", f"/v1/accounts/{acct}?{q}", port=QRY), 400, "invalid-query")
    for q in ("limit=0", "limit=201", "cursor=abc", "limit=1.5"):
        problem(request("GET", f"/v1/accounts/{acct}/transactions?{q}", port=QRY), 400, "invalid-query")
    for q in ("as_of=yesterday", "as_of=2026-13-01T00:00:00Z", "", "as_of=2026-01-01T00:00:00Z&as_of=x"):
        problem(request("GET", f"/v1/accounts/{acct}/balance?{q}", port=QRY), 400, "invalid-query")
    for bad in ("not-a-uuid", "../../etc/passwd", "%00", "'%3B%20DROP%20TABLE%20events%3B%20--", "{\"$ne\":null}"):
        s, _, _ = request("GET", f"/v1/accounts/{bad}", port=QRY)
        check(s in (400, 404), f"{bad}: {s}")
    # Found by schemathesis: a page end past INT64_MAX overflowed (UBSan stopped the server).
    for q in ("from_version=9223372036854775806&to_version=1", "from_version=9223372036854775807",
              "from_version=9223372036854775800&limit=200"):
        s, _, b = request("GET", f"/v1/accounts/{acct}/audit?{q}", port=QRY)
        eq((s, b["items"]), (200, []), q)
    problem(request("DELETE", f"/v1/accounts/{acct}", port=QRY), 405, "method-not-allowed")
    alive()


def test_hostile_bodies_store_nothing():
    alice = open_as(ALICE, "alice")
    eq(deposit(alice, 50, ALICE)[0], 201)
    before = sql("SELECT count(*) FROM events")[0][0]
    path = f"/v1/accounts/{alice}/deposits"
    for raw in (b'{"amount_minor":1,"amount_minor":100000,"currency":"EUR"}',  # duplicate keys
                b'{"amount_minor":1,"currency":"EUR","reference":' + b"[" * 3000 + b"]" * 3000 + b"}",
                b'{"amount_minor":1,"currency":"EUR","reference":"a\\u0000b"}',
                b'{"amount_minor":1,"currency":"EUR","reference":"\xc0\xaf"}',
                b'{"amount_minor":1,"currency":"EUR","$where":"1"}',
                b'{"amount_minor":1,"currency":"EUR","__proto__":{}}',
                b'{"amount_minor":true,"currency":"EUR"}',
                b'{"amount_minor":null,"currency":"EUR"}',
                b'{"amount_minor":9223372036854775808,"currency":"EUR"}',
                b'{"amount_minor":1,"currency":"eur"}',
                b'{"amount_minor":1,"currency":"EUR"} trailing',
                b'', b'null', b'[]', b'"x"'):
        problem(post(path, None, raw=raw, port=CMD, auth=ALICE), 400, "invalid-request")
    problem(post("/v1/accounts", None, raw=b'{"owner":"alice","currency":"EUR","status":"closed"}', port=CMD,
                 auth=ALICE), 400, "invalid-request")  # no mass assignment
    problem(post("/v1/accounts", None, raw=b'{"owner":"alice","currency":"EUR","balance_minor":100}', port=CMD,
                 auth=ALICE), 400, "invalid-request")
    problem(post(path, None, raw=b'{"amount_minor":1,"currency":"EUR","reference":"' + b"x" * 17000 + b'"}',
                 port=CMD, auth=ALICE), 413, "body-too-large")
    eq(sql("SELECT count(*) FROM events")[0][0], before, "nothing stored")
    alive()


def test_request_and_correlation_ids():
    s, h, _ = request("GET", "/healthz", port=QRY, auth=None)
    check(h.get("x-request-id") and h.get("x-correlation-id") == h["x-request-id"], f"generated ids: {h}")
    s, h, _ = request("GET", "/healthz", port=QRY, auth=None,
                      headers={"x-request-id": "gw-123", "x-correlation-id": "trace.abc:1"})
    eq((h["x-request-id"], h["x-correlation-id"]), ("gw-123", "trace.abc:1"), "a client's valid ids are kept")
    s, h, _ = request("GET", "/healthz", port=QRY, auth=None, headers={"x-correlation-id": "bad id\"{}"})
    eq(h["x-correlation-id"], h["x-request-id"], "an invalid id is replaced, not echoed")
    acct = open_as(token("op", "operator"), "erin")
    s, h, b = post(f"/v1/accounts/{acct}/deposits", {"amount_minor": 5, "currency": "EUR"}, port=CMD,
                   headers={"x-correlation-id": "order-42"})
    eq((s, h["x-correlation-id"]), (201, "order-42"))
    eq(sql(f"SELECT envelope::json->>'correlation_id' FROM events WHERE account_id = '{acct}' AND version = 2"),
       [["order-42"]], "the correlation id is recorded in the event")
    log_path = os.path.join(ROOT, "var", "log", "tests", "command.log")
    wait_until(lambda: '"correlation_id":"order-42"' in open(log_path).read(), 5, "the access log line")
    import json
    line = [json.loads(ln) for ln in open(log_path) if '"correlation_id":"order-42"' in ln and '"request"' in ln][-1]
    eq((line["request_id"], line["route"], line["status"], line["method"]),
       (h["x-request-id"], "/v1/accounts/{id}/deposits", 201, "POST"), "one JSON line per request")


if __name__ == "__main__":
    with paused_stack_services("relay", "projector", "query"), \
            Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD, env=SERVICE_ENV), \
            Service("relay", ["--poll-ms", "200"]), Service("projector", []), \
            Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY, env=SERVICE_ENV):
        code = run(dict(globals()), "security")
    sys.exit(code)
