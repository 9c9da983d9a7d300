"""Calls in flight across an AMI outage, with the production session and engine settings
(AmiSession and DialEngine defaults: reconnect 0.5 s doubling to 30 s, ping 20 s, timeouts 10 s,
outage patience 15 min). The link is cut by a TCP tap in front of the lab PBX (tests/amitap.py);
the PBX and its calls are untouched, as Asterisk keeps calls up when a manager session dies
(../shared/asterisk-22/ami_resync_during_call.txt)."""

from __future__ import annotations

import asyncio
import csv
import time
from datetime import datetime, timezone
from pathlib import Path

from autodialer.config import parse_ami_url
from autodialer.lab import running_lab
from autodialer.telephony.outcomes import CallStatus, FailureKind
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.cdr import outcome_from_rows
from autodialer.telephony.engine import DialEngine
from tests.amitap import AmiTap

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk-22"
UTC = timezone.utc

# The transcript's Originate: an answered call into ConfBridge; the callee stays 21 s (lab-scaled).
CONFERENCE = dict(context="dialer-conference-join", exten="s",
                  variables={"CONF_ROLE": "moderator", "CONF_ROOM": "rs1", "SIM_PRESS": "5"})


def run(coro, timeout=90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _cdr_csv() -> list[dict]:
    path = FIXTURES / "cdr_resync_during_call.csv"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    cols = ("accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,billsec,"
            "disposition,amaflags,uniqueid,userfield").split(",")
    out = []
    for values in csv.reader(lines):
        row = dict(zip(cols, values))
        row["calldate"] = datetime.fromisoformat(row["start"]).replace(tzinfo=UTC)
        row["duration"], row["billsec"] = int(row["duration"]), int(row["billsec"])
        out.append(row)
    return out


def test_cdr_rows_asterisk_wrote_give_the_answer_and_the_talk_time():
    """The recorded cdr_csv lines of the transcript's call: uniqueid = the attempt id (;1) and
    `<id>-b` (;2); the ;1 row of a ConfBridge call says billsec 0, the ;2 row the real 21 s."""
    rows = _cdr_csv()
    outcome = outcome_from_rows("att-resync-1", rows)
    assert outcome.status is CallStatus.ANSWERED and outcome.talk_seconds == 21.0
    assert outcome.answered_at == datetime(2026, 12, 1, 19, 17, 46, tzinfo=UTC)
    assert outcome.ended_at == datetime(2026, 12, 1, 19, 18, 7, tzinfo=UTC)
    assert outcome_from_rows("att-other", rows) is None
    not_answered = [dict(r, disposition="NO ANSWER", billsec=0) for r in rows]
    assert outcome_from_rows("att-resync-1", not_answered).status is CallStatus.NO_ANSWER


def test_the_lab_keeps_a_call_up_across_a_dropped_session_and_lists_it_to_the_next_one():
    """As the transcript: session A originates and drops; the call stays up; session B's
    CoreShowChannels and Status list both legs with ChannelState 6 (Up), Getvar reads the
    attempt id, and the rest of the call's events reach B."""
    with running_lab(time_scale=0.2) as lab:
        async def main():
            settings = parse_ami_url(lab.url)
            a = await AmiSession(settings, reconnect=False, ping_interval=0).connect()
            answered = asyncio.get_running_loop().create_future()
            a.subscribe("DTMFEnd", lambda e: answered.done() or answered.set_result(e))
            engine = DialEngine(a)
            call = asyncio.ensure_future(engine.originate("79061234501", attempt_id="att-resync-1", ring_timeout=30,
                                                          **CONFERENCE))
            await asyncio.wait_for(answered, 10)
            a.drop()
            await asyncio.sleep(0.3)
            assert lab.active_calls() == 1  # Asterisk does not hang up a call because a manager left
            async with AmiSession(settings, ping_interval=0) as b:
                hangups = []
                b.subscribe("Hangup", hangups.append)
                listing = await b.send_action({"Action": "CoreShowChannels"}, as_list=True)
                status = await b.send_action({"Action": "Status"}, as_list=True)
                leg1 = next(e for e in listing if e.get("Uniqueid") == "att-resync-1")
                getvar = await b.send_action({"Action": "Getvar", "Channel": leg1["Channel"], "Variable": "ATTEMPT_ID"})
                while lab.active_calls():
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.1)
            call.cancel()
            return listing, status, getvar, hangups

        listing, status, getvar, hangups = run(main())
    shown = {e["Uniqueid"]: e for e in listing if e.get("Event") == "CoreShowChannel"}
    assert set(shown) == {"att-resync-1", "att-resync-1-b"}
    assert {e["ChannelState"] for e in shown.values()} == {"6"} and {e["Linkedid"] for e in shown.values()} == {"att-resync-1"}
    assert shown["att-resync-1"]["Application"] == "ConfBridge" and shown["att-resync-1"]["Duration"].count(":") == 2
    assert listing[-1]["Event"] == "CoreShowChannelsComplete" and listing[-1]["ListItems"] == "2"
    statuses = {e["Uniqueid"]: e for e in status if e.get("Event") == "Status"}
    assert set(statuses) == set(shown) and {e["ChannelState"] for e in statuses.values()} == {"6"}
    assert status[-1]["Event"] == "StatusComplete" and status[-1]["Items"] == "2"
    assert getvar["Value"] == "att-resync-1"
    assert {h["Uniqueid"] for h in hangups} >= {"att-resync-1", "att-resync-1-b"}  # the end reached session B


def _engine_through(tap, lab, **kw):
    session = AmiSession(parse_ami_url(tap.url_for(lab.url)))  # production settings
    return session, DialEngine(session, **kw)


def test_an_answered_call_stays_open_through_a_link_cut_and_is_followed_to_its_end():
    """Cut 4 s after the answer (the session reconnects on its production backoff, ~7.5 s):
    the result is ANSWERED with the call's real talk time, not FAILED "connection lost"."""
    with running_lab(time_scale=1.0) as lab, AmiTap(lab.host, lab.port) as tap:
        async def main():
            session, engine = _engine_through(tap, lab)
            async with session:
                call = asyncio.ensure_future(engine.originate("79061234501", attempt_id="cut-answered", **CONFERENCE))
                while engine.in_flight == 0 or engine._calls["cut-answered"].answered_at is None:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(2.0)
                tap.cut(4.0)
                result = await call
                return result, session.disconnects, session.connects

        result, disconnects, connects = run(main())
    assert (disconnects, connects) == (1, 2)
    assert result.status is CallStatus.ANSWERED and result.failure is None and result.error is None, result
    assert 19 <= result.talk_seconds <= 23, result.talk_seconds  # the callee's 21 s


def test_a_call_answered_during_the_cut_is_answered_with_its_time_bounded_by_the_cut():
    """Cut right after the Originate is queued, before the answer (the callee rings 3 s): after
    the reconnect the listing shows leg ;1 Up, so it is answered, and followed to its end."""
    # The lab's random mode: every callee rings 3 s, answers, talks 20 s.
    callee = dict(mode="random", answer_rate=1.0, busy_rate=0.0, no_answer_rate=0.0, congestion_rate=0.0,
                  ring_min=3.0, ring_max=3.0, talk_min=20.0, talk_max=20.0)
    with running_lab(time_scale=1.0, **callee) as lab, AmiTap(lab.host, lab.port) as tap:
        async def main():
            session, engine = _engine_through(tap, lab)
            async with session:
                call = asyncio.ensure_future(engine.originate("79061234567", attempt_id="cut-q", **CONFERENCE))
                while engine.in_flight == 0 or not engine._calls["cut-q"].accepted:
                    await asyncio.sleep(0.01)
                cut_at = time.time()
                tap.cut(5.0)
                result = await call
                return result, cut_at

        result, cut_at = run(main())
    assert result.status is CallStatus.ANSWERED and result.failure is None and result.error is None, result
    assert cut_at <= result.answered_at.timestamp() <= cut_at + 5.5  # answered at 3 s, inside the cut
    # The answer fell inside the cut, so its time is known to the cut: talk 20 s, counted from no
    # earlier than the cut began.
    assert 20 <= result.talk_seconds <= 20 + 5.5, result.talk_seconds


def test_a_call_that_ends_during_the_cut_is_unknown_without_a_cdr_never_failed():
    """A no-answer (rings 8 s) whose whole life falls inside a 12 s cut (the session is back at
    ~15.5 s): nobody can say whether it was answered, so it is UNKNOWN (retried after a day by
    default), never FAILED."""
    with running_lab(time_scale=1.0) as lab, AmiTap(lab.host, lab.port) as tap:
        async def main():
            session, engine = _engine_through(tap, lab)
            async with session:
                call = asyncio.ensure_future(engine.originate("79061234563", context="from-dialer", ring_timeout=8,
                                                              attempt_id="cut-ring"))
                while engine.in_flight == 0 or not engine._calls["cut-ring"].accepted:
                    await asyncio.sleep(0.01)
                tap.cut(12.0)
                return await call

        result = run(main())
    assert result.status is CallStatus.UNKNOWN and result.failure is FailureKind.UNKNOWN, result


# -- the recorded transcript, replayed to the engine over two TCP sessions ------------------------
def _load_sessions(path: Path) -> dict[str, list[tuple[float, list[tuple[str, str]]]]]:
    """{session: [(offset, headers), ...]} of what Asterisk sent, from the `--- <session> +N.NNs` format."""
    out: dict[str, list] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("--- "):
            name, offset = line[4:].split()
            current = []
            out.setdefault(name, []).append((float(offset.lstrip("+").rstrip("s")), current))
        elif line.startswith((">> ", "#")) or not line:
            current = None
        elif current is not None:
            key, _, value = line.partition(": ")
            current.append((key.rstrip(":"), value))
    return out


class _Replay:
    """Session A: the login, the Originate's response and events, then the link dies. Session B:
    the login, the recorded answers to CoreShowChannels/Status/Getvar (by action), then the rest of
    the call. Recorded ActionIDs become the ones the engine sent; offsets are scaled."""

    def __init__(self, sessions, scale: float):
        self.a, self.b = sessions["A"], sessions["B"]
        self.scale = scale
        self.connections = 0
        self.actions: list[str] = []

    @staticmethod
    def _encode(headers, action_id=None) -> bytes:
        lines = [f"{k}: {action_id if (k == 'ActionID' and action_id) else v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def serve(self, reader, writer):
        self.connections += 1
        mine = self.a if self.connections == 1 else self.b
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        by_recorded_id: dict[str, list] = {}
        for offset, headers in mine:
            by_recorded_id.setdefault(dict(headers).get("ActionID"), []).append((offset, headers))
        events = [(o, h) for o, h in mine if "ActionID" not in dict(h) or dict(h).get("Event") == "OriginateResponse"]
        recorded = {"login": "login1" if mine is self.a else "login2", "originate": "o1", "coreshowchannels": "csc1",
                    "status": "st1", "getvar": "gv1"}
        base = None
        buffer = b""
        while True:
            data = await reader.read(65536)
            if not data:
                return
            buffer += data
            while b"\r\n\r\n" in buffer:
                block, buffer = buffer.split(b"\r\n\r\n", 1)
                action = dict(line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line)
                name = action.get("Action", "").lower()
                self.actions.append(f"{self.connections}:{name}")
                for offset, headers in by_recorded_id.get(recorded.get(name), []):
                    if dict(headers).get("Event") == "OriginateResponse":
                        continue
                    writer.write(self._encode(headers, action.get("ActionID")))
                if name == "ping":
                    writer.write(self._encode([("Response", "Success"), ("ActionID", action.get("ActionID", "")),
                                               ("Ping", "Pong"), ("Timestamp", "0")]))
                if name == "originate" and mine is self.a:
                    asyncio.ensure_future(self._events(writer, events, 0.0, action.get("ActionID"), drop=True))
                if name == "coreshowchannels" and mine is self.b and base is None:
                    base = next(o for o, h in mine if dict(h).get("ActionID") == "csc1")
                    later = [(o, h) for o, h in events if o > base]
                    asyncio.ensure_future(self._events(writer, later, base, None, drop=False))

    async def _events(self, writer, events, base, originate_id, *, drop):
        loop = asyncio.get_running_loop()
        start = loop.time()
        for offset, headers in events:
            await asyncio.sleep(max(0.0, start + (offset - base) * self.scale - loop.time()))
            writer.write(self._encode(headers, originate_id if dict(headers).get("Event") == "OriginateResponse" else None))
        if drop:
            await asyncio.sleep(0.05)
            writer.transport.abort()  # session A's link dies; the call stays up at the PBX


def test_the_recorded_resync_transcript_ends_answered_with_its_talk_time():
    """../shared/asterisk-22/ami_resync_during_call.txt replayed to the engine (production
    session settings) over two TCP connections: the link drops 1.2 s into an answered call, the
    session reconnects, the engine's CoreShowChannels is answered with both legs Up, and the
    rest of the call arrives on session B: ANSWERED, its DialerResult kept, nothing FAILED."""
    from autodialer.config import AmiSettings

    scale = 0.25
    replay = _Replay(_load_sessions(FIXTURES / "ami_resync_during_call.txt"), scale)

    async def main():
        server = await asyncio.start_server(replay.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, AmiSession(AmiSettings("127.0.0.1", port, "dialer", "dialer-secret")) as ami:
            engine = DialEngine(ami)
            started = time.monotonic()
            result = await engine.originate("79061234501", attempt_id="att-resync-1", ring_timeout=30, **CONFERENCE)
            return result, time.monotonic() - started, ami.disconnects

    result, took, disconnects = run(main())
    assert disconnects == 1 and replay.connections == 2
    assert "2:coreshowchannels" in replay.actions and "2:originate" not in replay.actions  # resynced, never re-sent
    assert result.status is CallStatus.ANSWERED and result.failure is None and result.error is None, result
    assert (result.reason, result.cause) == (4, 16)
    assert [e.get("Result") for e in result.events if e.get("UserEvent") == "DialerResult"] == ["joined"]
    # From the answer to ;1's Hangup as replayed: A's 1.23 s, the reconnect, B's 14.23 s (scaled).
    assert (1.23 + 21.49 - 7.26) * scale <= result.talk_seconds <= took


def test_calls_that_end_during_the_cut_are_resolved_from_the_cdr(pg_url):
    """With the CDR database (the lab writes cdr_pgsql rows as each call ends; uniqueid = the
    attempt id): a no-answer and a short answered call whose ends fall inside a 12 s cut are
    resolved as the CDR says, NO_ANSWER and ANSWERED with its billsec, not UNKNOWN."""
    import sqlalchemy as sa

    from autodialer.telephony.cdr import CdrReader

    with running_lab(time_scale=1.0, cdr_url=pg_url) as lab, AmiTap(lab.host, lab.port) as tap:
        async def main():
            cdr = CdrReader(sa.create_engine(pg_url))
            session, engine = _engine_through(tap, lab, cdr=cdr)
            async with session:
                ringing = asyncio.ensure_future(engine.originate("79061234563", context="from-dialer", ring_timeout=8,
                                                                 attempt_id="cdr-ring"))
                answered = asyncio.ensure_future(engine.originate("79061234561", context="from-dialer", attempt_id="cdr-ans"))
                while engine.in_flight < 2 or not all(c.accepted for c in engine._calls.values()):
                    await asyncio.sleep(0.01)
                tap.cut(12.0)
                return await ringing, await answered, lab.cdr.rows_written

        ringing, answered, rows = run(main())
    assert rows >= 4
    assert ringing.status is CallStatus.NO_ANSWER and ringing.failure is None, ringing
    assert "the CDR says NO ANSWER" in ringing.error
    assert answered.status is CallStatus.ANSWERED and answered.failure is None and answered.talk_seconds >= 1, answered
