"""The last checks before a claim are made inside the call slot: a contact that waited for a slot
while the calling window closed (or the run's time ran out) is not dialed, not claimed, not
counted. The clock is injected (ContactDialer takes one), the PBX is the lab, the store real."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from autodialer.dialer.dialing import ContactDialer, SkipKind
from autodialer.lab import running_lab
from autodialer.pacing.limits import CallLimiter
from autodialer.telephony.engine import DialEngine
from tests.faultkit import load_into_store, numbers, session_for, write_campaign

UTC = timezone.utc
CLOSE = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # a Tuesday 21:00 in Moscow, the campaign's zone (09:00-21:00)


class StepClock:
    """The dialer's wall clock, moved by the test (everything else runs in real time)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _dial_while(campaign, store, cid, lab, clock, *, move_to, stop_at=None):
    """Three contacts, one call slot. Once the first call is up, the clock moves to `move_to`:
    the two others are still waiting for the slot."""
    async with session_for(lab.url) as ami:
        engine = DialEngine(ami, outbound_context=campaign.outbound_context, result_grace=1.0)
        dialer = ContactDialer(campaign, store, engine, CallLimiter(1, 50), campaign_id=cid, run_id="t",
                               clock=clock, stop_at=stop_at)
        contacts = await asyncio.to_thread(store.due_contacts, cid, now=clock())

        async def move_when_first_is_up():
            while engine.in_flight < 1 and not all(dialer.outcomes.get(c.id) for c in contacts):
                await asyncio.sleep(0.01)
            clock.now = move_to

        _, outcomes = await asyncio.gather(move_when_first_is_up(), asyncio.gather(*(dialer.attempt(c) for c in contacts)))
        return outcomes


@pytest.mark.parametrize("move_to, stop_at, why", [
    (CLOSE - timedelta(seconds=10), None, "window closed"),  # 10 s left: cannot ring min_ring (15 s)
    (CLOSE + timedelta(minutes=20), None, "window closed"),  # a slot wait spanning the close
    (CLOSE - timedelta(minutes=5), CLOSE - timedelta(minutes=10), "run time over"),  # --run-minutes
])
def test_a_slot_wait_past_the_close_or_the_run_end_dials_nobody(tmp_path, pg_url, move_to, stop_at, why):
    phones = numbers(3, digits="1")  # answered calls: the slot stays busy a while
    window = {"windows": [{"days": "daily", "start": "09:00", "end": "21:00"}]}
    campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, windows=window, max_concurrent_calls=1,
                                                          schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"}), pg_url)
    clock = StepClock(CLOSE - timedelta(minutes=30))
    with running_lab(time_scale=0.05) as lab:
        outcomes = asyncio.run(asyncio.wait_for(
            _dial_while(campaign, store, cid, lab, clock, move_to=move_to, stop_at=stop_at), 60))
        sent = lab.originates
    dialed = [o for o in outcomes if o.result is not None]
    skipped = [o for o in outcomes if o.skipped]
    assert len(dialed) == 1 and sent == 1
    assert [o.skipped for o in skipped] == [why, why]
    if why == "window closed":  # the next start the window allows: tomorrow 09:00 Moscow
        assert {o.next_attempt_at for o in skipped} == {datetime(2026, 12, 2, 6, 0, tzinfo=UTC)}
    # Nothing counted for the two that waited: no attempt row, no attempt used, still pending.
    for o in skipped:
        c = store.contact(o.contact_id)
        assert (c.attempts, c.state) == (0, "pending")
    store.close()


def test_a_refusal_backoff_wait_spanning_the_close_claims_and_dials_nobody(tmp_path, pg_url):
    """The PBX refused the last originates: the next contact must first wait out the refusal
    backoff (the production 0.25 .. 4 s), inside its slot. The window closes meanwhile (10 s left:
    a call cannot ring min_ring, 15 s). The backoff comes before the last window check and the
    claim, so the contact is neither claimed nor counted nor dialed."""
    from autodialer.pacing.limits import RefusalBackoff

    phones = numbers(1, digits="1")
    window = {"windows": [{"days": "daily", "start": "09:00", "end": "21:00"}]}
    campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, windows=window,
                                                          schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"}), pg_url)
    clock = StepClock(CLOSE - timedelta(seconds=20))  # 20 s left: may start when its turn comes
    backoff = RefusalBackoff()
    waited = {}

    async def main(lab):
        for _ in range(5):  # five refusals in a row: the next originate waits the full 4 s pause
            backoff.refused(await backoff.wait())
        async with session_for(lab.url) as ami:
            engine = DialEngine(ami, outbound_context=campaign.outbound_context, result_grace=1.0)
            dialer = ContactDialer(campaign, store, engine, CallLimiter(1, 50), campaign_id=cid, run_id="t",
                                   clock=clock, backoff=backoff)
            contact = (await asyncio.to_thread(store.due_contacts, cid, now=clock()))[0]

            async def close_during_the_backoff():
                await asyncio.sleep(1.0)
                clock.now = CLOSE - timedelta(seconds=10)

            started = time.monotonic()
            outcome, _ = await asyncio.gather(dialer.attempt(contact), close_during_the_backoff())
            waited["s"] = time.monotonic() - started
            return outcome

    with running_lab(time_scale=0.05) as lab:
        outcome = asyncio.run(asyncio.wait_for(main(lab), 60))
        sent = lab.originates
    assert waited["s"] >= 3.0  # it did wait out the backoff's pause
    assert outcome.skipped == "window closed" and outcome.skip is SkipKind.WINDOW_CLOSED and outcome.result is None and sent == 0
    c = store.contact(outcome.contact_id)
    assert (c.attempts, c.state) == (0, "pending")
    assert store.status_counts(outcome.contact_id) == {}  # no attempt row
    store.close()


@pytest.mark.parametrize("min_ring, dialed", [("5s", True), ("12s", False)])
def test_min_ring_is_the_campaigns_setting(tmp_path, pg_url, min_ring, dialed):
    """10 s before the close: a campaign whose calls need 5 s of ring before the close dials, one
    that needs 12 s does not (the default, 15 s, is the test above)."""
    phones = numbers(1, digits="3")  # no answer: ends at the ring timeout
    window = {"windows": [{"days": "daily", "start": "09:00", "end": "21:00"}]}
    campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, windows=window, min_ring=min_ring,
                                                          schedule={"cron": "0 9 * * *", "timezone": "Europe/Moscow"}), pg_url)
    assert campaign.min_ring == float(min_ring[:-1])
    clock = StepClock(CLOSE - timedelta(seconds=10))

    async def main(lab):
        async with session_for(lab.url) as ami:
            engine = DialEngine(ami, outbound_context=campaign.outbound_context, result_grace=1.0)
            dialer = ContactDialer(campaign, store, engine, CallLimiter(1, 50), campaign_id=cid, run_id="t", clock=clock)
            contact = (await asyncio.to_thread(store.due_contacts, cid, now=clock()))[0]
            return await dialer.attempt(contact)

    with running_lab(time_scale=0.05) as lab:
        outcome = asyncio.run(asyncio.wait_for(main(lab), 60))
        sent = lab.originates
    assert (sent, outcome.result is not None) == ((1, True) if dialed else (0, False))
    assert outcome.skipped == (None if dialed else "window closed")
    assert outcome.skip is (None if dialed else SkipKind.WINDOW_CLOSED)
    store.close()
