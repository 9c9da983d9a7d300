"""Answering-machine detection as Asterisk 22's ``AMD()`` does it (apps/app_amd.c), on audio frames.

A pure port, no I/O: ``detect(frames, params)`` runs app_amd.c's ``isAnsweringMachine`` state machine
over 20 ms frames of 8 kHz signed-linear audio, with main/dsp.c's silence detector
(``__ast_dsp_silence_noise``: the mean absolute sample of a frame, integer division, below the
threshold is silence; the detector's ``totalsilence`` accumulates over consecutive silent frames and
resets on a voiced one). It returns what Asterisk sets on the channel: AMDSTATUS and AMDCAUSE, with
the same cause strings (``MAXWORDS-3-2``, ``HUMAN-800-800``, ``INITIALSILENCE-2500-2500``,
``LONGGREETING-1520-1500``, ``MAXWORDLENGTH-5000``, ``TOOLONG-5000``, ``NOAUDIODATA-0``), plus the
analysed audio time it took (``ms``), which is when a live call would get its verdict.

Why a port rather than a look-alike: the campaign's ``amd:`` parameters must mean in the lab what
they mean on the PBX (a 2-word "Алло, говорите." is HUMAN, a 3-word answer is MACHINE by
MAXWORDS with the shipped defaults), and the bench's accuracy figures are only worth anything if
they are Asterisk's. /work/shared/asterisk-22/amd/ holds verdicts of a real Asterisk 22.10.1 that
tests/test_amd.py reproduces.

Not modelled: the wall-clock guard (``ast_tvnow() - start > totalAnalysisTime``, which on a live
call fires at the same point as the audio-time one within a frame) and CNG frames (the lab sends
voice frames only; a caller that stops sending audio is modelled by ``frames`` ending: HANGUP, as
``ast_read`` returning NULL does).
"""

from __future__ import annotations

import array
import sys
import wave
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Iterator

SAMPLE_RATE = 8000
FRAME_MS = 20
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000  # 160
DEFAULT_SAMPLES_PER_MS = SAMPLE_RATE // 1000

HUMAN, MACHINE, NOTSURE, HANGUP = "HUMAN", "MACHINE", "NOTSURE", "HANGUP"
STATUSES = (HUMAN, MACHINE, NOTSURE, HANGUP)


@dataclass(frozen=True)
class AmdParams:
    """AMD()'s nine arguments in their order, defaults those of configs/samples/amd.conf.sample (and
    app_amd.c's dflt* values; silence_threshold is dsp.conf's default 256)."""

    initial_silence: int = 2500
    greeting: int = 1500
    after_greeting_silence: int = 800
    total_analysis_time: int = 5000
    min_word_length: int = 100
    between_words_silence: int = 50
    maximum_number_of_words: int = 2
    silence_threshold: int = 256
    maximum_word_length: int = 5000

    def args(self) -> list[int]:
        """The AMD() argument list, in app_amd.c's AST_APP_ARG order."""
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def from_args(cls, args: list[str]) -> "AmdParams":
        """AMD(data) parsing: an empty argument keeps the default, otherwise atoi() (leading digits,
        0 when none), as app_amd.c does; a tenth argument (audio file) is ignored here."""
        values = asdict(cls())
        for f, text in zip(fields(cls), args):
            if text.strip() if text else False:
                values[f.name] = _atoi(text)
        return cls(**values)


def _atoi(text: str) -> int:
    s = text.lstrip()
    sign, i = 1, 0
    if s[:1] in "+-" and s[:1]:
        sign, i = (-1 if s[0] == "-" else 1), 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return sign * int(s[i:j]) if j > i else 0


@dataclass(frozen=True)
class AmdResult:
    status: str  # AMDSTATUS
    cause: str  # AMDCAUSE
    ms: int  # audio analysed until the verdict (app_amd.c's iTotalTime), milliseconds

    @property
    def kind(self) -> str:
        """The cause's kind without figures: MAXWORDS, HUMAN, INITIALSILENCE, LONGGREETING, ..."""
        return self.cause.split("-", 1)[0]


class SilenceDetector:
    """main/dsp.c's silence part of ``struct ast_dsp`` for one AMD run."""

    def __init__(self, threshold: int, sample_rate: int = SAMPLE_RATE):
        self.threshold = threshold
        self.sample_rate = sample_rate
        self.totalsilence = 0
        self.totalnoise = 0

    def silence(self, samples) -> tuple[bool, int]:
        """``ast_dsp_silence``: (silent?, totalsilence in ms) for one frame of samples."""
        n = len(samples)
        if not n:
            return False, self.totalsilence
        accum = sum(abs(s) for s in samples) // n  # int accum; accum /= len (non-negative)
        if accum < self.threshold:
            self.totalsilence += n // (self.sample_rate // 1000)
            self.totalnoise = 0
            return True, self.totalsilence
        self.totalnoise += n // (self.sample_rate // 1000)
        self.totalsilence = 0
        return False, self.totalsilence


def detect(frames: Iterable, params: AmdParams = AmdParams()) -> AmdResult:
    """app_amd.c's isAnsweringMachine over voice frames (sequences of signed 16-bit samples).

    Frames that end before a verdict mean the far end hung up (AMDSTATUS HANGUP, empty cause), as
    when ``ast_read`` returns NULL."""
    p = params
    dsp = SilenceDetector(p.silence_threshold)
    in_initial_silence, in_greeting = True, False
    voice_duration = silence_duration = total = words = 0
    in_word = True  # currentState = STATE_IN_WORD
    consecutive_voice = 0
    for samples in frames:
        framelength = len(samples) // DEFAULT_SAMPLES_PER_MS
        total += framelength
        if total >= p.total_analysis_time:
            return AmdResult(NOTSURE, f"TOOLONG-{total}", total)
        _, dspsilence = dsp.silence(samples)
        if dspsilence > 0:
            silence_duration = dspsilence
            if silence_duration >= p.between_words_silence:
                in_word = False
                consecutive_voice = 0
            if in_initial_silence and silence_duration >= p.initial_silence:
                return AmdResult(MACHINE, f"INITIALSILENCE-{silence_duration}-{p.initial_silence}", total)
            if silence_duration >= p.after_greeting_silence and in_greeting:
                return AmdResult(HUMAN, f"HUMAN-{silence_duration}-{p.after_greeting_silence}", total)
        else:
            consecutive_voice += framelength
            voice_duration += framelength
            if consecutive_voice >= p.min_word_length and not in_word:
                words += 1
                in_word = True
            if consecutive_voice >= p.maximum_word_length:
                return AmdResult(MACHINE, f"MAXWORDLENGTH-{consecutive_voice}", total)
            if words > p.maximum_number_of_words:
                return AmdResult(MACHINE, f"MAXWORDS-{words}-{p.maximum_number_of_words}", total)
            if in_greeting and voice_duration >= p.greeting:
                return AmdResult(MACHINE, f"LONGGREETING-{voice_duration}-{p.greeting}", total)
            if voice_duration >= p.min_word_length:
                silence_duration = 0
            if consecutive_voice >= p.min_word_length and not in_greeting:
                in_initial_silence, in_greeting = False, True
    return AmdResult(HANGUP, "", total)


# --- audio ------------------------------------------------------------------------------------------
def read_wav(path: str | Path) -> array.array:
    """An 8 kHz 16-bit mono wav's samples (what Playback() of it would send); anything else is an
    error naming the file, since AMD's thresholds and timings assume exactly that format."""
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (SAMPLE_RATE, 2, 1):
            raise ValueError(f"{path}: need 8000 Hz 16-bit mono, got {w.getframerate()} Hz "
                             f"{8 * w.getsampwidth()}-bit {w.getnchannels()} channel(s)")
        data = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        data.byteswap()
    return data


def frames_of(samples, *, then_silence: bool = True) -> Iterator:
    """20 ms frames of ``samples``; afterwards (a live line after the callee stopped talking) silent
    frames forever when ``then_silence``, so AMD ends on its own timers, never on the file's end."""
    n = len(samples)
    for i in range(0, n - n % SAMPLES_PER_FRAME, SAMPLES_PER_FRAME):
        yield samples[i:i + SAMPLES_PER_FRAME]
    rest = n % SAMPLES_PER_FRAME
    if rest:
        yield array.array("h", samples[n - rest:]) + array.array("h", [0] * (SAMPLES_PER_FRAME - rest))
    if then_silence:
        quiet = array.array("h", [0] * SAMPLES_PER_FRAME)
        while True:
            yield quiet


def detect_wav(path: str | Path, params: AmdParams = AmdParams()) -> AmdResult:
    return detect(frames_of(read_wav(path)), params)


def end_of_greeting_ms(samples, silence_ms: int = 800, threshold: int = 256, start_ms: int = 0) -> int:
    """When the greeting after ``start_ms`` is over: the end of the first run of ``silence_ms`` of
    silence (dsp.c's detector, as WaitForSilence uses it) that follows some sound, or the end of the
    audio. A beep is sound, so the greeting is over after the beep and the silence following it:
    that is where a voicemail drop starts its prompt so the whole message is recorded."""
    dsp = SilenceDetector(threshold)
    heard = False
    t = 0
    for samples in frames_of(samples, then_silence=False):
        t += FRAME_MS
        if t <= start_ms:
            continue
        silent, total = dsp.silence(samples)
        if not silent:
            heard = True
        elif heard and total >= silence_ms:
            return t
    return max(t, start_ms)


__all__ = ["AmdParams", "AmdResult", "SilenceDetector", "detect", "detect_wav", "read_wav", "frames_of",
           "end_of_greeting_ms", "HUMAN", "MACHINE", "NOTSURE", "HANGUP", "STATUSES", "FRAME_MS"]
