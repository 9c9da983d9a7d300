"""AMD() in the lab PBX: the callee answers with a real greeting (SIM_GREETING), [dialer-amd] runs
AMD() on the frames it hears (app_amd.c's algorithm) and acts on the verdict; the dial engine sees
what a PBX would send (UserEvent DialerAMD, DialerAMDMessage). Over real TCP, time-scaled."""

from __future__ import annotations

import asyncio

import pytest

from autodialer.config import parse_ami_url
from autodialer.lab import amd, audio, greetings
from autodialer.telephony.outcomes import CallStatus
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.engine import DialEngine

DEFAULTS = dict(zip(("AMD_INITIAL_SILENCE", "AMD_GREETING", "AMD_AFTER_GREETING_SILENCE", "AMD_TOTAL_ANALYSIS_TIME",
                     "AMD_MIN_WORD_LENGTH", "AMD_BETWEEN_WORDS_SILENCE", "AMD_MAXIMUM_NUMBER_OF_WORDS",
                     "AMD_SILENCE_THRESHOLD", "AMD_MAXIMUM_WORD_LENGTH"), map(str, amd.AmdParams().args())))


def _vars(greeting: str, machine: str = "hangup", notsure: str = "connect", **extra) -> dict[str, str]:
    out = dict(DEFAULTS, SIM_GREETING=greeting, AMD_MACHINE=machine, AMD_NOTSURE=notsure,
               AMD_MESSAGE="custom/dialer-voicemail", AMD_DROP_SILENCE="1000", AMD_DROP_TIMEOUT="20",
               AMD_BEEP_WAIT="3", AMD_NEXT="from-dialer", AMD_NEXT_EXTEN="s", AMD_NEXT_PRIORITY="1")
    out.update(extra)
    return out


def _call(lab, number: str, variables: dict, attempt_id: str):
    async def main():
        ami = await AmiSession(parse_ami_url(lab.url), ping_interval=0, reconnect_initial=0.05).connect()
        try:
            engine = DialEngine(ami, result_grace=1.0)
            return await engine.originate(number, context="dialer-amd", variables=variables, attempt_id=attempt_id)
        finally:
            await ami.close()

    return asyncio.run(asyncio.wait_for(main(), 60))


def _amd_event(result):
    return [e for e in result.events if e.get("UserEvent") == "DialerAMD"]


@pytest.mark.parametrize("greeting, status, cause, action", [
    ("person-allo", "HUMAN", "HUMAN-800-800", "connect"),
    ("person-4words", "MACHINE", "MAXWORDS-3-2", "hangup"),
    ("person-silent", "MACHINE", "INITIALSILENCE-2500-2500", "hangup"),
    ("voicemail-nobeep", "MACHINE", "MAXWORDS-3-2", "hangup"),
])
def test_amd_verdict_and_action_in_the_lab(lab_pbx, greeting, status, cause, action):
    result = _call(lab_pbx, "79061234561", _vars(greeting), f"amd-{greeting}")
    assert _amd_event(result) == [{"UserEvent": "DialerAMD", "AttemptId": f"amd-{greeting}", "Status": status,
                                   "Cause": cause, "Action": action}]
    assert (result.amd_status, result.amd_cause, result.amd_action) == (status, cause, action)
    assert result.status is (CallStatus.ANSWERED if action == "connect" else CallStatus.MACHINE)
    assert result.amd_seconds is not None and result.amd_seconds >= 0
    done = [e for e in result.events if e.get("UserEvent") == "DialerDone"]
    assert bool(done) == (action == "connect")  # connect went on to the destination (from-dialer)
    trace = [(e.context, e.name, e.args) for e in lab_pbx.pbx.dialplan.trace if e.uniqueid.startswith(f"amd-{greeting}")]
    assert ("dialer-amd", "AMD", ",".join(DEFAULTS.values())) in trace


def test_notsure_takes_the_campaigns_notsure_action(lab_pbx):
    # total analysis time shorter than the initial silence: a silent callee is NOTSURE, TOOLONG
    v = _vars("person-silent", notsure="hangup", AMD_INITIAL_SILENCE="4500", AMD_TOTAL_ANALYSIS_TIME="4000")
    result = _call(lab_pbx, "79061234561", v, "amd-notsure")
    assert _amd_event(result)[0] | {} == {"UserEvent": "DialerAMD", "AttemptId": "amd-notsure", "Status": "NOTSURE",
                                          "Cause": "TOOLONG-4000", "Action": "hangup"}


def test_voicemail_drop_starts_after_the_beep_and_is_heard_whole(lab_pbx):
    result = _call(lab_pbx, "79061234561", _vars("voicemail-beep", machine="message"), "amd-drop")
    assert result.status is CallStatus.MACHINE_MESSAGE
    assert (result.amd_status, result.amd_cause, result.amd_action) == ("MACHINE", "MAXWORDS-3-2", "message")
    assert _amd_event(result)[0]["Action"] == "message"
    left = [e for e in result.events if e.get("UserEvent") == "DialerAMDMessage"]
    assert left == [{"UserEvent": "DialerAMDMessage", "AttemptId": "amd-drop", "Message": "custom/dialer-voicemail",
                     "PlaybackStatus": "SUCCESS"}]
    log = audio.played_in(lab_pbx.pbx, "amd-drop")
    greeting = next(p for p in log if p.name == "greetings/voicemail-beep")
    message = next(p for p in log if p.name == "custom/dialer-voicemail")
    beep_end = greeting.end - 0.2  # the file ends 0.2 s after its beep
    # the drop began after the beep and a second of silence, and played to its end with the callee
    # (the voicemail) still recording
    assert beep_end + 1.0 <= message.start < beep_end + 10.0 and message.completed  # (+3 s: no second beep came)
    assert message.seconds > 3


def test_the_lab_greetings_have_their_labels():
    assert {g.name for g in greetings.lab_set()} == {p.stem for p in audio.SOUNDS.joinpath("greetings").glob("*.wav")}
