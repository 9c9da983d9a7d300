"""Faults on the AMI side, mid-campaign, against the lab PBX over TCP and a real PostgreSQL: the
connection drops, the PBX stalls, the PBX refuses originates. Every Originate the PBX received is
counted per number through a recording tap (tests/amitap.py) and compared with the attempts table."""

from __future__ import annotations

import asyncio
import collections
from datetime import datetime, timedelta, timezone


from autodialer.lab import running_lab
from autodialer.telephony.outcomes import CallResult, CallStatus, FailureKind
from tests.amitap import AmiTap
from tests.faultkit import (RETRY, assert_no_double_dials, attempts_table, contacts_table, dial_due, load_into_store,
                            numbers, session_for, write_campaign)

MAX_ATTEMPTS = RETRY["max_attempts"]


def run(coro, timeout=45):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _every_attempt_closed(db_url):
    rows = attempts_table(db_url)
    assert rows and all(r["status"] != "DIALING" for r in rows), [r for r in rows if r["status"] == "DIALING"]
    for c in contacts_table(db_url):
        assert c["state"] in ("pending", "done"), c
        if c["state"] == "pending" and c["attempts"]:
            assert c["next_attempt_at"] is not None, c  # rescheduled, not forgotten
    return rows


def test_ami_drop_mid_campaign_reconciles_calls_in_flight_and_dials_nothing_twice(tmp_path, pg_url):
    # time scale 0.05: a 15 s ring lasts 0.75 s, so many calls are ringing when the link drops.
    phones = numbers(40, digits="31")
    with running_lab(time_scale=0.05) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, max_concurrent_calls=20), pg_url)

        async def drop_when_busy(engine):
            while engine.in_flight < 15:
                await asyncio.sleep(0.01)
            assert lab.faults.drop_connections() == 1

        async def main():
            async with session_for(tap.url_for(lab.url)) as ami:
                outcomes = await dial_due(campaign, store, cid, ami, during=drop_when_busy, result_grace=1.0)
                return outcomes, ami.disconnects, ami.connects

        outcomes, disconnects, connects = run(main())
        store.close()
    assert (disconnects, connects) == (1, 2)
    assert len(outcomes) == 40 and not any(o.skipped for o in outcomes)
    print("drop outcomes:", collections.Counter((o.result.status.value, o.result.error) for o in outcomes))
    # Reconciled by ChannelId after the reconnect: the engine asked for the live channels, and the
    # calls whose channels were still up were watched to their real end (classified, not "lost").
    actions = [dict(a).get("Action") for a in tap.actions()]
    assert "CoreShowChannels" in actions[actions.index("Login", 1):]
    unseen = [o for o in outcomes if o.result.failure in (FailureKind.UNKNOWN, FailureKind.LINK_LOST)]
    watched = [o for o in outcomes if o.result.status in (CallStatus.NO_ANSWER, CallStatus.ANSWERED)]
    assert len(watched) >= 20, collections.Counter((o.result.status, o.result.error) for o in outcomes)
    assert not [o for o in outcomes if o.result.status is CallStatus.FAILED]  # never FAILED for a lost link
    assert all(o.next_attempt_at is not None for o in unseen if o.result.status is CallStatus.UNKNOWN)
    _every_attempt_closed(pg_url)
    per_number = assert_no_double_dials(tap, pg_url, max_attempts=MAX_ATTEMPTS)
    # Each number's Originate reached the PBX's door at most once. One written into the socket as
    # the PBX reset it never arrived: its outcome is unknown to the dialer (no CDR here), so it is
    # UNKNOWN and rescheduled the long way (never silently re-sent).
    arrived = {x["ChannelId"] for x in tap.originates()}
    assert all(o.result.status is CallStatus.UNKNOWN for o in outcomes if o.result.attempt_id not in arrived)
    assert set(per_number.values()) == {1} and 40 >= sum(per_number.values()) >= lab.originates


def test_pbx_refusing_originates_gets_a_trickle_not_a_storm(tmp_path, pg_url):
    """While the PBX answers every Originate with `Response: Error`, the dialer backs off (one
    originate per doubling pause) instead of burning through the list at 50 originates/s."""
    from autodialer.pacing.limits import RefusalBackoff

    phones = numbers(30, digits="1")
    with running_lab(time_scale=0.02) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, max_concurrent_calls=5), pg_url)
        backoff = RefusalBackoff(initial=0.05, maximum=0.4)  # time-scaled (default 0.25 .. 4 s)
        refusing = 1.2  # seconds
        lab.faults.fail_originates()  # every originate refused, until clear()

        async def recover_later(engine):
            # Refuse for `refusing` seconds counted from the first refusal, and for at least the
            # first burst plus one paced refusal: a loaded machine may take a while to send the first.
            loop = asyncio.get_running_loop()
            while not backoff.refusals:
                await asyncio.sleep(0.005)
            first = loop.time()
            while loop.time() - first < refusing or backoff.refusals < 6:
                await asyncio.sleep(0.005)
            lab.faults.clear()

        async def main():
            async with session_for(tap.url_for(lab.url)) as ami:
                return await dial_due(campaign, store, cid, ami, during=recover_later, backoff=backoff)

        outcomes = run(main())
        store.close()
    refused = [o for o in outcomes if o.result.failure is FailureKind.REFUSED]
    print(f"refusing {refusing} s: {len(refused)} refused originates (no backoff: 30 within ~0.6 s)")
    # Without the backoff all 30 would be refused within ~0.6 s (50/s). With it: the first burst
    # (the 5 call slots), then one originate per pause (0.05 .. 0.4 s, doubling) while refusing.
    assert 5 <= len(refused) <= 5 + int(refusing / 0.05), len(refused)
    assert backoff.refusals == len(refused) and backoff.level == 0  # and it ended once the PBX accepted
    sent = tap.action_times("Originate")
    refusal_times = sorted(sent)[: len(refused)]
    # The refused originates are spread out, never faster than the first burst plus one per pause.
    assert refusal_times[-1] - refusal_times[0] >= sum(min(0.4, 0.05 * 2 ** (k + 4)) for k in range(len(refused) - 6))
    for o in refused:  # nothing rang: given back, due again soon, not counted
        assert o.result.status is CallStatus.NOT_SENT and o.next_attempt_at is not None, o
    answered = [o for o in outcomes if o.result.status is CallStatus.ANSWERED]
    assert len(answered) == 30 - len(refused)  # after the PBX recovered, the rest went through
    _every_attempt_closed(pg_url)
    assert_no_double_dials(tap, pg_url, max_attempts=MAX_ATTEMPTS)
    # By phone number: a refused Originate counts against nobody's limits.
    by_phone = {c["phone"]: c for c in contacts_table(pg_url)}
    for o in refused:
        assert by_phone[o.phone]["attempts"] == 0 and by_phone[o.phone]["state"] == "pending", by_phone[o.phone]
        assert by_phone[o.phone]["last_status"] is None  # nothing happened to the callee
    assert {r["failure"] for r in attempts_table(pg_url) if r["status"] == "NOT_SENT"} == {"refused"}


def test_originates_that_never_left_count_against_nobody(tmp_path, pg_url):
    """The AMI link is down (the lab is gone) when the contacts' turn comes: each waits for the
    link (LINK_WAIT_SECONDS, the production 30 s), is not sent, and is given back: the attempt row
    says NOT_SENT / not_sent, the contact's attempt counter is back to what it was, and the next
    claim may use every attempt the policy allows."""
    from autodialer.dialer.dialing import LINK_WAIT_SECONDS
    from autodialer.pacing.limits import RefusalBackoff

    phones = numbers(4, digits="1")
    with running_lab(time_scale=0.02) as lab:
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, max_concurrent_calls=4), pg_url)
        backoff = RefusalBackoff()

        async def main():
            async with session_for(lab.url, reconnect_initial=0.5, reconnect_max=30.0) as ami:
                ami.reconnect = False  # the link stays down: the lab refuses nothing, it is just gone
                ami.drop()
                await asyncio.sleep(0.05)
                assert not ami.connected
                return await dial_due(campaign, store, cid, ami, backoff=backoff)

        started = datetime.now(timezone.utc)
        outcomes = run(main(), timeout=LINK_WAIT_SECONDS + 15)
        store.close()
    assert len(outcomes) == 4 and lab.originates == 0
    for o in outcomes:
        assert o.result.status is CallStatus.NOT_SENT and o.result.failure is FailureKind.NOT_SENT, o
        assert o.next_attempt_at is not None and o.decision.retry and "not counted" in o.decision.reason
        assert (o.result.ended_at - started).total_seconds() >= LINK_WAIT_SECONDS * 0.95  # it waited for the link
    assert backoff.refusals == 4  # and the backoff slows the next ones
    assert [(c["attempts"], c["state"], c["last_status"]) for c in contacts_table(pg_url)] == [(0, "pending", None)] * 4
    assert {(r["status"], r["failure"]) for r in attempts_table(pg_url)} == {("NOT_SENT", "not_sent")}



def test_stalled_pbx_calls_are_resolved_not_failed_and_nothing_hangs(tmp_path, pg_url):
    """The PBX stops answering (no responses, no events) with calls in flight. The session's ping
    finds the link dead (ping scaled: 0.2 s, production 20 s) and reconnects; the calls that ended
    unseen meanwhile are UNKNOWN (no CDR here; retried after a day), or ANSWERED if their answer
    was seen, never FAILED; the rest of the list waits for the link and goes through. One
    Originate after the stall is accepted but never reported on (a call stalled inside the PBX):
    the engine's own timer (ring timeout 15 s + grace, real seconds) ends it FAILED no_report."""
    phones = numbers(30, digits="31")
    with running_lab(time_scale=0.05) as lab, AmiTap(lab.host, lab.port) as tap:
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones, max_concurrent_calls=10), pg_url)
        stall = 2.0

        async def stall_when_busy(engine):
            while engine.in_flight < 8:
                await asyncio.sleep(0.01)
            lab.faults.stall(stall)
            # The first Originate the PBX handles after the stall (the ones held during it die with the link).
            lab.faults.fail_originates(1, mode="silent")

        async def main():
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with session_for(tap.url_for(lab.url), ping_interval=0.2, ping_timeout=0.4, connect_timeout=0.5) as ami:
                outcomes = await dial_due(campaign, store, cid, ami, during=stall_when_busy, result_grace=0.5)
                return outcomes, ami.disconnects, loop.time() - started

        outcomes, disconnects, elapsed = run(main())
        store.close()
    assert disconnects >= 1 and 15 <= elapsed < 25  # the silent call waited out its timer; nothing hung
    how = collections.Counter((o.result.status.value, o.result.failure and o.result.failure.value) for o in outcomes)
    print("stall outcomes:", how)
    assert len(outcomes) == 30 and not any(o.skipped for o in outcomes)
    failed = [o for o in outcomes if o.result.status is CallStatus.FAILED]
    assert len(failed) == 1 and failed[0].result.failure is FailureKind.NO_REPORT, how
    assert "ring timeout 15s" in failed[0].result.error and failed[0].next_attempt_at is not None
    unseen = [o for o in outcomes if o.result.failure in (FailureKind.UNKNOWN, FailureKind.LINK_LOST)]
    assert 1 <= len(unseen) <= 10, how
    for o in unseen:
        assert o.result.status in (CallStatus.UNKNOWN, CallStatus.ANSWERED), o
        if o.result.status is CallStatus.UNKNOWN:  # maybe answered: not soon
            assert o.next_attempt_at - datetime.now(timezone.utc) >= timedelta(hours=23), o
        else:
            assert o.next_attempt_at is None  # answered: done
    classified = [o for o in outcomes if o.result.failure is None]
    assert {o.result.status for o in classified} <= {CallStatus.NO_ANSWER, CallStatus.ANSWERED}
    assert len(classified) + len(unseen) + len(failed) == 30
    _every_attempt_closed(pg_url)
    assert_no_double_dials(tap, pg_url, max_attempts=MAX_ATTEMPTS)


def test_ami_secret_never_in_logs_errors_results_or_store(tmp_path, pg_url, caplog):
    """Through a refused login, a dropped link mid-campaign and a refused originate, with every
    logger at DEBUG: the AMI secret shows up in no log line, exception, repr, result or row."""
    import logging

    from autodialer.telephony.ami import AmiAuthError

    secret = "S3cr3t-Never-Logged-42"
    caplog.set_level(logging.DEBUG)
    phones = numbers(10, digits="31")
    with running_lab(time_scale=0.05, secret=secret) as lab, AmiTap(lab.host, lab.port) as tap:
        url = tap.url_for(lab.url)
        assert secret in url
        campaign, store, cid = load_into_store(write_campaign(tmp_path, phones), pg_url)
        lab.faults.refuse_logins(1)
        texts = []

        async def drop_and_refuse(engine):
            while engine.in_flight < 3:
                await asyncio.sleep(0.01)
            lab.faults.fail_originates(2)
            lab.faults.drop_connections()

        async def main():
            ami = session_for(url)
            try:
                await ami.connect()
            except AmiAuthError as exc:
                texts.extend([str(exc), repr(exc), repr(ami)])
            async with session_for(url) as ami:
                texts.append(repr(ami))
                return await dial_due(campaign, store, cid, ami, during=drop_and_refuse)

        outcomes = run(main())
        texts.append(repr(store))
        store.close()
    assert any("refused" in t for t in texts)
    texts += [repr(o) for o in outcomes] + [repr(r) for r in attempts_table(pg_url)] + [caplog.text]
    assert "lost" in caplog.text  # the drop was logged...
    assert not [t for t in texts if secret in t]  # ...without the secret


def test_refusal_backoff_spaces_originates_and_ignores_late_results_of_older_calls():
    from autodialer.pacing.limits import RefusalBackoff

    async def main():
        backoff = RefusalBackoff(initial=0.02, maximum=0.08)
        loop = asyncio.get_running_loop()
        old = await backoff.wait()  # a call placed before the PBX started refusing
        refused = await backoff.wait()
        backoff.refused(refused)
        assert backoff.pause() == 0.02
        backoff.accepted(old)  # the older call ends fine: says nothing about the PBX now
        assert backoff.level == 1
        start = loop.time()
        tickets = [await backoff.wait() for _ in range(3)]  # one per pause while backing off
        spaced = loop.time() - start
        for t in tickets:
            backoff.refused(t)
        assert backoff.level == 4 and backoff.pause() == 0.08  # doubled, capped
        backoff.accepted(await backoff.wait())  # sent after the last refusal, accepted: over
        return spaced, backoff.level

    spaced, level = run(main())
    assert spaced >= 0.02 * 3 * 0.9 and level == 0


def test_a_call_pacing_stops_while_it_rings_is_retried_without_using_up_no_answers(tmp_path, db_url, lab_pbx):
    """Through the dialing core and the store: the engine ends a ringing call (as predictive
    pacing does); the attempt is NO_ANSWER saying it was stopped, and the contact is due again at
    NO_ANSWER's interval although its earlier no-answers used up that outcome's limit."""
    phone = numbers(1, digits="3")[0]  # rings for 40 s, never answers
    campaign, store, cid = load_into_store(write_campaign(tmp_path, [phone], ring_timeout="30s"), db_url)
    contact = store.due_contacts(cid, now=datetime.now(timezone.utc))[0]
    limit = campaign.retry.outcomes[CallStatus.NO_ANSWER].max_attempts
    for i in range(limit - 1):  # earlier runs: all but one of the no-answers it may have
        assert store.claim_attempt(contact.id, attempt_id=f"old-{i}", number=phone, now=datetime.now(timezone.utc),
                                   max_attempts=10)
        store.finish_attempt(CallResult(attempt_id=f"old-{i}", number=phone, status=CallStatus.NO_ANSWER),
                             contact_state="pending", next_attempt_at=datetime.now(timezone.utc), contact_result=None)

    async def stop_it(engine):
        while not engine._calls or engine.ringing_for(next(iter(engine._calls))) is None:
            await asyncio.sleep(0.01)
        assert engine.stop_ringing(next(iter(engine._calls)), "no operator free")

    async def main():
        async with session_for(lab_pbx.url) as ami:
            return await dial_due(campaign, store, cid, ami, during=stop_it)

    [outcome] = asyncio.run(main())
    store.close()
    assert outcome.result.status is CallStatus.NO_ANSWER and outcome.result.stopped
    assert outcome.decision.retry and "not counted" in outcome.decision.reason
    last = attempts_table(db_url)[-1]
    assert last["status"] == "NO_ANSWER" and last["failure"] == "stopped_ringing" and outcome.result.failure == "stopped_ringing"
    assert last["state"] == "pending" and last["next_attempt_at"] is not None
