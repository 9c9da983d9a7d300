"""The survey robot's script: prompts and questions of a `bot` campaign, validated, turned into
the channel variables `dialer-robot-survey` reads, and its answers read back from the call's
UserEvents.

    script:
      greeting: survey/hello            # prompts are sound file names (letters, digits, _ - / .)
      goodbye: survey/thanks
      questions:
        - {name: satisfaction, prompt: survey/q-satisfaction, valid_keys: "12345", labels: {"1": very bad, "5": very good}}
        - {name: recommend, prompt: survey/q-recommend, valid_keys: "12", labels: {"1": "yes", "2": "no"}}

The dialplan reports each answer with `UserEvent(DialerAnswer, AttemptId, Question: <n>, Key)`
and the end with `DialerResult` (Result completed / partial / no_input). The contact's result is
the answer string `q1=3;q2=1` (a question not answered, or answered with a key it does not
accept, is empty: `q1=3;q2=`), or `no_input` when nothing was answered.
"""

from __future__ import annotations

import re
from typing import List

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autodialer.errors import UnsafeValueError
from autodialer.telephony.safety import SOUND

MAX_QUESTIONS = 9
_KEYS = re.compile(r"[0-9*#]{1,12}")


def _prompt(value: str, field: str) -> str:
    """A prompt is sent as a `sound` variable (SURVEY_Q<n>...): the kind the dialplan may put in
    Read()'s and Playback()'s arguments (autodialer/telephony/dialplan.py)."""
    try:
        if not value.strip():
            raise UnsafeValueError("empty")
        return SOUND.check(value, field=field)
    except UnsafeValueError:
        raise ValueError(f"{field}: {value!r} is not a sound file name (letters, digits, _ - / .)") from None


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str
    name: str | None = None  # what analysts call it; default q<n>
    valid_keys: str = "0123456789"  # keys that count as an answer (not `keys`: that makes the model look like a mapping to Prefect)
    labels: dict[str, str] = Field(default_factory=dict)  # key -> meaning, for reports

    @field_validator("prompt")
    @classmethod
    def _p(cls, v: str) -> str:
        return _prompt(v, "prompt")

    @field_validator("valid_keys")
    @classmethod
    def _k(cls, v: str) -> str:
        v = str(v)
        if not _KEYS.fullmatch(v):
            raise ValueError(f"valid_keys: {v!r} must be phone keys 0-9 * #")
        return v

    @model_validator(mode="after")
    def _labels(self):
        for key in self.labels:
            if key not in self.valid_keys:
                raise ValueError(f"labels: key {key!r} is not one of the valid keys {self.valid_keys!r}")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", self.name):
            raise ValueError(f"name: {self.name!r} must be letters, digits, _ or -")
        return self


class SurveyScript(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str | None = None
    goodbye: str | None = None
    questions: List[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @field_validator("greeting", "goodbye")
    @classmethod
    def _p(cls, v: str | None, info) -> str | None:
        return None if v is None else _prompt(v, info.field_name)

    @model_validator(mode="after")
    def _names(self):
        names = self.names()
        if len(set(names)) != len(names):
            raise ValueError(f"questions: names must differ, got {names}")
        return self

    def names(self) -> list[str]:
        return [q.name or f"q{i}" for i, q in enumerate(self.questions, 1)]

    def variables(self) -> dict[str, str]:
        """The channel variables of dialer-robot-survey."""
        out = {"SURVEY_QUESTIONS": str(len(self.questions)), "SURVEY_GREETING": self.greeting or "",
               "SURVEY_GOODBYE": self.goodbye or ""}
        for i, q in enumerate(self.questions, 1):
            out[f"SURVEY_Q{i}"] = q.prompt
        return out

    def keys_pressed(self, events) -> dict[int, str]:
        """{question number: key} from the DialerAnswer UserEvents of one call (the last report
        of a question wins; keys a question does not accept are dropped)."""
        out: dict[int, str] = {}
        for e in events or ():
            if e.get("UserEvent") != "DialerAnswer":
                continue
            try:
                n = int(e.get("Question") or "")
            except ValueError:
                continue
            key = e.get("Key") or ""
            if 1 <= n <= len(self.questions):
                if key and key in self.questions[n - 1].valid_keys:
                    out[n] = key
                else:
                    out.pop(n, None)
        return out

    def result_string(self, events) -> str:
        """`q1=3;q2=1` (unanswered: `q2=`), or `no_input` when no question was answered."""
        keys = self.keys_pressed(events)
        if not keys:
            return "no_input"
        return ";".join(f"q{i}={keys.get(i, '')}" for i in range(1, len(self.questions) + 1))

    def answers(self, events) -> list[dict]:
        """One row per question: number, name, key (None if unanswered), label."""
        keys = self.keys_pressed(events)
        rows = []
        for i, (q, name) in enumerate(zip(self.questions, self.names()), 1):
            key = keys.get(i)
            rows.append({"question": i, "name": name, "key": key, "label": q.labels.get(key) if key else None})
        return rows


def survey_answers(store, campaign, campaign_name: str | None = None) -> list[dict]:
    """Every answered call of a survey campaign, one row per question: phone, attempt_id,
    answered_at, question, name, key, label. (`campaign`: the loaded Campaign with its script.)"""
    script = campaign.script
    if script is None:
        raise ValueError(f"campaign {campaign.name!r} has no script")
    out = []
    for r in store.answered_attempts(campaign_name or campaign.name):
        for row in script.answers(r.events):
            out.append({"phone": r.phone, "attempt_id": r.attempt_id, "answered_at": r.answered_at, **row})
    return out
