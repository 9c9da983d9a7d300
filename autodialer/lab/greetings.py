"""Synthetic greetings for AMD: what a callee "says" when it answers, as 8 kHz 16-bit mono wavs.

    python -m autodialer.lab.greetings OUTDIR            # the bench's labelled set (bench/amd.py)
    python -m autodialer.lab.greetings OUTDIR --lab      # the lab callee's greetings (committed)

Speech comes from Debian's espeak-ng (voices ru, en-us, en-gb and female variants, several speeds
and pitches), resampled to 8 kHz by sox, as /work/shared/asterisk-22/amd/ was made; the silence
before and after, the 1 kHz voicemail beep and the line noise are added here (seeded, so a set is
the same on every run). Both tools are Debian packages (`apt-get install espeak-ng sox`; .ci/run
installs them). This is synthetic speech: the bench measures the detector on it, not real-world
accuracy.
"""

from __future__ import annotations

import argparse
import array
import math
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from autodialer.lab.amd import SAMPLE_RATE, read_wav

HUMAN, MACHINE = "human", "machine"


@dataclass(frozen=True)
class Greeting:
    """One labelled greeting. ``label`` is the truth (who answered), not what AMD will say."""

    name: str
    label: str  # human | machine
    text: str  # what is said ("" = nothing)
    voice: str = "ru"
    speed: int = 150  # words per minute (espeak-ng -s)
    pitch: int = 50  # espeak-ng -p
    before: float = 0.4  # seconds of silence before speaking
    after: float = 5.0  # seconds of silence after (a person waits for an answer)
    beep: bool = False  # a voicemail beep (1 kHz, 0.5 s) 0.4 s after the greeting
    noise: int = 0  # mean |sample| of line noise under everything (0 = digital silence)
    repeat_after: float = 0.0  # a person who hears nothing says it again after this long (0 = never)


def _espeak(text: str, voice: str, speed: int, pitch: int, tmp: Path) -> array.array:
    raw, out = tmp / "raw.wav", tmp / "8k.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text],
                   check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                    str(out)], check=True, capture_output=True)
    return read_wav(out)


def _trim(samples: array.array, floor: int = 64) -> array.array:
    """espeak-ng's own leading and trailing silence off, so ``before``/``after``/the beep's gap are exact."""
    loud = [i for i, v in enumerate(samples) if abs(v) >= floor]
    return samples[loud[0]:loud[-1] + 1] if loud else array.array("h")


def _silence(seconds: float) -> array.array:
    return array.array("h", bytes(2 * int(seconds * SAMPLE_RATE)))


def _beep(seconds: float = 0.5, hz: float = 1000.0, amplitude: int = 8000) -> array.array:
    return array.array("h", (int(amplitude * math.sin(2 * math.pi * hz * i / SAMPLE_RATE))
                             for i in range(int(seconds * SAMPLE_RATE))))


def _add_noise(samples: array.array, level: int, seed: str) -> array.array:
    """Uniform noise of mean |s| = level (uniform on [-2L, 2L] has mean |s| L), clipped to 16 bits."""
    rnd = random.Random(seed)
    return array.array("h", (max(-32768, min(32767, s + int(rnd.uniform(-2 * level, 2 * level)))) for s in samples))


def render(g: Greeting, tmp: Path) -> array.array:
    """The samples of one greeting."""
    speech = _trim(_espeak(g.text, g.voice, g.speed, g.pitch, tmp)) if g.text else array.array("h")
    out = _silence(g.before) + speech
    if g.beep:
        out += _silence(0.4) + _beep()
    if g.repeat_after and g.text:
        out += _silence(g.repeat_after) + speech
    out += _silence(g.after)
    if g.noise:
        out = _add_noise(out, g.noise, g.name)
    return out


def write_wav(path: Path, samples: array.array) -> None:
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(data.tobytes())


def synthesise(greetings, outdir: str | Path) -> list[Path]:
    """Write each greeting as OUTDIR/<name>.wav (existing files are kept: a set is made once)."""
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"greetings need {' and '.join(missing)} (Debian: apt-get install espeak-ng sox)")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for g in greetings:
            path = outdir / f"{g.name}.wav"
            if not path.exists():
                write_wav(path, render(g, Path(tmp)))
            paths.append(path)
    return paths


# --- the sets -----------------------------------------------------------------------------------
_VOICES = [("ru", 50), ("ru+f3", 70), ("en-us", 50), ("en-gb+f2", 65)]
_SPEEDS = (130, 150, 175)

_PEOPLE = {
    "ru": ["Алло?", "Да?", "Да, слушаю.", "Алло, говорите.", "Слушаю вас.", "Алло, да, слушаю.",
           "Да, кто это?", "Алло, я слушаю вас."],
    "en": ["Hello?", "Yes?", "Hello, yes?", "Hi, who is this?", "Yeah, hello.", "Hello, this is Anna."],
}

_VOICEMAIL = {
    "ru": ["Здравствуйте. Вы позвонили Ивану. Оставьте сообщение после сигнала.",
           "Абонент сейчас не может ответить. Пожалуйста, оставьте сообщение после звукового сигнала.",
           "Здравствуйте, вы позвонили в компанию Ромашка. Все операторы заняты. Оставьте ваше имя, "
           "номер телефона и краткое сообщение, и мы перезвоним вам в течение рабочего дня. Спасибо.",
           "Привет, это Маша. Я не могу сейчас ответить, перезвоню."],
    "en": ["Hi, you have reached Tom. Please leave a message after the tone.",
           "The person you are calling is not available. Please leave a message after the beep.",
           "Thank you for calling Acme Corporation. Our office is currently closed. Please leave your name, "
           "number and a short message, and we will return your call on the next business day.",
           "Hey, it's Sam, I can't take your call right now."],
}


def bench_set() -> list[Greeting]:
    """The labelled set bench/amd.py runs: people answering with one to four words (several voices,
    speeds, delays, some repeating themselves, some on a noisy line), people who say nothing,
    voicemail greetings of 3 to 15 s with and without a beep, dead air and noise."""
    out: list[Greeting] = []
    n = 0
    for lang, phrases in _PEOPLE.items():
        for i, text in enumerate(phrases):
            for j, (voice, pitch) in enumerate(v for v in _VOICES if v[0].startswith(lang)):
                for k, speed in enumerate(_SPEEDS):
                    n += 1
                    before = (0.3, 0.6, 1.0, 1.5)[(i + j + k) % 4]
                    noise = (0, 0, 60, 150)[(i + 2 * j + k) % 4]
                    repeat = 2.5 if (i + k) % 3 == 0 else 0.0
                    out.append(Greeting(f"human_{n:03d}", HUMAN, text, voice, speed, pitch, before, 4.0,
                                        noise=noise, repeat_after=repeat))
    for j, (voice, pitch) in enumerate(_VOICES):
        out.append(Greeting(f"human_silent_{j}", HUMAN, "", voice, before=0.0, after=8.0, noise=(0, 40)[j % 2]))
    for lang, texts in _VOICEMAIL.items():
        for i, text in enumerate(texts):
            for j, (voice, pitch) in enumerate(v for v in _VOICES if v[0].startswith(lang)):
                for k, speed in enumerate(_SPEEDS[:2]):
                    n += 1
                    out.append(Greeting(f"machine_{n:03d}", MACHINE, text, voice, speed, pitch,
                                        (0.2, 0.5)[(i + k) % 2], 3.0, beep=(i + j + k) % 2 == 0,
                                        noise=(0, 60)[(i + j) % 2]))
    out.append(Greeting("machine_deadair", MACHINE, "", before=0.0, after=8.0))
    out.append(Greeting("machine_noise", MACHINE, "", before=0.0, after=8.0, noise=400))
    return out


def lab_set() -> list[Greeting]:
    """The lab callee's greetings (asterisk-lab/sounds/greetings/, committed): the callee answers
    with one of these when the Originate sets SIM_GREETING=<name>."""
    return [
        Greeting("person-allo", HUMAN, "Алло?", "ru", 150, before=0.3, after=0.2),
        Greeting("person-hello", HUMAN, "Hello?", "en-us", 150, before=0.3, after=0.2),
        Greeting("person-da-slushayu", HUMAN, "Да, слушаю.", "ru", 150, before=0.4, after=0.2),
        Greeting("person-4words", HUMAN, "Алло, да, слушаю вас.", "ru", 150, before=0.4, after=0.2),
        Greeting("person-silent", HUMAN, "", before=0.0, after=0.2),
        Greeting("voicemail-beep", MACHINE, "Здравствуйте. Вы позвонили Ивану. Оставьте сообщение после сигнала.",
                 "ru", 150, before=0.3, after=0.2, beep=True),
        Greeting("voicemail-nobeep", MACHINE, "Hi, you have reached Tom. Please leave a message.", "en-us", 150,
                 before=0.3, after=0.2),
    ]


LAB_SOUNDS = Path(__file__).resolve().parents[2] / "asterisk-lab" / "sounds" / "greetings"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autodialer.lab.greetings", description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", help="where to write the wavs (default: the lab's, with --lab)")
    ap.add_argument("--lab", action="store_true", help="the lab callee's greetings instead of the bench set")
    a = ap.parse_args(argv)
    greetings = lab_set() if a.lab else bench_set()
    outdir = a.outdir or (LAB_SOUNDS if a.lab else None)
    if outdir is None:
        ap.error("outdir is required for the bench set")
    paths = synthesise(greetings, outdir)
    print(f"{len(paths)} greetings in {outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
