#!/usr/bin/env python3
"""The last check of `make test`: the stack's own ledger (what `make run` serves: PostgreSQL
database and MongoDB database "ledgerline", topic ledgerline.account-events) is intact after every
suite ran. Suites may use it as a client would, through the API; whatever tampers works in a
ledger of its own (ll_e2e.own_ledger), and this proves none reached the stack's.

- Every account's hash chain verifies: `ledgerline-audit verify --all`, exit 0, no broken row.
- The read model agrees with the event store (`ledgerline-audit reconcile`, every account): no
  balance or status that differs at the same version, no account the read model holds at a later
  version than the store. An account missing from the read model or behind it is lag, not
  damage: when the stack's relay and projector run, the check waits for it to clear (bounded);
  when they do not (`make test` alone starts none), nothing projects the stack's ledger after the
  last suite that did, and the lag is reported, not failed.
An empty ledger passes. The configuration is the stack's (built-in defaults, the environment), as
`ledgerline-audit` run by hand sees it. Must run after every other suite (the Makefile's
check-run lists it last)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from ll_e2e import BIN, check, eq, run, stack  # noqa: E402

LAG_WAIT_S = 120
SHOWN = 20  # rows printed of a long list
DAMAGE = ("BALANCE DIFFERS at the same version", "status differs")
ACCOUNTS = [None]  # accounts in the store, found by the verification


def audit(*args, timeout=900):
    """ledgerline-audit --format json ARGS: (exit code, rows, stderr); exit 2 fails at once."""
    out = subprocess.run([os.path.join(BIN, "ledgerline-audit"), "--format", "json", *args], capture_output=True,
                         text=True, timeout=timeout)
    check(out.returncode in (0, 1), f"ledgerline-audit {' '.join(args)} exited {out.returncode}: {out.stderr[-2000:]}")
    rows = json.loads(out.stdout) if out.stdout.strip() else []
    return out.returncode, rows, out.stderr


def summary(stderr):
    """The tool's closing summary line (it also writes progress to stderr on a terminal)."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith(("verified ", "reconciled "))]
    return lines[-1] if lines else stderr.strip()[-300:]


def test_every_hash_chain_verifies():
    rc, rows, err = audit("verify", "--all")
    print(f"    {summary(err)}")
    broken = [r for r in rows if r.get("ok") != "yes"]
    for r in broken[:SHOWN]:
        print(f"    broken: {r['account_id']} at version {r.get('first_bad_version')}: {r.get('reason')}")
    eq((rc, len(broken)), (0, 0), "accounts of the stack's ledger whose hash chain is broken (listed above)")
    ACCOUNTS[0] = len(rows)


def stack_projects():
    """True when the stack's relay and projector both run (they bring the read model up to date)."""
    return all(" up" in stack("status", name) for name in ("relay", "projector"))


def classify(rows):
    """(damaged rows, lagging rows) of a reconcile."""
    damaged, lagging = [], []
    for r in rows:
        ahead = (r.get("read_model_version") is not None and r.get("store_version") is not None
                 and int(r["read_model_version"]) > int(r["store_version"]))
        (damaged if r["difference"] in DAMAGE or ahead else lagging).append(r)
    return damaged, lagging


def test_read_model_agrees_with_the_store():
    if ACCOUNTS[0] == 0:
        print("    an empty ledger: nothing to reconcile")
        return
    projecting = stack_projects()
    deadline = time.time() + (LAG_WAIT_S if projecting else 0)
    while True:
        rc, rows, err = audit("reconcile")
        damaged, lagging = classify(rows)
        if damaged or not lagging or time.time() >= deadline:
            break
        time.sleep(5)
    print(f"    {summary(err)}")
    for r in (damaged + lagging)[:SHOWN]:
        print(f"    {'DAMAGED' if r in damaged else 'lag    '} {r['account_id']}: {r['difference']} (store "
              f"v{r.get('store_version')} {r.get('store_balance_minor')}, read model v{r.get('read_model_version')} "
              f"{r.get('read_model_balance_minor')})")
    eq(len(damaged), 0, "read-model documents of the stack's ledger that contradict its event store (listed above)")
    if lagging and not projecting:
        print(f"    {len(lagging)} accounts not yet in the read model: the stack's relay and projector are not "
              "running (make run starts them), so nothing projects them now")
        return
    eq(len(lagging), 0, f"accounts still behind in the read model after {LAG_WAIT_S} s with the stack's projector "
                        "running (listed above)")


if __name__ == "__main__":
    sys.exit(run(globals(), "shared_ledger_intact"))
