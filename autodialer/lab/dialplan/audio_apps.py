"""The lab's applications that listen to the far end: AMD(), WaitForSilence(), WaitForNoise().

They read the frames the channel hears (autodialer/lab/audio.py: the other leg's Playback() of a
real wav, silence otherwise) and decide as Asterisk 22 does: AMD() with app_amd.c's algorithm
(autodialer/lab/amd.py), the two waits with app_waitforsilence.c's loop over dsp.c's detector.
The decision is computed over the frames, then the channel waits that long in lab time before
the variables are set, so a verdict comes when it would on a PBX (and a hangup meanwhile ends
the wait as it ends Asterisk's).
"""

from __future__ import annotations

import re

from autodialer.lab import amd, audio
from autodialer.lab.dialplan import subst
from autodialer.lab.dialplan.engine import Exec, StopPbx


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


async def app_amd(x: Exec, data: str) -> None:
    """AMD([initialSilence,greeting,afterGreetingSilence,totalAnalysisTime,miniumWordLength,
    betweenWordsSilence,maximumNumberOfWords,silenceThreshold,maximumWordLength[,audioFile]]):
    sets AMDSTATUS (HUMAN, MACHINE, NOTSURE, HANGUP) and AMDCAUSE."""
    params = amd.AmdParams.from_args(subst.standard_args(data, 10))
    start = audio.listen_from(x)
    result = amd.detect(audio.heard(x, start), params)
    await x.wait(audio.listened(x, start + result.ms / 1000))
    x.set_var("AMDSTATUS", result.status)
    x.set_var("AMDCAUSE", result.cause)


def _sscanf_int(text: str) -> int | None:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else None


async def _wait_for(x: Exec, data: str, *, silence: bool) -> None:
    """waitfor_exec + do_waiting: `iterations` runs of `timereqd` ms of silence (noise), each with
    a fresh detector, within `timeout` s from the start (0 = no limit). WAITSTATUS SILENCE / NOISE
    / TIMEOUT. A bad argument is an error: the application returns -1 (the channel hangs up)."""
    args = subst.standard_args(data, 3)
    values = [1000, 1, 0]  # timereqd, iterations, timeout
    for i, low in enumerate((0, 1, 0)):
        text = _arg(args, i)
        if text.strip():
            value = _sscanf_int(text)
            if value is None or value < low:
                raise StopPbx()
            values[i] = value
    timereqd, iterations, timeout = values
    start = audio.listen_from(x)
    frames = audio.heard(x, start)
    elapsed = 0
    status = "TIMEOUT"
    for _ in range(iterations):
        det = amd.SilenceDetector(amd.AmdParams().silence_threshold)  # dsp.conf's silencethreshold
        done = False
        for samples in frames:
            elapsed += amd.FRAME_MS
            silent, total_silence = det.silence(samples)
            dsptime = total_silence if silence else det.totalnoise
            if dsptime >= timereqd:
                done = True
                break
            if timeout and elapsed >= timeout * 1000:
                break
        if not done:
            status = "TIMEOUT"
            break
        status = "SILENCE" if silence else "NOISE"
    await x.wait(audio.listened(x, start + elapsed / 1000))
    x.set_var("WAITSTATUS", status)


async def app_waitforsilence(x: Exec, data: str) -> None:
    """WaitForSilence(silencerequired[,iterations[,timeout]])."""
    await _wait_for(x, data, silence=True)


async def app_waitfornoise(x: Exec, data: str) -> None:
    """WaitForNoise(noiserequired[,iterations[,timeout]])."""
    await _wait_for(x, data, silence=False)


APPS = {"AMD": app_amd, "WaitForSilence": app_waitforsilence, "WaitForNoise": app_waitfornoise}

__all__ = ["APPS"]
