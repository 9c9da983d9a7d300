"""The channel variables of the shipped dialplan (asterisk-lab/extensions.conf): who sets each and
its kind. One table, read by the campaign model (the kind a list column mapped to a known
variable gets by default; the names a list, `variables:`, `--var` or a request may not set), by
the dialer (the kind every value is checked for before it is sent) and by the dialplan lint
(tests/test_dialplan_data_lint.py: every `${VAR}` the file reads is declared here, and a `text`
one appears only where Asterisk does not parse it).

Owners:
- `data`: fed by a list column, `--var` or a request; the kind is the default a campaign can
  narrow or change (`list.variables: {ORDER_ID: {column: x, kind: token}}`).
- `dialer`, `destination`, `script`, `callback`, `recall`: set by the dialer itself for the
  campaign, its destination, its survey script, click-to-call or recall. Never from data.
- `dialplan`: set by the dialplan itself (Set(), Read()); `asterisk`: Asterisk's own; `lab`: the
  lab PBX's simulated callee (random mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from autodialer.telephony.safety import DIGITS, NUMBER, SOUND, TEXT, TOKEN, Kind

Owner = Literal["data", "dialer", "destination", "script", "callback", "recall", "amd", "dialplan", "asterisk", "lab"]

CONF_ROLES = ("moderator", "listener", "participant")
CONF_ROLE_KIND = Kind("enum", CONF_ROLES, default="participant")
AMD_MACHINE_KIND = Kind("enum", ("hangup", "message", "connect"))
AMD_NOTSURE_KIND = Kind("enum", ("connect", "hangup", "message"))
AMD_CONNECT_FROM_KIND = Kind("enum", ("answer", "greeting_end"))  # pacing.connect_from
AMD_PARAMETERS = ("AMD_INITIAL_SILENCE", "AMD_GREETING", "AMD_AFTER_GREETING_SILENCE", "AMD_TOTAL_ANALYSIS_TIME",
                  "AMD_MIN_WORD_LENGTH", "AMD_BETWEEN_WORDS_SILENCE", "AMD_MAXIMUM_NUMBER_OF_WORDS",
                  "AMD_SILENCE_THRESHOLD", "AMD_MAXIMUM_WORD_LENGTH")  # AMD()'s arguments, in its order


@dataclass(frozen=True)
class DialplanVariable:
    name: str  # exact name, or a prefix ending in `*` (SURVEY_*)
    owner: Owner
    kind: Kind
    what: str

    def matches(self, name: str) -> bool:
        # Asterisk's names are case-sensitive; `_X` and `__X` set X (inherited by the channels it creates).
        plain = name.lstrip("_")
        if self.name.endswith("*"):
            return plain.startswith(self.name[:-1])
        return plain == self.name


VARIABLES: tuple[DialplanVariable, ...] = (
    # fed by data
    DialplanVariable("CONF_ROLE", "data", CONF_ROLE_KIND, "conference role; empty = participant"),
    DialplanVariable("ORDER_ID", "data", DIGITS, "order number the robot says digit by digit"),
    DialplanVariable("SIM_PRESS", "data", DIGITS, "lab only: the keys the simulated callee presses"),
    DialplanVariable("SIM_GREETING", "data", TOKEN, "lab only: the greeting the simulated callee answers with"),
    DialplanVariable("DTMF_DIGITS", "data", DIGITS, "from-dialer,dtmf: the digits to send"),
    DialplanVariable("ORDER_TEXT", "data", TEXT, "what was ordered (not read by the shipped dialplan)"),
    DialplanVariable("CUSTOMER", "data", TEXT, "the callee's name (not read by the shipped dialplan)"),
    # set by the dialer for the campaign
    DialplanVariable("ATTEMPT_ID", "dialer", TOKEN, "the attempt (also the Originate's ChannelId)"),
    DialplanVariable("CAMPAIGN", "dialer", TOKEN, "the campaign's name"),
    DialplanVariable("QUEUE", "destination", TOKEN, "the operators' queue (destination.queue, recall: the queue that missed)"),
    DialplanVariable("CONF_ROOM", "destination", TOKEN, "the ConfBridge room (destination.room)"),
    DialplanVariable("SURVEY_QUESTIONS", "script", DIGITS, "number of survey questions"),
    DialplanVariable("SURVEY_GREETING", "script", SOUND, "survey greeting prompt"),
    DialplanVariable("SURVEY_GOODBYE", "script", SOUND, "survey goodbye prompt"),
    DialplanVariable("SURVEY_*", "script", SOUND, "SURVEY_Q<n>: prompt of question n (every SURVEY_ name is the script's)"),
    DialplanVariable("CLIENT_NUMBER", "callback", NUMBER, "click-to-call: the client's number"),
    DialplanVariable("CLIENT_RING", "callback", DIGITS, "click-to-call: seconds the client's phone rings"),
    DialplanVariable("OPERATOR", "callback", NUMBER, "click-to-call: the operator's extension"),
    DialplanVariable("MISSED_AT", "recall", TEXT, "recall: when the call was missed (kept with the contact, not sent)"),
    DialplanVariable("MISSED_SOURCE", "recall", TOKEN, "recall: ami or cdr (kept with the contact, not sent)"),
    # set by the campaign's amd: section (autodialer/telephony/amd.py)
    *(DialplanVariable(n, "amd", DIGITS, "an AMD() parameter, milliseconds or a count") for n in AMD_PARAMETERS),
    DialplanVariable("AMD_MACHINE", "amd", AMD_MACHINE_KIND, "what to do when AMD says MACHINE"),
    DialplanVariable("AMD_NOTSURE", "amd", AMD_NOTSURE_KIND, "what to do when AMD says NOTSURE"),
    DialplanVariable("AMD_MESSAGE", "amd", SOUND, "the voicemail drop's prompt"),
    DialplanVariable("AMD_DROP_SILENCE", "amd", DIGITS, "ms of silence that end a greeting before the drop"),
    DialplanVariable("AMD_DROP_TIMEOUT", "amd", DIGITS, "s the drop waits at most for that silence"),
    DialplanVariable("AMD_BEEP_WAIT", "amd", DIGITS, "s the drop waits for a beep after the greeting (0: none)"),
    DialplanVariable("AMD_CONNECT_MS", "amd", DIGITS, "dialer-predictive after AMD: ms to reach an operator in, from AMD_CONNECT_FROM"),
    DialplanVariable("AMD_CONNECT_FROM", "amd", AMD_CONNECT_FROM_KIND, "where those ms start: the answer or the end of the greeting"),
    DialplanVariable("AMD_NEXT", "amd", TOKEN, "the campaign's destination context, after AMD"),
    DialplanVariable("AMD_NEXT_EXTEN", "amd", TOKEN, "the destination's extension"),
    DialplanVariable("AMD_NEXT_PRIORITY", "amd", DIGITS, "the destination's priority"),
    # set by the lab PBX itself (random mode: what the simulated callee does)
    DialplanVariable("SIM_RANDOM", "lab", Kind("enum", ("r", "2", "3", "4", "5")), "lab only: the callee drawn in random mode"),
    DialplanVariable("SIM_RING_MS", "lab", DIGITS, "lab only, random mode: how long the callee rings (ms)"),
    DialplanVariable("SIM_TALK_MS", "lab", DIGITS, "lab only, random mode: how long the callee talks (ms)"),
    # set by the dialplan itself
    *(DialplanVariable(n, "dialplan", TOKEN, "set by the dialplan")
      for n in ("KEY", "PROMPT", "REST", "RESULT", "Q", "ANSWERED", "SIM_OUTCOME", "SIM_DIGIT",
                "AMD_ACTION", "AMD_STARTED", "AMD_CONNECT_START", "AMD_ELAPSED", "QUEUE_WAIT")),
    # Asterisk's own
    *(DialplanVariable(n, "asterisk", TOKEN, "set by Asterisk")
      for n in ("EXTEN", "CONTEXT", "PRIORITY", "CHANNEL", "UNIQUEID", "HANGUPCAUSE", "DIALSTATUS", "QUEUESTATUS",
                "READSTATUS", "AMDSTATUS", "AMDCAUSE", "WAITSTATUS", "PLAYBACKSTATUS", "ARG1", "ARG2", "ARG3", "ARG4", "ARG5", "ARG6", "ARG7", "ARG8", "ARG9")),
)

OWNER_WORDS = {
    "dialer": "set by the dialer for every call",
    "destination": "set by the campaign's destination",
    "script": "set by the survey script",
    "callback": "set by click-to-call",
    "recall": "set by recall",
    "amd": "set by the campaign's amd: section",
    "dialplan": "set by the dialplan itself",
    "asterisk": "set by Asterisk",
    "lab": "set by the lab PBX",
}


def lookup(name: str) -> DialplanVariable | None:
    """The table's entry for `name` (exact names before prefixes), or None."""
    exact = [v for v in VARIABLES if not v.name.endswith("*") and v.matches(name)]
    if exact:
        return exact[0]
    return next((v for v in VARIABLES if v.matches(name)), None)


def default_kind(name: str) -> Kind:
    """The kind of `name` when nothing declares one: the table's, else text."""
    entry = lookup(name)
    return entry.kind if entry is not None else TEXT


def owned_by(name: str) -> str | None:
    """Why data may not set `name` (it is the campaign's, the dialplan's or Asterisk's), or None."""
    entry = lookup(name)
    if entry is None or entry.owner == "data":
        return None
    return OWNER_WORDS[entry.owner]


def refuse_owned(name: str) -> None:
    """ValueError if `name` is a variable data may not set (the message names it and its owner)."""
    why = owned_by(name)
    if why is not None:
        raise ValueError(f"{name} is {why}; data cannot override it (use another variable name)")
