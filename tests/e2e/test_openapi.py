#!/usr/bin/env python3
"""Contract: api/openapi.yaml against the running servers. A scripted flow drives every
operation through happy and error paths; each answer's status must be documented for its
operation and its body must match the documented schema (required fields, types, no
undocumented fields). Also: every documented operation is routed (never the generic not-found).
A small validator covers the JSON Schema subset the spec uses."""
import datetime
import os
import re
import sys
import time
import uuid

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import OPERATOR, ROOT, Service, check, eq, paused_stack_services, post, request, run, token  # noqa: E402

CMD, QRY = 18080, 18081
SPEC = yaml.safe_load(open(os.path.join(ROOT, "api", "openapi.yaml")))


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def validate(value, schema, where="$"):
    """Returns a list of violations of value against schema (the subset the spec uses)."""
    schema = resolve(schema)
    errors = []
    if "oneOf" in schema:
        if sum(not validate(value, s, where) for s in schema["oneOf"]) != 1:
            errors.append(f"{where}: matches not exactly one of oneOf")
        return errors
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        ok = any({"null": value is None, "string": isinstance(value, str), "boolean": isinstance(value, bool),
                  "object": isinstance(value, dict), "array": isinstance(value, list),
                  "integer": isinstance(value, int) and not isinstance(value, bool)}[t] for t in types)
        if not ok:
            return [f"{where}: {value!r} is not {types}"]
    if isinstance(value, str):
        if schema.get("format") == "uuid":
            try:
                uuid.UUID(value)
            except ValueError:
                errors.append(f"{where}: not a uuid")
        if schema.get("format") == "date-time":
            try:
                datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                errors.append(f"{where}: not a date-time")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: does not match {schema['pattern']}")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: above maximum")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: missing {name}")
        for name, v in value.items():
            if name in props:
                errors += validate(v, props[name], f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: undocumented field {name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], f"{where}[{i}]")
    return errors


def operation(method, template):
    op = SPEC["paths"][template][method.lower()]
    return op


def call(method, template, path, port, body=None, headers=None, raw=None, key=True, auth=OPERATOR):
    """Sends the request, checks the answer against the spec, returns (status, body)."""
    h = dict(headers or {})
    if key and method in ("POST", "PUT"):
        h.setdefault("idempotency-key", str(uuid.uuid4()))
    status, rh, payload = request(method, path, body=body, headers=h, port=port, raw=raw, auth=auth)
    op = operation(method, template)
    documented = op["responses"].get(str(status))
    check(documented is not None, f"{method} {path}: status {status} is not documented for {template}")
    documented = resolve(documented)
    ctype = rh.get("content-type", "").split(";")[0]
    content = documented.get("content", {})
    check(ctype in content, f"{method} {path}: content type {ctype} not documented for {status}")
    errors = validate(payload, content[ctype]["schema"])
    check(not errors, f"{method} {path} -> {status}: {errors}")
    return status, payload


def test_every_operation_and_error_matches_the_spec():
    s, acct = call("POST", "/v1/accounts", "/v1/accounts", CMD, {"owner": "spec", "currency": "EUR"})
    a = acct["account_id"]
    s, other = call("POST", "/v1/accounts", "/v1/accounts", CMD, {"owner": "spec2", "currency": "EUR"})
    b = other["account_id"]
    eq(call("POST", "/v1/accounts", "/v1/accounts", CMD, {"owner": "x"})[0], 400)
    eq(call("POST", "/v1/accounts", "/v1/accounts", CMD, None, raw=b"{}", headers={"content-type": "text/plain"})[0], 415)
    dep = "/v1/accounts/{account_id}/deposits"
    eq(call("POST", dep, f"/v1/accounts/{a}/deposits", CMD, {"amount_minor": 900, "currency": "EUR"})[0], 201)
    eq(call("POST", dep, f"/v1/accounts/{uuid.uuid4()}/deposits", CMD, {"amount_minor": 1, "currency": "EUR"})[0], 404)
    eq(call("POST", dep, f"/v1/accounts/{a}/deposits", CMD, {"amount_minor": 1, "currency": "USD"})[0], 422)
    eq(call("POST", dep, f"/v1/accounts/{a}/deposits", CMD, {"amount_minor": 1, "currency": "EUR"},
            headers={"if-match": '"1"'})[0], 412)
    eq(call("POST", dep, f"/v1/accounts/{a}/deposits", CMD, {"amount_minor": 1, "currency": "EUR"}, key=False)[0], 400)
    wd = "/v1/accounts/{account_id}/withdrawals"
    eq(call("POST", wd, f"/v1/accounts/{a}/withdrawals", CMD, {"amount_minor": 100, "currency": "EUR"})[0], 201)
    eq(call("POST", wd, f"/v1/accounts/{a}/withdrawals", CMD, {"amount_minor": 10**9, "currency": "EUR"})[0], 422)
    tr = "/v1/transfers"
    s, t = call("POST", tr, tr, CMD, {"from_account_id": a, "to_account_id": b, "amount_minor": 50, "currency": "EUR"})
    eq(s, 201)
    eq(call("POST", tr, tr, CMD, {"from_account_id": a, "to_account_id": a, "amount_minor": 1, "currency": "EUR"})[0], 422)
    close = "/v1/accounts/{account_id}/close"
    eq(call("POST", close, f"/v1/accounts/{a}/close", CMD, {})[0], 422)
    c = call("POST", "/v1/accounts", "/v1/accounts", CMD, {"owner": "to-close", "currency": "EUR"})[1]["account_id"]
    eq(call("POST", close, f"/v1/accounts/{c}/close", CMD, {})[0], 200)

    acc = "/v1/accounts/{account_id}"
    eq(call("GET", acc, f"/v1/accounts/{a}?min_version=4", QRY)[0], 200)  # open, deposit, withdraw, transfer
    eq(call("GET", acc, f"/v1/accounts/{uuid.uuid4()}", QRY)[0], 404)
    eq(call("GET", acc, f"/v1/accounts/{a}?min_version=x", QRY)[0], 400)
    eq(call("GET", acc, f"/v1/accounts/{a}?min_version=99", QRY)[0], 503)
    call("GET", acc, f"/v1/accounts/{b}?min_version=2", QRY)
    s, page = call("GET", "/v1/accounts/{account_id}/transactions", f"/v1/accounts/{a}/transactions?limit=2", QRY)
    eq((s, len(page["items"])), (200, 2))
    call("GET", "/v1/accounts/{account_id}/transactions", f"/v1/accounts/{b}/transactions", QRY)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    eq(call("GET", "/v1/accounts/{account_id}/balance", f"/v1/accounts/{a}/balance?as_of={when}", QRY)[0], 200)
    eq(call("GET", "/v1/accounts/{account_id}/balance", f"/v1/accounts/{a}/balance", QRY)[0], 400)
    eq(call("GET", "/v1/accounts/{account_id}/audit", f"/v1/accounts/{a}/audit?limit=2", QRY)[0], 200)
    eq(call("GET", "/v1/accounts/{account_id}/audit/verify", f"/v1/accounts/{a}/audit/verify", QRY)[0], 200)
    for port in (CMD, QRY):
        eq(call("GET", "/healthz", "/healthz", port)[0], 200)
        eq(call("GET", "/readyz", "/readyz", port)[0], 200)


def problem_type(payload):
    return payload.get("type", "").rsplit("/", 1)[-1] if isinstance(payload, dict) else None


def test_ledger_depth_operations_match_the_spec():
    """Holds, payments, credit limits and freezes (#33): every route, its answers and problems."""
    alice = token("alice", "customer")
    a = call("POST", "/v1/accounts", "/v1/accounts", CMD, {"owner": "alice", "currency": "EUR"})[1]["account_id"]
    b = call("POST", "/v1/accounts", "/v1/accounts", CMD, {"owner": "bob", "currency": "EUR"})[1]["account_id"]
    call("POST", "/v1/accounts/{account_id}/deposits", f"/v1/accounts/{a}/deposits", CMD,
         {"amount_minor": 10000, "currency": "EUR"})
    # Holds: placed, captured (to an account, and as a withdrawal), released, and refused.
    ph = "/v1/accounts/{account_id}/holds"
    s, h1 = call("POST", ph, f"/v1/accounts/{a}/holds", CMD,
                 {"amount_minor": 500, "currency": "EUR", "reference": "card", "expires_in_seconds": 3600})
    eq(s, 201)
    h2 = call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 300, "currency": "EUR"})[1]
    h3 = call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 100, "currency": "EUR"})[1]
    h4 = call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 1, "currency": "EUR"})[1]
    call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 2, "currency": "EUR"})  # stays open
    eq(call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 10**9, "currency": "EUR"})[0], 422)
    eq(call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 1, "currency": "EUR",
                                                          "expires_in_seconds": 0})[0], 400)
    eq(call("POST", ph, f"/v1/accounts/{uuid.uuid4()}/holds", CMD, {"amount_minor": 1, "currency": "EUR"})[0], 404)
    eq(call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 1, "currency": "EUR"},
            headers={"if-match": '"1"'})[0], 412)
    eq(call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 1, "currency": "EUR"},
            auth=token("audit", "auditor"))[0], 403)
    cap, rel = "/v1/holds/{hold_id}/capture", "/v1/holds/{hold_id}/release"
    s, c = call("POST", cap, f"/v1/holds/{h1['hold_id']}/capture", CMD, {"amount_minor": 200, "to_account_id": b})
    eq((s, c["to"]["account_id"], c["released_minor"]), (201, b, 300))
    s, c = call("POST", cap, f"/v1/holds/{h2['hold_id']}/capture", CMD, {})
    eq((s, "to" in c), (201, False))
    eq(call("POST", rel, f"/v1/holds/{h3['hold_id']}/release", CMD, {})[0], 200)
    s, p = call("POST", rel, f"/v1/holds/{h3['hold_id']}/release", CMD, {})
    eq((s, problem_type(p)), (409, "hold-not-open"))
    s, p = call("POST", cap, f"/v1/holds/{h4['hold_id']}/capture", CMD, {"amount_minor": 2})
    eq((s, problem_type(p)), (422, "capture-exceeds-hold"))
    s, p = call("POST", cap, f"/v1/holds/{uuid.uuid4()}/capture", CMD, {})
    eq((s, problem_type(p)), (404, "hold-not-found"))
    s, p = call("POST", cap, "/v1/holds/not-a-uuid/capture", CMD, {})
    eq((s, problem_type(p)), (400, "invalid-hold-id"))
    s, p = call("POST", rel, f"/v1/holds/{h4['hold_id']}/release", CMD, {}, auth=alice)
    eq((s, problem_type(p)), (403, "forbidden"), "the bank's hold, to its account's owner")
    short = call("POST", ph, f"/v1/accounts/{a}/holds", CMD, {"amount_minor": 1, "currency": "EUR",
                                                               "expires_in_seconds": 1})[1]
    time.sleep(1.1)
    s, p = call("POST", cap, f"/v1/holds/{short['hold_id']}/capture", CMD, {})
    check((s, problem_type(p)) in ((409, "hold-expired"), (409, "hold-not-open")), f"past expiry: {s} {p}")
    # The account's open holds (query API), and one hold.
    lh = "/v1/accounts/{account_id}/holds"
    s, page = call("GET", lh, f"/v1/accounts/{a}/holds?status=open&limit=1", QRY)
    eq((s, [x["hold_id"] for x in page["items"]], page["next_cursor"] is not None), (200, [h4["hold_id"]], True))
    eq(call("GET", lh, f"/v1/accounts/{a}/holds?status=released", QRY)[0], 400)
    eq(call("GET", lh, f"/v1/accounts/{a}/holds?status=open", QRY, auth=token("bob", "customer"))[0], 404)
    eq(call("GET", "/v1/holds/{hold_id}", f"/v1/holds/{h1['hold_id']}", QRY)[0], 200)
    # Credit limits and freezes: the operators'.
    cl, fz, uf = ("/v1/accounts/{account_id}/credit-limit", "/v1/accounts/{account_id}/freeze",
                  "/v1/accounts/{account_id}/unfreeze")
    s, r = call("PUT", cl, f"/v1/accounts/{b}/credit-limit", CMD, {"overdraft_limit_minor": 1000})
    eq((s, r["overdraft_limit_minor"]), (200, 1000))
    eq(call("PUT", cl, f"/v1/accounts/{b}/credit-limit", CMD, {"overdraft_limit_minor": -1})[0], 400)
    eq(call("PUT", cl, f"/v1/accounts/{a}/credit-limit", CMD, {"overdraft_limit_minor": 5}, auth=alice)[0], 403)
    eq(call("PUT", cl, f"/v1/accounts/{uuid.uuid4()}/credit-limit", CMD, {"overdraft_limit_minor": 5})[0], 404)
    s, hdrs, body = request("POST", f"/v1/accounts/{b}/credit-limit", body={"overdraft_limit_minor": 5},
                            headers={"idempotency-key": str(uuid.uuid4())}, port=CMD)
    eq((s, hdrs.get("allow"), problem_type(body)), (405, "PUT", "method-not-allowed"))
    check("Allow" in SPEC["components"]["responses"]["MethodNotAllowed"]["headers"], "405 documented with Allow")
    eq(validate(body, SPEC["components"]["responses"]["MethodNotAllowed"]["content"]["application/problem+json"]
                ["schema"]), [])
    s, r = call("POST", fz, f"/v1/accounts/{b}/freeze", CMD, {"reason": "court order 17"})
    eq((s, r["frozen"]), (200, True))
    s, p = call("POST", fz, f"/v1/accounts/{b}/freeze", CMD, {"reason": "again"})
    eq((s, problem_type(p)), (409, "already-frozen"))
    s, page = call("GET", "/v1/accounts/{account_id}/audit", f"/v1/accounts/{b}/audit?limit=200", QRY,
                   auth=token("bob", "customer"))
    eq([x.get("redacted") for x in page["items"] if x["event"]["type"] == "AccountFrozen"], [["actor", "data.reason"]],
       "the freeze's reason and actor, blanked to its customer")
    eq(call("POST", fz, f"/v1/accounts/{b}/freeze", CMD, {})[0], 400)
    eq(call("POST", fz, f"/v1/accounts/{a}/freeze", CMD, {"reason": "x"}, auth=alice)[0], 403)
    s, p = call("POST", "/v1/payments", "/v1/payments", CMD,
                {"legs": [{"from_account_id": a, "to_account_id": b, "amount_minor": 1, "currency": "EUR"},
                          {"from_account_id": b, "to_account_id": a, "amount_minor": 1, "currency": "EUR"}]})
    eq((s, problem_type(p), p.get("leg")), (422, "account-frozen", 1), "a refused leg, named")
    s, r = call("POST", uf, f"/v1/accounts/{b}/unfreeze", CMD, {})
    eq((s, r["frozen"]), (200, False))
    s, p = call("POST", uf, f"/v1/accounts/{b}/unfreeze", CMD, {})
    eq((s, problem_type(p)), (409, "not-frozen"))
    # Payments.
    pay = "/v1/payments"
    s, r = call("POST", pay, pay, CMD, {"legs": [
        {"from_account_id": a, "to_account_id": b, "amount_minor": 100, "currency": "EUR"},
        {"from_account_id": b, "to_account_id": a, "amount_minor": 5, "currency": "EUR"}], "reference": "order 1"})
    eq((s, len(r["legs"])), (201, 2))
    s, r = call("POST", pay, pay, CMD, {"legs": [
        {"from_account_id": a, "to_account_id": b, "amount_minor": 1, "currency": "EUR"}]}, auth=alice)
    eq((s, r["legs"][0]["to"]), (201, {"account_id": b}), "a destination alice cannot see: no version")
    s, p = call("POST", pay, pay, CMD, {"legs": [
        {"from_account_id": a, "to_account_id": b, "amount_minor": 1, "currency": "EUR"},
        {"from_account_id": str(uuid.uuid4()), "to_account_id": b, "amount_minor": 1, "currency": "EUR"}]})
    eq((s, problem_type(p), p.get("leg")), (404, "account-not-found", 1))
    eq(call("POST", pay, pay, CMD, {"legs": []})[0], 400)
    s, p = call("POST", pay, pay, CMD, {"legs": [
        {"from_account_id": a, "to_account_id": b, "amount_minor": 1, "currency": "EUR"}]},
        headers={"if-match": '"1"'})
    eq((s, "leg" in p), (412, False))


def test_metrics_count_the_flow():
    for port, route in ((CMD, "/v1/accounts/{id}/deposits"), (QRY, "/v1/accounts/{id}")):
        s, text = call("GET", "/metrics", "/metrics", port)
        eq(s, 200)
        lines = [ln for ln in text.splitlines() if ln.startswith("ledgerline_http_requests_total{")
                 and f'route="{route}"' in ln]
        check(lines and sum(int(ln.rsplit(" ", 1)[1]) for ln in lines) > 0, f"{route} counted on {port}: {lines}")
        check('route="other"' in text or "/v1/" in text, "templates, not raw paths")
        check(re.search(r'ledgerline_http_request_duration_seconds_bucket\{[^}]*le="\+Inf"\} \d+', text),
              "latency histogram")
        check(not re.search(r'route="/v1/accounts/[0-9a-f]{8}-', text), "no raw ids as labels")
        check("ledgerline_dependency_errors_total{" in text, "dependency errors")
    check("ledgerline_command_pending{" in call("GET", "/metrics", "/metrics", CMD)[1], "pending commands")


def test_every_documented_operation_is_routed():
    a = post("/v1/accounts", {"owner": "routed", "currency": "EUR"}, port=CMD)[2]["account_id"]
    for template, ops in SPEC["paths"].items():
        for method, op in ops.items():
            if template == "/metrics" or method not in ("get", "post", "put"):
                continue  # /metrics: served by both, checked above; else a path's own description
            port = QRY if op.get("servers", [{}])[0].get("url", "").endswith("8081") else CMD
            path = template.replace("{account_id}", a)
            status, _, body = request(method.upper(), path, body={} if method in ("post", "put") else None,
                                      headers={"idempotency-key": str(uuid.uuid4())}, port=port)
            check(not (status == 404 and isinstance(body, dict) and body.get("type", "").endswith("/not-found")),
                  f"{method.upper()} {template} is documented but not routed")


if __name__ == "__main__":
    with paused_stack_services("relay", "projector", "query"), \
            Service("command", ["--listen", f"127.0.0.1:{CMD}"], port=CMD), Service("relay", ["--poll-ms", "200"]), \
            Service("projector", []), Service("query", ["--listen", f"127.0.0.1:{QRY}"], port=QRY):
        code = run(dict(globals()), "openapi")
    sys.exit(code)
