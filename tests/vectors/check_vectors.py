#!/usr/bin/env python3
"""Independent check of tests/vectors/events.jsonl, in Python with the standard library only.

Proves the canonical form and hash chain are reproducible outside C:
  canonical(e) = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False), UTF-8
  hash        = sha256(canonical(envelope without "hash")).hexdigest()
  prev_hash   = previous event's hash in the same account, 64 zeros for version 1
Prints one line per check and ends with "N passed, N failed".
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify_line(line, heads):
    """Checks one stored envelope (bytes) against the chain heads per account (updated in place).
    Returns a list of (ok, what) findings."""
    event = json.loads(line)
    findings = [(canonical(event) == line, "text is canonical")]
    claimed = event.pop("hash")
    findings.append((hashlib.sha256(canonical(event)).hexdigest() == claimed, "hash matches"))
    account = event["account_id"]
    findings.append((event["prev_hash"] == heads.get(account, "0" * 64),
                     f"prev_hash links (version {event['version']})"))
    heads[account] = claimed
    return findings


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "events.jsonl")
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("  ok   " if ok else "  FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    heads = {}
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            for ok, what in verify_line(raw.rstrip(b"\n"), heads):
                check(ok, f"line {number}: {what}")
    print(f"vectors_python: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
