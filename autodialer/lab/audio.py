"""What each leg of a lab call sends: the audio of its Playback() of a real sound file.

A Playback() of a sound the lab has as a wav (asterisk-lab/sounds/<name>.wav, 8 kHz 16-bit mono,
e.g. the callee's greetings/person-allo) plays that file in lab time: it lasts the file's length
and, while it plays, the other leg of the Local pair hears its frames. What a leg hears when the
other plays nothing is silence (a live line with nobody talking). AMD(), WaitForSilence() and
WaitForNoise() read these frames (autodialer/lab/dialplan/audio_apps.py), so they see the same
20 ms frames Asterisk's would.

Each call keeps a log of what was played by which leg and when (`played(call)`), in lab seconds
from the call's first playback: tests check from it that a voicemail drop started after the
greeting's beep and ended before the callee hung up.
"""

from __future__ import annotations

import array
import collections
import functools
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from autodialer.lab import amd

SOUNDS = Path(__file__).resolve().parents[2] / "asterisk-lab" / "sounds"
_QUIET = array.array("h", [0] * amd.SAMPLES_PER_FRAME)


@functools.lru_cache(maxsize=256)
def sound(name: str) -> array.array | None:
    """The samples of asterisk-lab/sounds/<name>.wav, or None when the lab has no such file (the
    prompt then lasts its nominal length and sends silence, as before)."""
    name = name.strip()
    if not name or ".." in name or name.startswith("/"):
        return None
    path = SOUNDS / f"{name}.wav"
    return amd.read_wav(path) if path.is_file() else None


@dataclass
class Played:
    leg: str  # "1" or "2" (the leg's key in call.legs)
    name: str
    start: float  # lab seconds (loop time / time scale)
    seconds: float
    completed: bool = False

    @property
    def end(self) -> float:
        return self.start + self.seconds


class CallAudio:
    """The playbacks of one call, and how far each leg has read what the other sends."""

    def __init__(self):
        self.log: list[Played] = []
        self.current: dict[str, tuple[Played, array.array]] = {}
        self.cursor: dict[str, float] = {}  # leg -> lab time up to which its listening apps have read


_CALLS: "weakref.WeakKeyDictionary[object, CallAudio]" = weakref.WeakKeyDictionary()
_HISTORY: "weakref.WeakKeyDictionary[object, collections.OrderedDict[str, CallAudio]]" = weakref.WeakKeyDictionary()
HISTORY_CALLS = 1000  # per lab PBX: the playback logs of its newest calls that played a sound


def of(call) -> CallAudio:
    audio = _CALLS.get(call)
    if audio is None:
        audio = _CALLS[call] = CallAudio()
        leg1 = call.legs.get("1")
        if leg1 is not None:
            kept = _HISTORY.setdefault(call.pbx, collections.OrderedDict())
            kept[leg1.uniqueid] = audio
            while len(kept) > HISTORY_CALLS:
                kept.popitem(last=False)
    return audio


def played(call) -> list[Played]:
    return list(of(call).log)


def played_in(pbx, uniqueid: str) -> list[Played]:
    """The playback log of a (possibly finished) call of `pbx`, by the Uniqueid of its leg ;1 (the
    Originate's ChannelId: the dialer's attempt id)."""
    audio = _HISTORY.get(pbx, {}).get(uniqueid)
    return list(audio.log) if audio is not None else []


def _now(call) -> float:
    return call.pbx.loop.time() / call.scale


def _leg_key(call, ch) -> str:
    return next((k for k, v in call.legs.items() if v is ch), "?")


def start(x, name: str) -> float | None:
    """Playback() of `name` on x's channel begins: its length in seconds, or None when the lab has
    no audio for it."""
    samples = sound(name)
    if samples is None:
        return None
    p = Played(_leg_key(x.call, x.ch), name.strip(), _now(x.call), len(samples) / amd.SAMPLE_RATE)
    audio = of(x.call)
    audio.log.append(p)
    audio.current[p.leg] = (p, samples)
    return p.seconds


def finished(x, name: str) -> None:
    """The Playback() ran to its end (not interrupted by a hangup)."""
    audio = of(x.call)
    entry = audio.current.get(_leg_key(x.call, x.ch))
    if entry is not None and entry[0].name == name.strip():
        entry[0].completed = True


BUFFERED = 10.0  # lab seconds of the far end's audio a channel still reads late (see listen_from)


def listen_from(x) -> float:
    """Where a listening application (AMD, WaitForSilence) starts reading, in lab time.

    Asterisk queues the frames that arrive before an application reads them, so AMD() right after
    the answer hears the greeting from its first frame even if the dialplan got there a little
    late. The lab does the same: a channel reads on from where its last listening application
    stopped, or from the start of what the other leg is playing, unless that is more than
    BUFFERED seconds ago (then from now). This also keeps the verdicts the same whatever the
    lab's time scale and the machine's load (a 20 ms scheduling delay is 1 lab second at x0.02)."""
    call = x.call
    now = _now(call)
    audio = of(call)
    mine = _leg_key(call, x.ch)
    start = audio.cursor.get(mine)
    if start is None:
        other = audio.current.get({"1": "2", "2": "1"}.get(mine, ""))
        start = other[0].start if other is not None else now
    return start if now - BUFFERED <= start <= now else now


def listened(x, until: float) -> float:
    """A listening application read up to `until` (lab time): the seconds it must still wait."""
    call = x.call
    of(call).cursor[_leg_key(call, x.ch)] = until
    return max(0.0, until - _now(call))


def heard(x, start: float | None = None) -> Iterator[array.array]:
    """The 20 ms frames x's channel hears from `start` (lab time; default now) on: the other
    leg's playback where it plays, silence elsewhere; endless (the caller decides when to stop)."""
    call = x.call
    mine = _leg_key(call, x.ch)
    other = {"1": "2", "2": "1"}.get(mine)
    t = _now(call) if start is None else start
    frame_s = amd.FRAME_MS / 1000
    while True:
        entry = of(call).current.get(other) if other else None
        if entry is not None:
            p, samples = entry
            i = int(round((t - p.start) * amd.SAMPLE_RATE))
            if 0 <= i < len(samples):
                chunk = samples[i:i + amd.SAMPLES_PER_FRAME]
                if len(chunk) < amd.SAMPLES_PER_FRAME:
                    chunk = chunk + _QUIET[:amd.SAMPLES_PER_FRAME - len(chunk)]
                yield chunk
                t += frame_s
                continue
        yield _QUIET
        t += frame_s


__all__ = ["SOUNDS", "sound", "start", "finished", "heard", "listen_from", "listened", "played", "played_in", "Played", "of"]
