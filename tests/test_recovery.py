"""What a run does with the attempts of a dead run (lease lapsed), against the lab PBX and the
real store: a call still up is followed to its end and recorded as it ends; one that is gone is
UNKNOWN (run_died), never FAILED retried in minutes. The lease is short here (2 s) so the test
does not wait the production 90 s: the rule under test is which attempts are taken, not how long."""

from __future__ import annotations

import asyncio
import time

from autodialer.dialer.dialing import ContactDialer
from autodialer.lab import running_lab
from autodialer.telephony.outcomes import CallStatus, FailureKind
from autodialer.pacing.limits import CallLimiter
from autodialer.dialer.recovery import FOLLOWED_NOTE, recover_orphans
from autodialer.store import runs
from autodialer.telephony.engine import DialEngine
from tests.faultkit import attempts_table, load_into_store, numbers, session_for, write_campaign


def test_a_dead_runs_call_still_up_is_followed_and_one_gone_is_unknown(tmp_path, pg_url):
    up, gone = numbers(2, digits="1")
    campaign, store, cid = load_into_store(
        write_campaign(tmp_path, [up, gone], max_call_duration="10m",
                       list={"phone_columns": ["phone"], "variables": {"CUSTOMER": "name"}}), pg_url)
    contacts = {c.phone: c for c in store.due_contacts(cid, now=runs_now(store))}
    runs.start_run(store, "dead", cid, lease_seconds=2)
    for phone, attempt_id in ((up, "a-up"), (gone, "a-gone")):
        assert store.claim_attempt(contacts[phone].id, attempt_id=attempt_id, number=phone, now=runs_now(store),
                                   max_attempts=3, run_id="dead")

    async def main(lab):
        # The dead run placed "a-up" (answered, 2 s x scale 5 = 10 s of talk) and died: its AMI
        # session is gone, the call is still up at the PBX. "a-gone" never reached the PBX.
        async with session_for(lab.url) as dead_ami:
            dead = DialEngine(dead_ami, outbound_context=campaign.outbound_context)
            placed = asyncio.ensure_future(dead.originate(up, context="dialer-robot-order", attempt_id="a-up",
                                                          ring_timeout=15, variables={"CUSTOMER": "x"}))
            while lab.active_calls() < 1:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        placed.cancel()
        await asyncio.sleep(2.5)  # the lease lapses (database clock)
        assert lab.active_calls() == 1
        async with session_for(lab.url) as ami:
            engine = DialEngine(ami, outbound_context=campaign.outbound_context)
            dialer = ContactDialer(campaign, store, engine, CallLimiter(1, 10), campaign_id=cid, run_id="next")
            recovery = await recover_orphans(dialer, engine)
            assert len(recovery.followed) == 1 and len(recovery.closed) == 1
            started = time.monotonic()
            followed = await recovery.wait()
            return recovery.closed, followed, time.monotonic() - started

    with running_lab(time_scale=5.0) as lab:
        closed, followed, waited = asyncio.run(asyncio.wait_for(main(lab), 120))
    assert followed[0].result.status is CallStatus.ANSWERED and waited > 3  # followed to the real end
    assert FOLLOWED_NOTE in followed[0].result.error
    assert closed[0].result.status is CallStatus.UNKNOWN and closed[0].result.failure is FailureKind.RUN_DIED
    rows = {r["attempt_id"]: r for r in attempts_table(pg_url)}
    assert rows["a-up"]["status"] == "ANSWERED" and rows["a-up"]["state"] == "done"
    assert rows["a-gone"]["status"] == "UNKNOWN" and rows["a-gone"]["state"] == "pending"
    # UNKNOWN is retried the long way (a day by default), never within minutes.
    assert (rows["a-gone"]["next_attempt_at"] - runs_now(store)).total_seconds() > 20 * 3600
    store.close()


def runs_now(store):
    with store.engine.connect() as conn:
        return runs.db_now(conn)
