"""Answering-machine detection for a campaign: its `amd:` section, what it sends, what came back.

    amd:
      machine: message            # hangup (default) | message | connect
      notsure: connect            # connect (default) | hangup | message
      message: custom/dialer-voicemail   # the voicemail drop's prompt (needed by `message`)
      initial_silence: 2500       # AMD()'s parameters, ms (a count for maximum_number_of_words);
      greeting: 1500              # the defaults are amd.conf's (configs/samples/amd.conf.sample)
      ...

With the section present the call is originated into `[dialer-amd]` (asterisk-lab/extensions.conf):
AMD() with these parameters, then by the verdict the action: HUMAN goes on to the campaign's
destination, MACHINE and NOTSURE to their actions. The dialplan reports `UserEvent: DialerAMD`
(Status, Cause, Action) and, when a voicemail message was played to its end, `DialerAMDMessage`.
`verdict()` reads them from a call's events; `classify()` (autodialer.telephony.classify) makes
the attempt MACHINE (hung up on a machine, or NOTSURE with action hangup) or MACHINE_MESSAGE (a
message left); a call AMD let through keeps the destination's outcome. The attempt row keeps the
verdict, its cause, the action and the seconds from the answer to the verdict (migration 0009).

Abandonment: a person AMD takes for a machine and hangs up on heard a hang-up, which the
regulators count as an abandoned call (Ofcom: AMD false positives count, by a reasoned estimate).
Which calls those are is unknown on a live PBX, so every MACHINE hang-up counts as
`false_machine_rate` of an abandoned live call (`abandon_weight`): measure the rate for your
parameters (bench/amd.py on synthetic greetings; on real calls, by listening to a sample of
recorded MACHINE calls) and set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autodialer.telephony import dialplan
from autodialer.telephony.safety import DIGITS, SOUND, TOKEN, ChannelValue

CONTEXT = "dialer-amd"
HUMAN, MACHINE, NOTSURE, HANGUP = "HUMAN", "MACHINE", "NOTSURE", "HANGUP"
ACTIONS = ("hangup", "message", "connect")
EVENT, MESSAGE_EVENT = "DialerAMD", "DialerAMDMessage"


class AmdSettings(BaseModel):
    """A campaign's `amd:` section. Parameters in AMD()'s units (ms; a count of words; the silence
    threshold on 0-32767), defaults those of amd.conf, i.e. of Asterisk's app_amd.c."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    initial_silence: int = Field(default=2500, ge=20, le=60000)
    greeting: int = Field(default=1500, ge=20, le=60000)
    after_greeting_silence: int = Field(default=800, ge=20, le=60000)
    total_analysis_time: int = Field(default=5000, ge=20, le=60000)
    min_word_length: int = Field(default=100, ge=20, le=60000)
    between_words_silence: int = Field(default=50, ge=20, le=60000)
    maximum_number_of_words: int = Field(default=2, ge=1, le=100)
    silence_threshold: int = Field(default=256, ge=1, le=32767)
    maximum_word_length: int = Field(default=5000, ge=20, le=60000)
    machine: Literal["hangup", "message", "connect"] = "hangup"
    notsure: Literal["connect", "hangup", "message"] = "connect"
    message: str | None = None  # the prompt of a voicemail drop (a sound name, as Playback() takes it)
    # The voicemail drop waits for the end of the greeting: `message_silence` ms of silence (at
    # most `message_timeout` s), then up to `beep_wait` s for a beep (or more greeting) and the
    # silence after it (0: no wait for a beep).
    message_silence: int = Field(default=1000, ge=100, le=10000)
    message_timeout: int = Field(default=20, ge=1, le=120)
    beep_wait: int = Field(default=3, ge=0, le=30)
    # The share of MACHINE hang-ups that were people (for abandonment; see the module docstring).
    false_machine_rate: float = Field(default=0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _message(self):
        if "message" in (self.machine, self.notsure):
            if not self.message:
                raise ValueError("message: the prompt to leave on a voicemail is needed by the action 'message'")
        if self.message is not None:
            SOUND.check(self.message, field="message")
        return self

    def parameters(self) -> list[int]:
        """AMD()'s arguments, in its order."""
        return [self.initial_silence, self.greeting, self.after_greeting_silence, self.total_analysis_time,
                self.min_word_length, self.between_words_silence, self.maximum_number_of_words,
                self.silence_threshold, self.maximum_word_length]

    def variables(self, context: str, exten: str, priority: int, connect_within: float = 2.0,
                  connect_from: str = "answer") -> dict[str, ChannelValue]:
        """The channel variables [dialer-amd] reads (declared in autodialer/telephony/dialplan.py), each
        carrying its kind for the check before sending; `context`/`exten`/`priority`: where a call
        AMD lets through goes on to (the campaign's destination); AMD_CONNECT_MS for
        dialer-predictive: the ms a person must reach an operator in (the campaign's
        pacing.connect_within), and AMD_CONNECT_FROM where they start (pacing.connect_from: the
        answer, or the end of the greeting; the dialplan takes off the time since then, see
        asterisk-lab/extensions.conf)."""
        out = {name: ChannelValue(str(v), DIGITS) for name, v in zip(dialplan.AMD_PARAMETERS, self.parameters())}
        out["AMD_MACHINE"] = ChannelValue(self.machine, dialplan.AMD_MACHINE_KIND)
        out["AMD_NOTSURE"] = ChannelValue(self.notsure, dialplan.AMD_NOTSURE_KIND)
        if self.message:
            out["AMD_MESSAGE"] = ChannelValue(self.message, SOUND)
        out["AMD_DROP_SILENCE"] = ChannelValue(str(self.message_silence), DIGITS)
        out["AMD_DROP_TIMEOUT"] = ChannelValue(str(self.message_timeout), DIGITS)
        out["AMD_BEEP_WAIT"] = ChannelValue(str(self.beep_wait), DIGITS)
        out["AMD_CONNECT_MS"] = ChannelValue(str(round(connect_within * 1000)), DIGITS)
        out["AMD_CONNECT_FROM"] = ChannelValue(connect_from, dialplan.AMD_CONNECT_FROM_KIND)
        out["AMD_NEXT"] = ChannelValue(context, TOKEN)
        out["AMD_NEXT_EXTEN"] = ChannelValue(exten, TOKEN)
        out["AMD_NEXT_PRIORITY"] = ChannelValue(str(priority), DIGITS)
        return out


@dataclass(frozen=True)
class Verdict:
    """What AMD said on one call and what the dialplan did about it."""

    status: str  # HUMAN | MACHINE | NOTSURE | HANGUP (AMDSTATUS)
    cause: str  # AMDCAUSE, e.g. MAXWORDS-3-2, LONGGREETING-2250-1500
    action: str  # connect | hangup | message
    message_left: bool  # the voicemail drop's prompt played to its end

    @property
    def hung_up_on(self) -> bool:
        """The dialer hung up on what AMD took for a machine (or could not tell, with hangup)."""
        return self.action == "hangup" and self.status in (MACHINE, NOTSURE)


def verdict(events) -> Verdict | None:
    """The call's DialerAMD verdict (and DialerAMDMessage), None when AMD did not run."""
    found = [e for e in events if e.get("UserEvent") == EVENT]
    if not found:
        return None
    e = found[-1]
    left = any(m.get("UserEvent") == MESSAGE_EVENT and m.get("PlaybackStatus") == "SUCCESS" for m in events)
    action = e.get("Action", "")
    return Verdict(e.get("Status", ""), e.get("Cause", ""), action if action in ACTIONS else "connect", left)


__all__ = ["AmdSettings", "Verdict", "verdict", "CONTEXT", "EVENT", "MESSAGE_EVENT", "HUMAN", "MACHINE",
           "NOTSURE", "HANGUP"]
