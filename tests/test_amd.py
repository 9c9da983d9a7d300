"""AMD as Asterisk 22 has it: the port of app_amd.c/dsp.c against a real Asterisk 22.10.1's verdicts.

tests/fixtures/asterisk-22/amd/ is /work/shared/asterisk-22/amd/ (the wavs a real AMD() analysed,
and its README with AMDSTATUS/AMDCAUSE for each): same audio, same parameters -> same verdict and
cause. The synthetic frames below pin the causes the recordings do not reach (LONGGREETING,
MAXWORDLENGTH, TOOLONG, HANGUP) and the argument parsing.
"""

from __future__ import annotations

import array
import re
from pathlib import Path

import pytest

from autodialer.lab import amd

REFERENCE = Path(__file__).parent / "fixtures" / "asterisk-22" / "amd"


def _reference_rows():
    rows = []
    for line in (REFERENCE / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\w+)\s*\|.*\|\s*(HUMAN|MACHINE|NOTSURE|HANGUP)\s*\|\s*([A-Z0-9-]+)\s*\|\s*([\d.]+)\s*\|$", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3), float(m.group(4))))
    return rows


ROWS = _reference_rows()


def test_reference_table_is_read_whole():
    assert len(ROWS) == 12 and {r[0] for r in ROWS} == {p.stem for p in REFERENCE.glob("*.wav")}


@pytest.mark.parametrize("name,status,cause,seconds", ROWS, ids=[r[0] for r in ROWS])
def test_same_verdict_and_cause_as_asterisk(name, status, cause, seconds):
    res = amd.detect_wav(REFERENCE / f"{name}.wav")
    assert (res.status, res.cause) == (status, cause)
    # Asterisk's seconds count from the Originate (ringing, answer, channel set-up) to the verdict:
    # the audio analysed is less than that, by under a second.
    assert 0 < seconds - res.ms / 1000 < 1.0


def test_the_default_parameters_are_amd_conf_samples():
    p = amd.AmdParams()
    assert p.args() == [2500, 1500, 800, 5000, 100, 50, 2, 256, 5000]


def test_arguments_parse_as_app_amd_does():
    p = amd.AmdParams.from_args(["", "2000", " 900ms", "", "", "", "4"])
    assert p.args() == [2500, 2000, 900, 5000, 100, 50, 4, 256, 5000]
    assert amd.AmdParams.from_args(["x"]).initial_silence == 0  # atoi("x")


LOUD = array.array("h", [1000, -1000] * 80)  # mean |s| 1000: voice
QUIET = array.array("h", [100, -100] * 80)  # mean |s| 100: silence at 256


def _frames(*spans):
    """(frame, count) spans -> a list of 20 ms frames."""
    out = []
    for frame, n in spans:
        out += [frame] * n
    return out


def test_energy_threshold_is_the_mean_absolute_sample_integer_divided():
    at = array.array("h", [256] * 160)
    below = array.array("h", [256] * 159 + [255])  # mean 255.99 -> 255 in C's integer division
    assert amd.SilenceDetector(256).silence(at) == (False, 0)
    assert amd.SilenceDetector(256).silence(below) == (True, 20)


def test_long_greeting():
    # 1 word of 1.6 s: voiceDuration reaches greeting (1500) while in the greeting
    res = amd.detect(_frames((QUIET, 10), (LOUD, 100)))
    assert (res.status, res.cause) == ("MACHINE", "LONGGREETING-1500-1500")


def test_maximum_word_length():
    p = amd.AmdParams(greeting=10000, maximum_word_length=1000)
    res = amd.detect(_frames((LOUD, 60)), p)
    assert (res.status, res.cause) == ("MACHINE", "MAXWORDLENGTH-1000")


def test_too_long_and_hangup():
    # words of 100 ms with 60 ms gaps never reach 3 words when maximum is high, nor 800 ms of silence
    p = amd.AmdParams(maximum_number_of_words=1000, greeting=100000)
    res = amd.detect(_frames(*[(LOUD, 5), (QUIET, 3)] * 40), p)
    assert (res.status, res.cause, res.ms) == ("NOTSURE", "TOOLONG-5000", 5000)
    res = amd.detect(_frames((LOUD, 10)))
    assert (res.status, res.cause) == ("HANGUP", "")


def test_the_first_word_counts_only_after_silence():
    # Voice from the first frame: STATE_IN_WORD at start, so it is not counted as a word; two more
    # words after gaps make 2 (not over the maximum), then 800 ms of silence: HUMAN.
    res = amd.detect(_frames((LOUD, 10), (QUIET, 5), (LOUD, 10), (QUIET, 5), (LOUD, 10), (QUIET, 40)))
    assert (res.status, res.cause) == ("HUMAN", "HUMAN-800-800")


def test_end_of_greeting_after_the_beep():
    speech = amd.read_wav(REFERENCE / "vm_ru_short.wav")
    beep = amd.read_wav(REFERENCE / "vm_ru_short_beep.wav")
    plain, beeped = amd.end_of_greeting_ms(speech), amd.end_of_greeting_ms(beep)
    assert 2000 < plain < len(speech) // 8
    assert beeped >= plain  # the beep is part of the greeting: the prompt starts after it


LAB_GREETINGS = Path(__file__).parents[1] / "asterisk-lab" / "sounds" / "greetings"


def test_the_lab_callees_greetings_are_what_they_say():
    """The committed greetings the lab callee answers with (python -m autodialer.lab.greetings --lab)."""
    from autodialer.lab import greetings

    got = {g.name: amd.detect_wav(LAB_GREETINGS / f"{g.name}.wav").cause for g in greetings.lab_set()}
    assert got == {"person-allo": "HUMAN-800-800", "person-hello": "HUMAN-800-800",
                   "person-da-slushayu": "HUMAN-800-800", "person-4words": "MAXWORDS-3-2",
                   "person-silent": "INITIALSILENCE-2500-2500", "voicemail-beep": "MAXWORDS-3-2",
                   "voicemail-nobeep": "MAXWORDS-3-2"}


def test_synthesised_greeting(tmp_path):
    """espeak-ng + sox (Debian packages; .ci/run installs them) make an 8 kHz greeting AMD hears as
    a person, and a beep after a voicemail greeting is sound where the greeting's end is looked for."""
    from autodialer.lab import greetings

    g = greetings.Greeting("t", greetings.HUMAN, "Алло?", "ru", 150, before=0.3, after=2.0)
    vm = greetings.Greeting("vm", greetings.MACHINE, "Оставьте сообщение после сигнала.", "ru", 150,
                            before=0.3, after=1.0, beep=True)
    p, v = greetings.synthesise([g, vm], tmp_path)
    assert amd.detect_wav(p).status == "HUMAN"
    samples = amd.read_wav(v)
    end = amd.end_of_greeting_ms(samples)
    assert len(samples) // 8 - 1000 <= end <= len(samples) // 8  # after the beep and 800 ms of silence
