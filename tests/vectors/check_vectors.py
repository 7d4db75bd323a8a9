#!/usr/bin/env python3
"""Independent check of the golden vectors, in Python with the standard library only.

tests/vectors/events.jsonl (schema 2, every event type) and tests/vectors/events_v1.jsonl (the
schema 1 file of earlier builds, never rewritten). Proves the canonical form and hash chain are
reproducible outside C (README.md):
  canonical(e) = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False), UTF-8
  hash        = sha256(canonical(envelope without "hash")).hexdigest()
  prev_hash   = previous event's hash in the same account, 64 zeros for version 1
and that every event's data has exactly the keys of its type and schema, of the right JSON types,
with figures (balance, held, limit, frozen) that follow from the events before it, recomputed
here without the C code. Prints one line per check and ends with "N passed, N failed".
Usage: check_vectors.py [FILE...]   (default: both files; the schema is read from each event)
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ZERO = "0" * 64
FIGURES = {"balance_after_minor", "held_after_minor", "overdraft_limit_minor", "frozen"}
ENVELOPE = {"event_id", "account_id", "version", "type", "schema_version", "global_position", "occurred_at",
            "command_id", "correlation_id", "actor", "data", "prev_hash", "hash"}
MONEY = {"amount_minor", "currency"}

# Per schema and type: (required data keys, optional key groups: all of a group or none).
SCHEMA_1 = {
    "AccountOpened": ({"owner", "currency"}, []),
    "AccountClosed": (set(), []),
    "MoneyDeposited": (MONEY | {"reference", "balance_after_minor"}, []),
    "MoneyWithdrawn": (MONEY | {"reference", "balance_after_minor"}, []),
    "TransferSent": (MONEY | {"reference", "balance_after_minor", "transfer_id", "to_account_id"}, []),
    "TransferReceived": (MONEY | {"reference", "balance_after_minor", "transfer_id", "from_account_id"}, []),
}
SCHEMA_2 = {
    "AccountOpened": ({"owner", "currency"}, []),
    "AccountClosed": (set(), []),
    "MoneyDeposited": (MONEY | {"reference"} | FIGURES, []),
    "MoneyWithdrawn": (MONEY | {"reference"} | FIGURES, []),
    "TransferSent": (MONEY | {"reference", "transfer_id", "to_account_id"} | FIGURES, [{"payment_id"}]),
    "TransferReceived": (MONEY | {"reference", "transfer_id", "from_account_id"} | FIGURES, [{"payment_id"}]),
    "HoldPlaced": (MONEY | {"reference", "hold_id", "expires_at"} | FIGURES, []),
    "HoldCaptured": (MONEY | {"reference", "hold_id", "released_minor"} | FIGURES,
                     [{"transfer_id", "to_account_id"}]),
    "HoldReleased": (MONEY | {"hold_id"} | FIGURES, []),
    "HoldExpired": (MONEY | {"hold_id"} | FIGURES, []),
    "CreditLimitSet": (set(FIGURES), []),
    "AccountFrozen": ({"reason"} | FIGURES, []),
    "AccountUnfrozen": (set(FIGURES), []),
}
SCHEMAS = {1: SCHEMA_1, 2: SCHEMA_2}
INTEGER_KEYS = {"amount_minor", "released_minor", "balance_after_minor", "held_after_minor", "overdraft_limit_minor"}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_keys(event):
    """The envelope and data keys of the event's schema and type, and their JSON types."""
    findings = [(set(event) == ENVELOPE, "envelope has exactly its fields")]
    table = SCHEMAS.get(event.get("schema_version"), {})
    kind = table.get(event.get("type"))
    if kind is None:
        return findings + [(False, f"type {event.get('type')} exists in schema {event.get('schema_version')}")]
    required, optional = kind
    data = event["data"]
    keys = set(data)
    extra = keys - required
    groups_ok = all(g <= keys or not (g & keys) for g in optional)
    allowed = required.union(*optional) if optional else required
    findings.append((required <= keys and keys <= allowed and groups_ok,
                     f"data keys of {event['type']} (schema {event['schema_version']})"
                     + (f" with the optional {', '.join(sorted(extra))}" if extra else "")))
    types_ok = all(is_int(data[k]) for k in keys & INTEGER_KEYS)
    types_ok &= "frozen" not in data or isinstance(data["frozen"], bool)
    types_ok &= all(isinstance(data[k], str) for k in keys - INTEGER_KEYS - {"frozen"})
    findings.append((types_ok, "data values are of their JSON types (integers, a boolean, strings)"))
    return findings


class Account:
    def __init__(self):
        self.balance = self.held = self.limit = 0
        self.frozen = False
        self.holds = {}


def check_figures(event, accounts, legs):
    """Recomputes the account's figures after the event from the ones before (accounts, updated in
    place) and compares them with what the event carries. legs collects transfer legs by id."""
    data, kind = event["data"], event["type"]
    a = accounts.setdefault(event["account_id"], Account())
    amount = data.get("amount_minor", 0)
    ok = True
    if kind == "AccountOpened":
        accounts[event["account_id"]] = Account()
        return []
    if kind == "AccountClosed":
        ok = a.balance == 0 and a.held == 0 and not a.frozen
        accounts[event["account_id"]] = Account()
        return [(ok, "closes an empty, unfrozen account without holds")]
    if kind in ("MoneyDeposited", "TransferReceived"):
        a.balance += amount
    elif kind in ("MoneyWithdrawn", "TransferSent"):
        ok = not a.frozen
        a.balance -= amount
    elif kind == "HoldPlaced":
        ok = not a.frozen and data["hold_id"] not in a.holds
        a.holds[data["hold_id"]] = amount
        a.held += amount
    elif kind == "HoldCaptured":
        whole = a.holds.pop(data["hold_id"], None)
        ok = not a.frozen and whole == amount + data["released_minor"]
        a.balance -= amount
        a.held -= whole or 0
    elif kind in ("HoldReleased", "HoldExpired"):
        whole = a.holds.pop(data["hold_id"], None)
        ok = whole == amount
        a.held -= whole or 0
    elif kind == "CreditLimitSet":
        a.limit = data["overdraft_limit_minor"]
    elif kind == "AccountFrozen":
        ok, a.frozen = not a.frozen, True
    elif kind == "AccountUnfrozen":
        ok, a.frozen = a.frozen, False
    if "transfer_id" in data:
        side = "received" if kind == "TransferReceived" else "sent"
        legs.setdefault(data["transfer_id"], []).append((side, amount, event["account_id"],
                                                         data.get("to_account_id", data.get("from_account_id")),
                                                         data.get("payment_id")))
    expect = {"balance_after_minor": a.balance}
    if event["schema_version"] >= 2:
        expect.update(held_after_minor=a.held, overdraft_limit_minor=a.limit, frozen=a.frozen)
    ok &= all(data.get(k) == v for k, v in expect.items())
    ok &= a.balance - a.held >= -a.limit and a.held >= 0
    return [(ok, f"figures follow ({kind}: {expect})")]


def check_legs(legs):
    """Every transfer (and capture to an account) has one leg on each side, with one amount."""
    findings = []
    for tid, sides in sorted(legs.items()):
        ok = sorted(s[0] for s in sides) == ["received", "sent"] and len({s[1] for s in sides}) == 1
        if ok:
            sent = next(s for s in sides if s[0] == "sent")
            received = next(s for s in sides if s[0] == "received")
            ok = sent[3] == received[2] and received[3] == sent[2] and sent[4] == received[4]
        findings.append((ok, f"transfer {tid}: one leg each side, same amount and payment"))
    return findings


def verify_line(line, heads):
    """Checks one stored envelope (bytes) against the chain heads per account (updated in place).
    Returns a list of (ok, what) findings and the event."""
    event = json.loads(line)
    findings = [(canonical(event) == line, "text is canonical")]
    findings += check_keys(event)
    claimed = event.pop("hash", None)
    findings.append((hashlib.sha256(canonical(event)).hexdigest() == claimed, "hash matches"))
    account = event["account_id"]
    head, version = heads.get(account, (ZERO, 0))
    findings.append((event["prev_hash"] == head and event["version"] == version + 1,
                     f"prev_hash links (version {event['version']})"))
    heads[account] = (claimed, event["version"])
    return findings, event


def main():
    paths = sys.argv[1:] or [os.path.join(HERE, "events.jsonl"), os.path.join(HERE, "events_v1.jsonl")]
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("  ok   " if ok else "  FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    for path in paths:
        heads, accounts, legs = {}, {}, {}
        name = os.path.basename(path)
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                findings, event = verify_line(raw.rstrip(b"\n"), heads)
                findings += check_figures(event, accounts, legs)
                for ok, what in findings:
                    check(ok, f"{name} line {number}: {what}")
        for ok, what in check_legs(legs):
            check(ok, f"{name}: {what}")
    print(f"vectors_python: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
