"""The dial path's contract (autodialer.telephony.contract): every engine is an `Engine`, and the
dialing core asks only what the contract names. Against the lab PBX over TCP (AMI and its call
file spool) and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from autodialer.kinds.callback import OperatorFirstEngine
from autodialer.dialer.dialing import ContactDialer
from autodialer.lab import running_lab
from autodialer.telephony.outcomes import CallStatus
from autodialer.pacing.limits import CallLimiter
from autodialer.telephony.callfiles import CallFileEngine
from autodialer.telephony.contract import CallSpec, Engine
from autodialer.telephony.engine import DialEngine
from autodialer.telephony.pool import EnginePool
from tests.faultkit import load_into_store, numbers, session_for, write_campaign


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_every_engine_is_an_engine(lab_pbx, tmp_path):
    async def main():
        async with session_for(lab_pbx.url) as ami:
            one = DialEngine(ami)
            engines = [one, EnginePool([one]), OperatorFirstEngine(one), CallFileEngine(tmp_path)]
            assert all(isinstance(e, Engine) for e in engines)
            assert [e.connected for e in engines] == [True, True, True, True]
            result = await EnginePool([one]).place(CallSpec("79061234562", context="dialer-robot-order", ring_timeout=15))
            assert result.status is CallStatus.BUSY

    run(main())


def test_a_pool_waits_for_its_reconnecting_link_instead_of_giving_the_contact_back(tmp_path, pg_url):
    """The flows dial through an EnginePool. A contact whose turn comes while the AMI link is
    reconnecting waits for the link (up to LINK_WAIT_SECONDS) and is dialed once it is back.
    Before the Engine contract the wait looked for `engine.session`, which a pool does not have:
    the attempt went out at once on a dead link and was given back NOT_SENT, nothing dialed."""
    phones = numbers(1, digits="1")
    with running_lab(time_scale=0.02) as lab:
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones), pg_url)

        async def main():
            async with session_for(lab.url, reconnect_initial=2.0, reconnect_max=2.0) as ami:
                pool = EnginePool([DialEngine(ami, outbound_context=campaign.outbound_context, result_grace=1.0)])
                dialer = ContactDialer(campaign, store, pool, CallLimiter(1, 50), campaign_id=cid, run_id="t")
                contact = (await asyncio.to_thread(store.due_contacts, cid, now=campaign_now()))[0]
                ami.drop()
                await asyncio.sleep(0.05)
                assert not pool.connected
                started = time.monotonic()
                outcome = await dialer.attempt(contact)
                return outcome, time.monotonic() - started, ami.connects

        outcome, waited, connects = run(main())
        store.close()
    assert connects == 2 and waited >= 1.0, (connects, waited)  # it waited for the reconnect
    assert outcome.result.status is CallStatus.ANSWERED, outcome.result
    assert lab.originates == 1


def test_a_contact_dialed_through_call_files(tmp_path, pg_url):
    """The call-file sender stands behind the dialing core like the AMI engine: the lab's spool
    (pbx_spool's rules) archives the answered call Completed, the busy one Expired (NO_ANSWER: a
    call file cannot tell busy from no answer), and the store records both."""
    phones = ["+79061234561", "+79061234562"]
    spool = tmp_path / "spool"
    with running_lab(time_scale=0.02, spool_dir=spool) as lab:
        campaign, store, cid = load_into_store(write_campaign(tmp_path / "c", phones), pg_url)

        async def main():
            engine = CallFileEngine(spool, outbound_context=campaign.outbound_context, result_grace=10.0, poll=0.05)
            dialer = ContactDialer(campaign, store, engine, CallLimiter(2, 50), campaign_id=cid, run_id="t")
            contacts = await asyncio.to_thread(store.due_contacts, cid, now=campaign_now())
            return await asyncio.gather(*(dialer.attempt(c) for c in contacts)), engine.in_flight

        outcomes, in_flight = run(main())
        statuses = {o.phone: o.result.status for o in outcomes}
        rows = {o.phone: (lambda c: (c.state, c.last_status, c.attempts))(store.contact(o.contact_id)) for o in outcomes}
        store.close()
    assert statuses == {"+79061234561": CallStatus.ANSWERED, "+79061234562": CallStatus.NO_ANSWER}, outcomes
    assert in_flight == 0 and sorted(p.name for p in (spool / "outgoing").iterdir()) == []
    assert len(list((spool / "outgoing_done").iterdir())) == 2
    assert rows == {"+79061234561": ("done", "ANSWERED", 1), "+79061234562": ("pending", "NO_ANSWER", 1)}
    assert lab.originates == 0  # nothing went over the AMI


def campaign_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_every_pacer_is_a_pacer(lab_pbx):
    """The limiter and the pacers keep one contract (autodialer.pacing.limits.Pacer): a slot per
    call, every result observed, stats for the run's summary."""
    from autodialer.telephony.outcomes import CallResult
    from autodialer.pacing.limits import Pacer, Slot
    from autodialer.pacing.pacers import make_pacer
    from autodialer.pacing.settings import PacingSettings

    async def main():
        async with session_for(lab_pbx.url) as ami:
            pacers = [CallLimiter(2, 50), make_pacer(PacingSettings(mode="fixed", max_channels=2)),
                      make_pacer(PacingSettings(mode="progressive", queue="support", max_channels=2), ami)]
            for pacer in pacers:
                assert isinstance(pacer, Pacer), pacer
                await pacer.start()
                async with pacer.call_slot() as slot:
                    assert isinstance(slot, Slot) and pacer.in_flight == 1
                pacer.observe(CallResult(attempt_id="p1", number="79061234561", status=CallStatus.BUSY))
                assert pacer.stats.calls == 1 and pacer.stats.as_dict()["peak_in_flight"] == 1
                await pacer.close()

    run(main())
