"""The run builder (autodialer.dialer.run) runs a real small campaign against the lab PBX with Prefect
unimportable: the one place that builds a run (journal replay, lease, take-over and resolution of
a dead run's attempts, engines, pacer, dialer) needs nothing of Prefect, so the flows, the bench
and the fault kit can all build theirs with it."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from autodialer.dialer.journal import Journal
from autodialer.telephony.outcomes import CallResult, CallStatus
from autodialer.store import runs
from tests.faultkit import load_into_store, numbers, rows, write_campaign

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter where `import prefect` fails. The campaign comes pickled: loading
# a campaign file checks its cron with Prefect's parser, which is the file's check, not the run's.
SCRIPT = """
import asyncio, json, sys
sys.modules["prefect"] = None  # any import of prefect from here on raises ImportError

import pickle
from collections import Counter

from autodialer.config import parse_ami_url
from autodialer.dialer.dialing import utcnow
from autodialer.dialer.run import hold_run, open_run
from autodialer.store import Store

campaign = pickle.loads(open(sys.argv[1], "rb").read())
store = Store(sys.argv[2])
cid = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())


async def main():
    async with hold_run(campaign, store, cid, run_id="bare") as held:
        orphans = [o.attempt_id for o in held.orphans]
        async with open_run(campaign, store, cid, servers=[(parse_ami_url(sys.argv[3]), campaign.outbound_context)],
                            held=held, cdr=None) as run:
            due = await asyncio.to_thread(store.due_contacts, cid, now=utcnow())
            outcomes = await asyncio.gather(*(run.dialer.attempt(c) for c in due))
            resolved = await run.settle()
            pacer = type(run.pacer).__name__
        held.lease.counts = {"dialled": len(outcomes)}
    return {
        "orphans": orphans,
        "dialled": dict(Counter(o.result.status.value for o in outcomes if o.result)),
        "resolved": [o.result.status.value for o in resolved],
        "pacer": pacer,
        "prefect": sorted(m for m in sys.modules if m.startswith("prefect") and sys.modules[m] is not None),
    }


print(json.dumps(asyncio.run(main())))
store.close()
"""


def test_a_run_is_built_and_dials_without_prefect(tmp_path, lab_pbx, db_url):
    phones = numbers(6, digits="12")  # ...1 answers, ...2 is busy (the lab's plan)
    campaign, store, cid = load_into_store(write_campaign(tmp_path / "c", phones, name="bare-run"), db_url)
    journals = tmp_path / "journal"
    # A dead run: two calls in flight when it died; one result reached its journal only.
    due = store.due_contacts(cid, now=datetime.now(timezone.utc))
    journaled, orphaned = due[0], due[1]
    runs.start_run(store, "dead", cid, lease_seconds=1)
    for contact, attempt in ((journaled, "dead-journaled"), (orphaned, "dead-orphaned")):
        assert store.claim_attempt(contact.id, attempt_id=attempt, number=contact.phone, now=datetime.now(timezone.utc),
                                   max_attempts=3, run_id="dead")
    journal = Journal(campaign.name, "dead", directory=journals)
    journal.append(journaled.id, CallResult(attempt_id="dead-journaled", number=journaled.phone, status=CallStatus.ANSWERED,
                                            answered_at=datetime.now(timezone.utc), ended_at=datetime.now(timezone.utc)))
    journal.close()  # the lock a dead process leaves free
    store.close()
    time.sleep(1.5)  # the dead run's lease lapses (database clock)

    pickled = tmp_path / "campaign.pickle"
    pickled.write_bytes(pickle.dumps(campaign))
    env = {**os.environ, "AUTODIALER_JOURNAL_DIR": str(journals), "PYTHONPATH": str(ROOT)}
    env.pop("AUTODIALER_CDR_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(pickled), db_url, lab_pbx.url], capture_output=True, text=True,
                         env=env, cwd=str(ROOT), timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])

    assert got["prefect"] == []
    assert got["pacer"] == "FixedPacer"  # the campaign's pacing (fixed), within its channels
    # The journal replayed first: only the call nothing recorded is an orphan, resolved UNKNOWN
    # (not up at the PBX, no CDR) before anyone is dialed; the other four dialed once each.
    assert got["orphans"] == ["dead-orphaned"] and got["resolved"] == ["UNKNOWN"]
    assert got["dialled"] == {"ANSWERED": 2, "BUSY": 2}, got
    attempts = {r["attempt_id"]: r for r in rows(db_url, "SELECT attempt_id, status, failure, run_id FROM attempts")}
    assert attempts["dead-journaled"]["status"] == "ANSWERED"
    assert (attempts["dead-orphaned"]["status"], attempts["dead-orphaned"]["failure"]) == ("UNKNOWN", "run_died")
    assert sorted(r["run_id"] for a, r in attempts.items() if not a.startswith("dead-")) == ["bare"] * 4
    ended = {r["run_id"]: r["end_reason"] for r in rows(db_url, "SELECT run_id, end_reason FROM runs")}
    assert ended == {"dead": "expired", "bare": "finished"}
    assert not list(journals.rglob("*.jsonl")) or all(not p.read_text().strip() for p in journals.rglob("*.jsonl"))
