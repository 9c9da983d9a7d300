"""The dial engine against the AMI streams a real Asterisk 22.10.1 sent (tests/fixtures/asterisk-22).

A tiny TCP server replays the recorded bytes of each transcript to the real engine over a real
socket. The only rewriting is what Asterisk itself would have done with the engine's Originate:
the recorded ActionID becomes the one the engine sent, and the recorded Uniqueids become the
ChannelId/OtherChannelId the engine set (as `ami_chanid.txt` shows Asterisk does); other legs get
ids derived from them so concurrent replays stay distinct.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autodialer.config import AmiSettings
from autodialer.errors import UnsafeValueError
from autodialer.telephony.outcomes import CallStatus, FailureKind
from autodialer.telephony.ami import AmiAuthError, AmiConnectionError, AmiSession
from autodialer.telephony.engine import DialEngine

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk-22"
TIME_SCALE = 0.01
EOL = "\r\n"


# -- transcripts -------------------------------------------------------------------------------
@dataclass
class Recorded:
    offset: float
    headers: list[tuple[str, str]]

    def get(self, key: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == key.lower():
                return v
        return None


@dataclass
class Transcript:
    name: str
    originate: dict[str, str]
    messages: list[Recorded] = field(default_factory=list)  # everything after the Originate


def load_transcript(path: Path) -> Transcript:
    originate: dict[str, str] = {}
    messages: list[Recorded] = []
    in_originate = False
    current: Recorded | None = None
    for line in path.read_text().splitlines():
        if line.startswith(">> "):
            key, _, value = line[3:].partition(": ")
            if key == "Action":
                in_originate = value == "Originate"
            if in_originate:
                originate[key] = value
            current = None
        elif line.startswith("<< "):
            current = None
        elif line.startswith("--- +"):
            current = Recorded(float(line[5:].strip().rstrip("s")), [])
            messages.append(current)
        elif current is not None and ": " in line:
            key, _, value = line.partition(": ")
            current.headers.append((key, value))
        elif current is not None and line.endswith(":"):
            current.headers.append((line[:-1], ""))
    return Transcript(path.stem, originate, messages)


# ami_resync_during_call.txt spans two sessions (`--- A`/`--- B`): tests/test_engine_resync.py replays it.
ORIGINATE_TRANSCRIPTS = sorted(p for p in FIXTURES.glob("ami_*.txt")
                               if "Action: Originate" in p.read_text() and p.stem != "ami_resync_during_call")


def test_every_originate_transcript_is_replayed():
    names = {p.stem for p in ORIGINATE_TRANSCRIPTS}
    assert names == {
        "ami_full_79061234561", "ami_full_79061234562", "ami_full_79061234563", "ami_full_79061234564",
        "ami_full_79061234565", "ami_chanid", "ami_6", "ami_dialout_79061234562", "ami_dialout_79061234565",
        "ami_queue_call",
    }
    assert set(EXPECTED) == names


def _id_map(t: Transcript, channel_id: str, other_id: str) -> dict[str, str]:
    """Recorded Uniqueid -> the id Asterisk would have used given our ChannelId/OtherChannelId."""
    mapping: dict[str, str] = {}
    first = None
    for m in t.messages:
        if m.get("Event") != "Newchannel":
            continue
        uid, channel = m.get("Uniqueid"), m.get("Channel") or ""
        if first is None:
            first = uid
            mapping[uid] = channel_id
        elif m.get("Linkedid") == first and channel.endswith(";2") and other_id not in mapping.values():
            mapping[uid] = other_id
        else:
            mapping[uid] = f"{channel_id}-n{len(mapping)}"
    return mapping


def causal_shuffle(messages: list[Recorded], rng: random.Random) -> list[Recorded]:
    """Another order Asterisk could have sent: events of one channel keep their order (Dial* go
    with their destination), a Hangup stays after every Newchannel recorded before it; events of
    different channels and the OriginateResponse interleave at random."""
    n = len(messages)
    names = {m.get("Channel"): m.get("Uniqueid") for m in messages if m.get("Event") == "Newchannel"}

    def stream(m: Recorded) -> str:
        if m.get("Event") == "OriginateResponse":
            return "originate-response"
        return m.get("Uniqueid") or m.get("DestUniqueid") or names.get(m.get("DestChannel")) or names.get(m.get("Channel")) or "misc"

    before: list[set[int]] = [set() for _ in range(n)]
    last: dict[str, int] = {}
    newchannels: list[int] = []
    for i, m in enumerate(messages):
        s = stream(m)
        if s in last:
            before[i].add(last[s])
        last[s] = i
        if m.get("Event") == "Hangup":
            before[i].update(newchannels)
        if m.get("Event") == "Newchannel":
            newchannels.append(i)
    done: set[int] = set()
    order: list[Recorded] = []
    while len(order) < n:
        ready = [i for i in range(n) if i not in done and before[i] <= done]
        i = rng.choice(ready)
        done.add(i)
        order.append(messages[i])
    return order


# -- the replay server -------------------------------------------------------------------------
class ReplayServer:
    """An AMI peer that answers Login/Ping/Logoff and replays a recorded stream per Originate."""

    def __init__(self, *, transcript: Transcript | None = None, shuffle_seed: int | None = None,
                 silent: bool = False, drop_after_originate: bool = False, secret: str = "dialer-secret",
                 response_at: str | None = None, drop_mid_call_after: int | None = None):
        self.transcript = transcript
        # Send this many messages of the call, drop the link, send the rest after the client's
        # CoreShowChannels on its next connection (which lists the call's channel).
        self.drop_mid_call_after = drop_mid_call_after
        self.held: tuple[str, list[list[tuple[str, str]]]] | None = None
        self.response_at = response_at  # "first"/"last": move the OriginateResponse to that end
        self.shuffle_seed = shuffle_seed
        self.silent = silent  # accept Originates, never report on them
        self.drop_after_originate = drop_after_originate
        self.secret = secret
        self.originates: list[dict[str, str]] = []
        self.actions: list[dict[str, str]] = []
        self.drop_events: set[str] = set()  # event names never sent
        self.logins = 0
        self.server: asyncio.AbstractServer | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    def settings(self, secret: str | None = None) -> AmiSettings:
        return AmiSettings("127.0.0.1", self.port, "dialer", secret or self.secret)

    async def __aenter__(self) -> "ReplayServer":
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self.tasks:
            task.cancel()
        for w in self.writers:
            w.close()
        self.server.close()
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(line.split(": ", 1) for line in raw.decode().split(EOL) if ": " in line)
                self._handle(action, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass

    def _send(self, writer: asyncio.StreamWriter, headers: list[tuple[str, str]]) -> None:
        writer.write(("".join(f"{k}: {v}{EOL}" for k, v in headers) + EOL).encode())

    def _handle(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        name, action_id = action.get("Action"), action.get("ActionID", "")
        self.actions.append(action)
        if name == "Login":
            if action.get("Secret") == self.secret:
                self.logins += 1
                self._send(writer, [("Response", "Success"), ("ActionID", action_id), ("Message", "Authentication accepted")])
                # As Asterisk does after a login; panoramisk re-sends unanswered actions on it.
                self._send(writer, [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "10"), ("LastReload", "10"), ("Status", "Fully Booted")])
            else:
                self._send(writer, [("Response", "Error"), ("ActionID", action_id), ("Message", "Authentication failed")])
        elif name == "Ping":
            self._send(writer, [("Response", "Success"), ("ActionID", action_id), ("Ping", "Pong"), ("Timestamp", "1795821814.000000")])
        elif name == "Logoff":
            self._send(writer, [("Response", "Goodbye"), ("ActionID", action_id), ("Message", "Thanks for all the fish.")])
        elif name == "CoreShowChannels":
            self._send(writer, [("Response", "Success"), ("ActionID", action_id), ("EventList", "start"), ("Message", "Channels will follow")])
            listed = 0
            if self.held is not None:
                channel_id, rest = self.held
                self._send(writer, [("Event", "CoreShowChannel"), ("ActionID", action_id), ("Channel", "Local/x@y-00000001;1"),
                                    ("Uniqueid", channel_id), ("Linkedid", channel_id)])
                listed = 1
            self._send(writer, [("Event", "CoreShowChannelsComplete"), ("ActionID", action_id), ("EventList", "Complete"), ("ListItems", str(listed))])
            if self.held is not None:
                self.held = None
                for headers in rest:
                    self._send(writer, headers)
        elif name == "Originate":
            self.originates.append(action)
            if self.drop_after_originate:
                writer.transport.abort()
                return
            if self.silent:
                self._send(writer, [("Response", "Success"), ("ActionID", action_id), ("Message", "Originate successfully queued")])
                return
            task = asyncio.get_running_loop().create_task(self._replay(action, writer))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            self._send(writer, [("Response", "Error"), ("ActionID", action_id), ("Message", "Invalid/unknown command")])

    async def _replay(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        t = self.transcript
        ids = _id_map(t, action["ChannelId"], action["OtherChannelId"])
        ids[t.originate["ActionID"]] = action["ActionID"]
        messages = list(t.messages)
        head = [m for m in messages if m.get("Response") and not m.get("Event")][:1]
        rest = [m for m in messages if m not in head and m.get("Event") not in self.drop_events]
        if self.shuffle_seed is not None:
            rest = causal_shuffle(rest, random.Random(self.shuffle_seed))
        if self.response_at in ("first", "last"):
            response = [m for m in rest if m.get("Event") == "OriginateResponse"]
            others = [m for m in rest if m.get("Event") != "OriginateResponse"]
            rest = response + others if self.response_at == "first" else others + response
        loop = asyncio.get_running_loop()
        start = loop.time()
        if self.drop_mid_call_after is not None:
            stream = [[(k, ids.get(v, v)) for k, v in m.headers] for m in head + rest]
            for headers in stream[: self.drop_mid_call_after]:
                self._send(writer, headers)
            await asyncio.sleep(0.05)
            self.held = (action["ChannelId"], stream[self.drop_mid_call_after:])
            writer.transport.abort()
            return
        for m in head + rest:
            delay = start + m.offset * TIME_SCALE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(writer, [(k, ids.get(v, v)) for k, v in m.headers])


# -- what each recording must classify as --------------------------------------------------
DIALER_DONE = {"UserEvent": "DialerDone", "Exten": "s"}
EXPECTED = {
    "ami_full_79061234561": dict(status=CallStatus.ANSWERED, reason=4, cause=16, cause_txt="Normal Clearing", dial_status="ANSWER", events=[DIALER_DONE]),
    "ami_full_79061234562": dict(status=CallStatus.BUSY, reason=5, cause=17, cause_txt="User busy", dial_status="BUSY", events=[]),
    "ami_full_79061234563": dict(status=CallStatus.NO_ANSWER, reason=3, cause=19, cause_txt="User alerting, no answer", dial_status=None, events=[]),
    "ami_full_79061234564": dict(status=CallStatus.CONGESTION, reason=8, cause=34, cause_txt="Circuit/channel congestion", dial_status="CONGESTION", events=[]),
    "ami_full_79061234565": dict(status=CallStatus.INVALID_NUMBER, reason=0, cause=1, cause_txt="Unallocated (unassigned) number", dial_status="NOANSWER", events=[]),
    "ami_chanid": dict(status=CallStatus.BUSY, reason=5, cause=17, cause_txt="User busy", dial_status="BUSY", events=[]),
    "ami_6": dict(status=CallStatus.ANSWERED, reason=4, cause=16, cause_txt="Normal Clearing", dial_status=None,
                  events=[{"UserEvent": "SimDTMF", "Number": "79061234566", "Digit": "7", "ReadStatus": "OK"}]),
    "ami_dialout_79061234562": dict(status=CallStatus.BUSY, reason=4, cause=17, cause_txt="User busy", dial_status="BUSY",
                                    events=[{"UserEvent": "DialResult", "Number": "79061234562", "DialStatus": "BUSY"}]),
    "ami_dialout_79061234565": dict(status=CallStatus.INVALID_NUMBER, reason=4, cause=1, cause_txt="Unallocated (unassigned) number",
                                    dial_status="CHANUNAVAIL", events=[{"UserEvent": "DialResult", "Number": "79061234565", "DialStatus": "CHANUNAVAIL"}]),
    "ami_queue_call": dict(status=CallStatus.ANSWERED, reason=4, cause=16, cause_txt="Normal Clearing", dial_status="ANSWER", events=[]),
}


def _call_kwargs(t: Transcript) -> dict:
    """The engine call that matches the recorded Originate (the replay ignores Channel)."""
    o = t.originate
    number = re.match(r"Local/(\d+)@", o["Channel"])
    kwargs: dict = {"number": number.group(1) if number else "79061234567", "ring_timeout": 10.0, "caller_id": o.get("CallerID")}
    if "Application" in o:
        kwargs.update(application=o["Application"], data=o.get("Data"))
    else:
        kwargs.update(context=o["Context"], exten=o["Exten"], priority=int(o["Priority"]))
    if "Variable" in o:
        k, v = o["Variable"].split("=", 1)
        kwargs["variables"] = {k: v}
    return kwargs


def _check(result, expected: dict, *, attempt_id: str) -> None:
    got = {k: getattr(result, k) for k in expected}
    assert got == expected, result
    assert result.attempt_id == result.channel_id == attempt_id
    assert result.other_channel_id == f"{attempt_id}-b"
    assert result.error is None
    assert result.queued_at.tzinfo is not None and result.ended_at.tzinfo is not None
    assert result.ended_at >= result.queued_at
    if result.status is CallStatus.ANSWERED:
        assert result.answered_at is not None and result.talk_seconds is not None and result.talk_seconds >= 0
    else:
        assert result.answered_at is None and result.talk_seconds is None


async def _replay_one(path: Path, *, seed: int | None = None, attempt_id: str = "att-0001", response_at: str | None = None) -> None:
    t = load_transcript(path)
    async with ReplayServer(transcript=t, shuffle_seed=seed, response_at=response_at) as server:
        async with AmiSession(server.settings(), action_timeout=2.0, ping_interval=0) as ami:
            engine = DialEngine(ami, result_grace=1.0, settle=0.2)
            result = await asyncio.wait_for(engine.originate(attempt_id=attempt_id, **_call_kwargs(t)), 10)
            _check(result, EXPECTED[t.name], attempt_id=attempt_id)
            assert len(server.originates) == 1
            sent = server.originates[0]
            assert sent["Async"] == "true" and sent["ChannelId"] == attempt_id and sent["OtherChannelId"] == f"{attempt_id}-b"
            assert sent["Channel"] == f"Local/{_call_kwargs(t)['number']}@dialer-outbound"
            assert engine.in_flight == 0


@pytest.mark.parametrize("path", ORIGINATE_TRANSCRIPTS, ids=lambda p: p.stem)
def test_replay_classifies_exactly(path: Path):
    asyncio.run(_replay_one(path))


@pytest.mark.parametrize("path", ORIGINATE_TRANSCRIPTS, ids=lambda p: p.stem)
def test_shuffled_orders_classify_the_same(path: Path):
    async def main():
        for seed in range(12):
            await _replay_one(path, seed=seed, attempt_id=f"shuf-{seed}")
        # The extremes: OriginateResponse before the first Newchannel, and after the last Hangup.
        await _replay_one(path, seed=99, response_at="first", attempt_id="resp-first")
        await _replay_one(path, seed=98, response_at="last", attempt_id="resp-last")

    asyncio.run(main())


def test_causal_shuffle_really_reorders():
    t = load_transcript(FIXTURES / "ami_full_79061234562.txt")
    orders = {tuple(id(m) for m in causal_shuffle(t.messages[1:], random.Random(s))) for s in range(12)}
    assert len(orders) > 6
    # The OriginateResponse lands before the first Newchannel in some orders, after all Hangups in others.
    def position(order, event):
        return [m.get("Event") for m in order].index(event)
    shuffles = [causal_shuffle(t.messages[1:], random.Random(s)) for s in range(300)]
    assert any(position(o, "OriginateResponse") < position(o, "Newchannel") for o in shuffles)
    assert any(position(o, "OriginateResponse") == len(o) - 1 for o in shuffles)
    for o in shuffles:  # per-channel order holds: each leg's Newchannel before its Hangup
        events = [(m.get("Event"), m.get("Uniqueid")) for m in o]
        for uid in {m.get("Uniqueid") for m in o if m.get("Event") == "Hangup"}:
            assert events.index(("Newchannel", uid)) < events.index(("Hangup", uid))


def test_concurrent_replays_do_not_mix_calls():
    async def main():
        paths = ORIGINATE_TRANSCRIPTS
        servers = [ReplayServer(transcript=load_transcript(p)) for p in paths]
        for s in servers:
            await s.__aenter__()
        try:
            # One session per server: each recording is replayed 5 times at once on its link.
            sessions = [await AmiSession(s.settings(), ping_interval=0).connect() for s in servers]
            engines = [DialEngine(a, result_grace=1.0, settle=0.2) for a in sessions]
            jobs = []
            for path, server, engine in zip(paths, servers, engines):
                t = load_transcript(path)
                for i in range(5):
                    jobs.append((t.name, f"{t.name[4:]}-{i}".replace("_", "-"), engine.originate(attempt_id=f"{t.name[4:]}-{i}".replace("_", "-"), **_call_kwargs(t))))
            results = await asyncio.wait_for(asyncio.gather(*(j[2] for j in jobs)), 20)
            for (name, attempt, _), result in zip(jobs, results):
                _check(result, EXPECTED[name], attempt_id=attempt)
            for a in sessions:
                await a.close()
        finally:
            for s in servers:
                await s.__aexit__(None, None, None)

    asyncio.run(main())


def test_originate_never_reported_ends_failed_after_ring_timeout_plus_grace():
    async def main():
        async with ReplayServer(silent=True) as server:
            async with AmiSession(server.settings(), ping_interval=0) as ami:
                engine = DialEngine(ami, result_grace=0.2)
                loop = asyncio.get_running_loop()
                start = loop.time()
                result = await asyncio.wait_for(engine.originate("79061234561", context="from-dialer", ring_timeout=0.3), 5)
                elapsed = loop.time() - start
        assert result.status is CallStatus.FAILED
        assert "no OriginateResponse" in result.error
        assert 0.45 <= elapsed < 3
        assert result.reason is None and result.cause is None
        assert engine.in_flight == 0

    asyncio.run(main())


def test_answered_call_never_hung_up_is_hung_up_after_max_call_seconds_then_failed():
    async def main():
        t = load_transcript(FIXTURES / "ami_full_79061234561.txt")
        async with ReplayServer(transcript=t) as server:
            server.drop_events = {"Hangup"}
            async with AmiSession(server.settings(), ping_interval=0) as ami:
                engine = DialEngine(ami, result_grace=0.2)
                result = await asyncio.wait_for(
                    engine.originate("79061234561", context="from-dialer", max_call_seconds=0.3, attempt_id="long"), 5)
        assert result.status is CallStatus.FAILED
        assert "max_call_seconds" in result.error
        hangups = [a for a in server.actions if a["Action"] == "Hangup"]
        assert [h["Channel"] for h in hangups] == ["Local/79061234561@sim-pstn-0000000c;1"]
        assert engine.in_flight == 0

    asyncio.run(main())


def test_call_whose_channels_are_gone_after_a_drop_is_unknown_and_nothing_is_resent():
    async def main():
        t = load_transcript(FIXTURES / "ami_full_79061234561.txt")
        async with ReplayServer(transcript=t, drop_after_originate=True) as server:
            ami = AmiSession(server.settings(), ping_interval=0, reconnect_initial=0.05)
            await ami.connect()
            engine = DialEngine(ami, result_grace=2.0)
            loop = asyncio.get_running_loop()
            start = loop.time()
            result = await asyncio.wait_for(engine.originate("79061234561", context="from-dialer", ring_timeout=5), 5)
            # The replay server lists no channel after the reconnect: the call ended unseen, and
            # without a CDR nobody can say whether it was answered. Never FAILED (redialed soon).
            assert result.status is CallStatus.UNKNOWN and result.failure is FailureKind.UNKNOWN, result
            # Settled by the resync after the reconnect, not by a timer.
            assert loop.time() - start < 1.5
            await ami.wait_connected(timeout=3)  # the session came back by itself...
            await asyncio.sleep(0.3)
            assert server.logins == 2
            assert len(server.originates) == 1  # ...and did not re-send the Originate
            await ami.close()

    asyncio.run(main())


def test_call_whose_end_is_seen_after_a_reconnect_is_classified_normally():
    async def main():
        t = load_transcript(FIXTURES / "ami_full_79061234562.txt")
        # Response + both Newchannels, then the link drops; the rest (busy) arrives after the reconnect.
        async with ReplayServer(transcript=t, drop_mid_call_after=3) as server:
            ami = AmiSession(server.settings(), ping_interval=0, reconnect_initial=0.05)
            await ami.connect()
            engine = DialEngine(ami, result_grace=2.0)
            result = await asyncio.wait_for(engine.originate("79061234562", context="from-dialer", ring_timeout=5, attempt_id="survivor"), 5)
            assert (result.status, result.cause, result.error) == (CallStatus.BUSY, 17, None)
            assert len(server.originates) == 1 and server.logins == 2
            await ami.close()

    asyncio.run(main())


def test_bad_secret_is_a_clear_error_without_the_secret():
    async def main():
        async with ReplayServer() as server:
            with pytest.raises(AmiAuthError) as err:
                await AmiSession(server.settings(secret="s3cr3t-wrong"), ping_interval=0).connect()
        assert "Authentication failed" in str(err.value)
        assert "dialer@127.0.0.1" in str(err.value)
        assert "s3cr3t-wrong" not in str(err.value)

    asyncio.run(main())


def test_unreachable_pbx_is_a_connection_error_naming_host_port():
    async def main():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(AmiConnectionError) as err:
            await AmiSession(AmiSettings("127.0.0.1", port, "dialer", "hush-hush"), ping_interval=0, connect_timeout=2).connect()
        assert f"127.0.0.1:{port}" in str(err.value)
        assert "hush-hush" not in str(err.value)

    asyncio.run(main())


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(number="7906\r\nAction: Hangup"), "number"),
        (dict(number="Local/123@evil"), "number"),
        (dict(number="79061234561", context="from\r\ndialer"), "context"),
        (dict(number="79061234561", exten="s\nx"), "exten"),
        (dict(number="79061234561", caller_id='"Dialer" <1000>\r\nAction: Originate'), "caller_id"),
        (dict(number="79061234561", variables={"ORDER": "1\r\nChannel: SIP/evil"}), "variable ORDER"),
        (dict(number="79061234561", variables={"ORDER": "${SHELL(id)}"}), "variable ORDER"),
        (dict(number="79061234561", variables={"BAD NAME": "1"}), "variable name"),
        (dict(number="79061234561", account="acc\x00"), "account"),
        (dict(number="79061234561", attempt_id="a b"), "attempt_id"),
    ],
)
def test_unsafe_values_are_refused_before_anything_is_sent(kwargs, field):
    async def main():
        async with ReplayServer(silent=True) as server:
            async with AmiSession(server.settings(), ping_interval=0) as ami:
                engine = DialEngine(ami)
                call = {"context": "from-dialer", **kwargs}
                with pytest.raises(UnsafeValueError) as err:
                    await engine.originate(**call)
                await asyncio.sleep(0.05)
                assert server.originates == []
                assert engine.in_flight == 0
        assert str(err.value).startswith(field)

    asyncio.run(main())


def test_ping_detects_a_half_open_link_and_reconnects():
    async def main():
        async with ReplayServer() as server:
            ami = AmiSession(server.settings(), ping_interval=0.1, ping_timeout=0.2, reconnect_initial=0.05)
            await ami.connect()
            lost: list[str] = []
            ami.on_disconnect(lost.append)
            # Stall the peer: stop reading from our socket (the TCP link stays open, nothing answers).
            server.writers[0].transport.pause_reading()
            await asyncio.sleep(1.0)
            assert lost == ["connection lost"]
            await ami.wait_connected(timeout=3)
            assert server.logins == 2
            response = await ami.send_action({"Action": "Ping"})
            assert response.get("Ping") == "Pong"
            await ami.close()

    asyncio.run(main())


def test_the_secret_never_reaches_logs_or_reprs(caplog):
    import logging

    caplog.set_level(logging.DEBUG)

    async def main():
        t = load_transcript(FIXTURES / "ami_full_79061234562.txt")
        async with ReplayServer(transcript=t, secret="very-secret-xyz") as server:
            ami = AmiSession(server.settings(), ping_interval=0, reconnect_initial=0.05)
            await ami.connect()
            engine = DialEngine(ami, result_grace=0.5)
            result = await engine.originate("79061234562", context="from-dialer")
            ami._manager.log.info("a line with very-secret-xyz in it")  # what panoramisk might log
            ami.drop()
            await ami.wait_connected(timeout=3)
            with pytest.raises(AmiAuthError):
                await AmiSession(server.settings(secret="wrong-secret-abc"), ping_interval=0).connect()
            text = " ".join([repr(ami), repr(ami.settings), repr(result), str(result.to_dict())])
            await ami.close()
            return text

    text = asyncio.run(main())
    logged = caplog.text
    assert "AMI connection to" in logged  # the drop was logged...
    assert "a line with *** in it" in logged  # ...and the secret scrubbed
    for secret in ("very-secret-xyz", "wrong-secret-abc"):
        assert secret not in logged and secret not in text


def asterisk_variables(header_value: str) -> dict[str, str]:
    """What Asterisk makes of one `Variable:` header: manager.c man_do_variable_value, i.e.
    AST_STANDARD_APP_ARGS (__ast_app_separate_args with remove_chars) then NAME=value per item."""
    items, current, paren, bracket, quote = [], [], 0, 0, False
    i = 0
    while i < len(header_value):
        c = header_value[i]
        if c == "(":
            paren += 1
        elif c == ")":
            paren = max(0, paren - 1)
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = max(0, bracket - 1)
        elif c == '"':
            quote = not quote
            i += 1
            continue  # removed
        elif c == "\\":
            i += 1  # removed; the next character is literal
            if i < len(header_value):
                current.append(header_value[i])
            i += 1
            continue
        elif c == "," and not paren and not quote and not bracket:
            items.append("".join(current))
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    items.append("".join(current))
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if sep and name:
            out[name] = value
    return out


@pytest.mark.parametrize("value", ["2 pizzas, 1 cola", "1,EVIL=2", 'say "hi"', "f(x, y) [a,b]", "back\\slash\\,", "", "plain"])
def test_variable_values_reach_asterisk_exactly(value):
    engine = DialEngine(AmiSession(AmiSettings("127.0.0.1", 1, "dialer", "x")))  # building headers needs no link
    headers = engine.build_originate("79061234561", attempt_id="v-1", context="from-dialer", variables={"ORDER_TEXT": value}, ring_timeout=30)
    parsed = {}
    for header in headers["Variable"]:
        parsed.update(asterisk_variables(header))
    assert parsed == {"ATTEMPT_ID": "v-1", "ORDER_TEXT": value}
    assert asterisk_variables("ORDER_TEXT=1,EVIL=2") == {"ORDER_TEXT": "1", "EVIL": "2"}  # the model splits as Asterisk does


def test_subscribers_get_events_by_name_and_star_and_a_failing_one_harms_nobody():
    async def main():
        t = load_transcript(FIXTURES / "ami_full_79061234562.txt")
        async with ReplayServer(transcript=t) as server:
            async with AmiSession(server.settings(), ping_interval=0) as ami:
                hangups, everything, from_coroutine = [], [], []

                def broken(event):
                    raise RuntimeError("listener bug")

                async def slow(event):
                    from_coroutine.append(event.get("Cause"))

                ami.subscribe("Hangup", broken)
                ami.subscribe("Hangup", lambda e: hangups.append(e.get("Cause")))
                ami.subscribe("Hangup", slow)
                unsubscribe = ami.subscribe("*", lambda e: everything.append(e.get("Event")))
                result = await DialEngine(ami, result_grace=0.5).originate("79061234562", context="from-dialer")
                await asyncio.sleep(0.05)
                unsubscribe()
                return result, hangups, everything, from_coroutine

    result, hangups, everything, from_coroutine = asyncio.run(main())
    assert result.status is CallStatus.BUSY
    assert hangups == from_coroutine == ["0", "17"]
    assert everything.count("Hangup") == 2 and "Newchannel" in everything and "DialEnd" in everything
