"""A campaign definition: `campaigns/<name>.yaml`, validated with errors that name the field.

Everything a campaign needs to run lives here: its list(s) and column mapping, schedule, calling
windows, retry policy, direction, destination, trunk, caller IDs and limits. Paths in the file
are relative to the file.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import List, Literal  # List: the field `list` shadows the builtin in the class body

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from autodialer.telephony import dialplan
from autodialer.telephony.amd import CONTEXT as AMD_CONTEXT, AmdSettings
from autodialer.rules.durations import parse_duration
from autodialer.errors import ConfigError, UnsafeValueError, first_problem, validation_problems
from autodialer.rules.frequency import ContactLimits
from autodialer.lists.mapping import ListMapping, ListSettings, resolve_kind
from autodialer.rules.number_policy import AllowedNumbers
from autodialer.rules.policy import RetryPolicy
from autodialer.telephony.safety import TOKEN, ChannelValue, Kind, KindName, check_dial_number, check_token
from autodialer.pacing.settings import PacingSettings
from autodialer.recall.settings import RecallSettings
from autodialer.kinds.survey import SurveyScript
from autodialer.telephony.fields import check_ring_timeout, checked_call_fields
from autodialer.rules.windows import CallingWindows, usable_zone, zone

KINDS = ("order_confirmation", "bot", "recall", "conference", "callback")
MIN_RING_SECONDS = 15.0  # FTC TSR: ring at least 15 s before giving up


DEFAULT_RUN_MINUTES = 55.0  # a run's length when neither the schedule's period nor the file bounds it
START_MARGIN_MINUTES = 1.0  # a run's start-up (lists, lease, orphans) and wind-down (flush, dashboard)


class Schedule(BaseModel):
    """When Prefect starts a run of the campaign: a cron in a time zone (the server's scheduler),
    and how long each run dials (`run_minutes`; calls in flight at its end go on to their
    max_call_duration). A run must end before the next one is due, or the deployment's
    one-at-a-time limit (CANCEL_NEW) cancels that one: Campaign checks it against the cron."""

    model_config = ConfigDict(extra="forbid")
    cron: str
    timezone: str = "UTC"
    run_minutes: float | None = Field(default=None, gt=0, le=24 * 60)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        from prefect.client.schemas.schedules import CronSchedule  # the server's own cron parser

        try:
            CronSchedule(cron=v)
        except ValueError as exc:
            raise ValueError(f"{v!r} is not a valid cron expression (e.g. '*/15 9-20 * * 1-5'): "
                             f"{_first_error(exc)}") from None
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        zone(v)
        return v

    def period_minutes(self) -> float:
        """The shortest time between two consecutive runs, in minutes, as Prefect's scheduler
        places them (its vendored croniter, wall times in the schedule's zone)."""
        return cron_period_minutes(self.cron, self.timezone)


@functools.lru_cache(maxsize=256)
def cron_period_minutes(cron: str, timezone: str) -> float:
    """Shortest gap between consecutive fires over a week and a day (every weekly pattern), or
    over at least three fires of a sparser cron (at most 400 days)."""
    from datetime import datetime, timedelta

    from prefect._vendor.croniter import croniter

    tz = zone(timezone)
    start = datetime(2027, 1, 4)  # a Monday
    it = croniter(cron, start)
    shortest, last, fires = None, None, 0
    while fires < 1000:
        wall = it.get_next(datetime)
        if wall - start > timedelta(days=400) or (wall - start > timedelta(days=8) and fires >= 3):
            break
        at = wall.replace(tzinfo=tz).timestamp()
        if last is not None and (shortest is None or at - last < shortest):
            shortest = at - last
        last, fires = at, fires + 1
    return (shortest or 366 * 86400) / 60


class DeploymentSettings(BaseModel):
    """Where the campaign's Prefect deployment runs (autodialer/campaigns/deploy.py: `autodialer deploy`)."""

    model_config = ConfigDict(extra="forbid")
    work_pool: str = "dialer"
    work_queue: str | None = None
    # The work pool's job variables for this deployment, e.g. {env: {AUTODIALER_LOG_LEVEL: INFO}}.
    job_variables: dict = Field(default_factory=dict)
    tags: List[str] = Field(default_factory=lambda: [])


class Destination(BaseModel):
    """Where the answered leg goes (Context/Exten/Priority of the Originate)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["robot", "queue", "conference", "context"]
    context: str | None = None
    exten: str = "s"
    priority: int = Field(default=1, ge=1)
    queue: str | None = None  # the queue for operators (type queue, and robot's "talk to an operator")
    room: str | None = None  # ConfBridge room (type conference)

    @model_validator(mode="after")
    def _fill(self):
        defaults = {"robot": "dialer-robot-order", "queue": "dialer-queue", "conference": "dialer-conference"}
        if self.context is None:
            if self.type == "context":
                raise ValueError("type 'context' needs a context")
            self.context = defaults[self.type]
        check_token(self.context, field="context")
        check_token(self.exten, field="exten")
        if self.type == "queue" and not self.queue:
            raise ValueError("type 'queue' needs a queue name")
        if self.type == "conference" and not self.room:
            raise ValueError("type 'conference' needs a room")
        for name in ("queue", "room"):  # sent as QUEUE / CONF_ROOM, read in application arguments
            if getattr(self, name) is not None:
                TOKEN.check(check_token(getattr(self, name), field=name), field=name)
        return self

    def variables(self) -> dict[str, str]:
        out = {}
        if self.queue:
            out["QUEUE"] = self.queue
        if self.room:
            out["CONF_ROOM"] = self.room
        return out


class StaticVariable(BaseModel):
    """A channel variable every call of the campaign carries: `NAME: value` (kind: the one
    autodialer/telephony/dialplan.py gives NAME, else token) or `NAME: {value: x, kind: digits | token |
    enum | text, values: [...]}`. A text value is sent as written: use it only where Asterisk
    does not parse it (README, "Writing your own contexts")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str
    kind: KindName | None = None
    values: List[str] | None = None
    default: str | None = None

    def spec(self) -> Kind:
        return Kind(self.kind or "token", tuple(self.values or ()), self.default)


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal[KINDS]  # type: ignore[valid-type]
    description: str = ""
    default_region: str = "RU"
    lists: List[Path] = Field(default_factory=lambda: [])
    list: ListMapping = Field(default_factory=ListMapping)
    exclusions: List[Path] = Field(default_factory=lambda: [])
    schedule: Schedule
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)
    # A regulatory preset (autodialer/rules/presets.py: ru-230fz, us-tcpa, uk-ofcom, us-florida) sets
    # windows, limits and abandonment rules together; the campaign may only tighten them.
    preset: str | None = None
    windows: CallingWindows = Field(default_factory=CallingWindows)
    # How often one number may be called across every campaign, in the callee's local calendar
    # (autodialer/rules/frequency.py); AUTODIALER_CONTACT_LIMITS is the global default, the stricter wins.
    limits: ContactLimits = Field(default_factory=ContactLimits)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    direction: Literal["client_first", "operator_first"] = "client_first"
    destination: Destination
    outbound_context: str = "dialer-outbound"
    trunk: str = "default"
    caller_ids: List[str] = Field(default_factory=lambda: [])
    max_concurrent_calls: int = Field(default=10, ge=1, le=2000)
    max_originates_per_second: float = Field(default=5.0, gt=0, le=1000)
    ring_timeout: float = 30.0
    # A call is started only if it can ring this long before the callee's calling window closes
    # (checked when contacts are picked and again in the call slot, right before the claim).
    min_ring: float = MIN_RING_SECONDS
    max_call_duration: float = 900.0
    variables: dict[str, StaticVariable] = Field(default_factory=dict)  # static channel variables for every call
    script: SurveyScript | None = None  # the survey robot's prompts and questions (kind bot, autodialer/kinds/survey.py)
    recall: RecallSettings | None = None  # where missed calls come from and when they are called back (kind recall)
    # Numbers that come from no list (recall's caller IDs, click-to-call requests) are dialed only
    # if their type and region are allowed (autodialer/rules/number_policy.py); default: default_region,
    # mobile and fixed line.
    allowed_numbers: AllowedNumbers = Field(default_factory=AllowedNumbers)
    # How fast to dial (autodialer/pacing/settings.py). Absent: `fixed`, with max_concurrent_calls
    # and max_originates_per_second. Present: what it leaves out of those two comes from them.
    pacing: PacingSettings | None = None
    # Mask callees' numbers and names in everything sent to Prefect (run and task names, state
    # messages, artifacts, forwarded logs), for a Prefect database not cleared for personal data.
    # The outcome database keeps them in full. (autodialer/campaigns/privacy.py, flows/naming.py)
    mask_pii: bool = False
    # Answering-machine detection (autodialer/telephony/amd.py): present = on, AMD() runs on every answered
    # call before the destination, with an action per verdict.
    amd: AmdSettings | None = None
    # Batched mode: one Prefect task run per this many contacts (a table artifact of their
    # outcomes) instead of one per contact, for campaigns dialing faster than the Prefect server
    # records task runs (README "Scale of the dashboard"). None: one task run per contact.
    task_run_batch: int | None = Field(default=None, ge=2, le=10000)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        check_token(v, field="name")
        return TOKEN.check(v, field="name")  # sent as CAMPAIGN

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        return ListSettings._region(v)  # one rule for regions: the list settings'

    @field_validator("ring_timeout", "min_ring", "max_call_duration", mode="before")
    @classmethod
    def _duration(cls, v):
        return parse_duration(v)

    @field_validator("ring_timeout")
    @classmethod
    def _ring(cls, v: float) -> float:
        if v < MIN_RING_SECONDS:
            raise ValueError(f"ring for at least {MIN_RING_SECONDS:g} s before giving up (FTC TSR); got {v:g}")
        return check_ring_timeout(v)  # the engine's own rule: what loads, dials

    @field_validator("min_ring")
    @classmethod
    def _min_ring(cls, v: float, info) -> float:
        if not v > 0:
            raise ValueError(f"a call needs a positive minimum ring before the window closes; got {v:g}")
        ring = info.data.get("ring_timeout")
        if ring is not None and v > ring:
            raise ValueError(f"{v:g} s is longer than the ring timeout ({ring:g} s): no call could ring that long")
        return v

    @field_validator("max_call_duration")
    @classmethod
    def _max_call(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(f"a call needs a positive maximum duration; got {v:g}")
        return v

    @field_validator("outbound_context", "trunk")
    @classmethod
    def _tokens(cls, v: str, info) -> str:
        return check_token(v, field=info.field_name)

    @field_validator("caller_ids")
    @classmethod
    def _caller_ids(cls, v: List[str]) -> List[str]:
        return [check_dial_number(str(n), field="caller_ids") for n in v]

    @field_validator("variables", mode="before")
    @classmethod
    def _variables(cls, v) -> dict[str, StaticVariable]:
        if not isinstance(v, dict):
            raise ValueError("a mapping of NAME: value (or NAME: {value, kind})")
        out = {}
        for name, decl in v.items():
            name = str(name)
            try:
                check_token(name, field="variable name")
                dialplan.refuse_owned(name)
                if isinstance(decl, StaticVariable):
                    decl = decl.model_dump(exclude_none=True)
                var = StaticVariable.model_validate(decl if isinstance(decl, dict) else {"value": str(decl)})
                kind = resolve_kind(name, var.kind, var.values, var.default, fallback=TOKEN)
                value = kind.check(var.value, field="value")
            except (UnsafeValueError, ValueError) as exc:
                raise ValueError(f"variable {name}: {_first_error(exc)}") from None
            out[name] = StaticVariable(value=value, kind=kind.name, values=list(kind.values) or None, default=kind.default)
        return out

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        """A preset's sections fill what the campaign leaves out (a field at a time for limits,
        pacing and the holiday window); _preset_floor then refuses what loosens it."""
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        from autodialer.rules.presets import PRESETS

        name = data["preset"]
        if name not in PRESETS:
            raise ValueError(f"preset: {name!r} is not a preset (one of {', '.join(sorted(PRESETS))})")
        p, data = PRESETS[name], dict(data)
        if "windows" in p:
            if data.get("windows") is None:
                data["windows"] = p["windows"]
            elif isinstance(data["windows"], dict) and "holidays" not in data["windows"] and "holidays" in p["windows"]:
                data["windows"] = {**data["windows"], "holidays": p["windows"]["holidays"]}
        for section in ("limits", "pacing"):
            if section in p:
                given = data.get(section)
                data[section] = {**p[section], **given} if isinstance(given, dict) else (given if given is not None else dict(p[section]))
        return data

    @model_validator(mode="after")
    def _preset_floor(self):
        if self.preset is None:
            return self
        from autodialer.rules.presets import PRESETS

        p, problems = PRESETS[self.preset], []
        if "windows" in p:
            problems += [f"windows: {w}" for w in self.windows.within(CallingWindows.model_validate(p["windows"]))]
        if "limits" in p:
            problems += [f"limits.{w}" for w in self.limits.loosened(ContactLimits.model_validate(p["limits"]))]
        if "pacing" in p and self.pacing is not None:
            floor = PacingSettings.model_validate(p["pacing"])
            if self.pacing.abandon_cap > floor.abandon_cap:
                problems.append(f"pacing.abandon_cap: {self.pacing.abandon_cap:g} is above {floor.abandon_cap:g}")
            if self.pacing.window != floor.window:
                problems.append(f"pacing.window: the regulation measures over {_human(floor.window)}, not {_human(self.pacing.window)}")
            if self.pacing.connect_within > floor.connect_within:
                problems.append(f"pacing.connect_within: {self.pacing.connect_within:g} s is above {floor.connect_within:g} s")
            if floor.connect_from == "answer" and self.pacing.connect_from != "answer":
                problems.append("pacing.connect_from: the regulation counts from the answer, not the end of the greeting")
        if problems:
            raise ValueError(f"preset {self.preset} may only be tightened: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _script(self):
        base = {"max_channels": self.max_concurrent_calls, "max_originates_per_second": self.max_originates_per_second,
                "outbound_context": self.outbound_context}
        if self.pacing is None:
            self.pacing = PacingSettings(mode="fixed", **base)
        else:
            given = self.pacing.model_fields_set
            self.pacing = self.pacing.model_copy(update={k: v for k, v in base.items() if k not in given})
            self.max_concurrent_calls = self.pacing.max_channels
            self.max_originates_per_second = self.pacing.max_originates_per_second
        if self.script is not None and self.kind != "bot":
            raise ValueError(f"script: only a 'bot' campaign has a survey script (kind is {self.kind!r})")
        if self.recall is not None and self.kind != "recall":
            raise ValueError(f"recall: only a 'recall' campaign has recall settings (kind is {self.kind!r})")
        if self.kind == "recall" and self.recall is None:
            self.recall = RecallSettings()
        if self.amd is not None and (self.kind == "callback" or self.direction == "operator_first"):
            raise ValueError("amd: the operator is called first here (click-to-call, operator_first); "
                             "there is no answered callee to run AMD on before the destination")
        self.check_call_fields()
        self.check_run_length()
        return self

    def check_run_length(self) -> None:
        """A scheduled run (run_minutes, then its last calls up to max_call_duration, then the
        wind-down) ends before the next run is due: a deployment never routinely cancels its own
        runs. Click-to-call has no schedule."""
        if self.kind == "callback":
            return
        period = self.schedule.period_minutes()
        room = period - self.max_call_duration / 60 - START_MARGIN_MINUTES
        if self.schedule.run_minutes is None:
            if room <= 0:
                raise ValueError(f"schedule: runs every {period:g} min cannot fit a call of max_call_duration "
                                 f"{self.max_call_duration / 60:g} min: space the cron out or shorten max_call_duration")
        elif self.schedule.run_minutes > room:
            raise ValueError(f"schedule.run_minutes: {self.schedule.run_minutes:g} min, plus a last call of up to "
                             f"{self.max_call_duration / 60:g} min (max_call_duration) and {START_MARGIN_MINUTES:g} min "
                             f"to wind down, overruns the next run, due {period:g} min later ({self.schedule.cron!r}): "
                             f"at most {max(room, 0):g}")

    @property
    def run_minutes(self) -> float:
        """How long a scheduled run dials: schedule.run_minutes, else as long as the schedule's
        period leaves (at most DEFAULT_RUN_MINUTES)."""
        if self.schedule.run_minutes is not None:
            return self.schedule.run_minutes
        if self.kind == "callback":
            return DEFAULT_RUN_MINUTES
        room = self.schedule.period_minutes() - self.max_call_duration / 60 - START_MARGIN_MINUTES
        return float(min(DEFAULT_RUN_MINUTES, int(room)))

    def check_call_fields(self) -> None:
        """Check what the campaign puts in every Originate with the engine's own checks
        (autodialer.telephony.fields), on a probe number: a setting the engine would refuse is a
        load error naming the field, never an outcome of every contact (INVALID_NUMBER)."""
        context, exten, priority = self.dial_target()
        for caller_id in self.caller_ids or [None]:
            checked_call_fields(
                "100", outbound_context=self.outbound_context, context=context,
                exten=exten, priority=priority, caller_id=caller_id,
                variables=self.call_variables(), attempt_id="probe",
            )
        check_ring_timeout(self.ring_timeout)

    # -- derived ---------------------------------------------------------------------------

    def dial_target(self) -> tuple[str, str, int]:
        """Where the answered call goes (the Originate's Context, Exten, Priority): the destination,
        or [dialer-amd] first when AMD is on (it goes on to the destination for a person)."""
        if self.amd is not None:
            return AMD_CONTEXT, "s", 1
        return self.destination.context, self.destination.exten, self.destination.priority

    @property
    def source_dir(self) -> Path:
        return getattr(self, "_source_dir", Path("."))

    def list_paths(self) -> List[Path]:
        return [p if p.is_absolute() else self.source_dir / p for p in self.lists]

    def exclusion_paths(self) -> List[Path]:
        return [p if p.is_absolute() else self.source_dir / p for p in self.exclusions]

    def list_settings(self) -> ListSettings:
        """What the list ingest needs, with exclusion paths resolved."""
        return ListSettings(name=self.name, kind=self.kind, default_region=self.default_region,
                            list=self.list, exclusions=self.exclusion_paths())

    def callee_zones(self, contact) -> List[str]:
        """The time zones whose calling window must be open to call `contact`: the zones stored
        with it (autodialer.zones: one where the number places the callee, every candidate where
        it cannot be narrowed, so nobody is called at night because we guessed a zone). None
        known, or none usable (`Etc/Unknown`): the campaign's time zone, so such a contact is
        called inside the campaign's own window only."""
        return self.zones_to_honour(list(getattr(contact, "timezones", None) or []))

    def zones_to_honour(self, candidates: List[str]) -> List[str]:
        """See callee_zones: from a number's zones to the zones whose window must be open. Every
        candidate counts; the campaign's own zone stands in only when there is none. A zone this
        machine cannot use (phonenumbers' `Etc/Unknown`, a name the tz database lacks) says
        nothing of where the callee is: it is dropped, never fatal to the run."""
        usable = [z for z in candidates if usable_zone(z)]
        return usable if usable else [self.schedule.timezone]

    def call_variables(self, contact_variables: dict | None = None, attempt_id: str | None = None) -> dict[str, str]:
        """The channel variables of one call, each carrying its kind (ChannelValue) for the check
        before sending: the static `variables:`, the contact's list variables that are sent
        (every kind but text, unless `send: true`), then what the campaign owns, which nothing
        overrides: the destination's QUEUE / CONF_ROOM, the survey script's SURVEY_*, recall's
        QUEUE (the queue that missed the call, one of recall.queues), ATTEMPT_ID, CAMPAIGN.
        Without a contact: what every call of the campaign carries (check_call_fields)."""
        contact_variables = contact_variables or {}
        out: dict[str, str] = {name: ChannelValue(v.value, v.spec()) for name, v in self.variables.items()}
        for name, var in self.list.variables.items():
            if var.sent and name in contact_variables:
                out[name] = ChannelValue(str(contact_variables[name]), var.spec())
        out.update(self.destination.variables())
        if self.script is not None:
            out.update(self.script.variables())
        if self.kind == "recall" and contact_variables.get("QUEUE"):
            out["QUEUE"] = str(contact_variables["QUEUE"])
        if self.amd is not None:
            out.update(self.amd.variables(self.destination.context, self.destination.exten, self.destination.priority,
                                          connect_within=self.pacing.connect_within if self.pacing else 2.0,
                                          connect_from=self.pacing.connect_from if self.pacing else "answer"))
        if attempt_id is not None:
            out["ATTEMPT_ID"] = attempt_id
        out["CAMPAIGN"] = self.name
        return out

    def static_variables(self) -> dict[str, str]:
        """The `variables:` section as sent (each value carrying its kind)."""
        return {name: ChannelValue(v.value, v.spec()) for name, v in self.variables.items()}

    def caller_id_cycle(self):
        """Caller IDs rotated call by call (None when the campaign sets none)."""
        return itertools.cycle(self.caller_ids) if self.caller_ids else itertools.repeat(None)

    def settings_snapshot(self) -> dict:
        return self.model_dump(mode="json")


class OneOffCampaign(Campaign):
    """A campaign started once, from the Prefect UI's form (flows/campaign.new_campaign_flow):
    no cron to give (its schedule only lends its time zone, the fallback for numbers whose zone is
    unknown) and no deployment of its own."""

    schedule: Schedule = Field(
        default_factory=lambda: Schedule(cron="0 0 1 1 *", timezone="Europe/Moscow"),
        description="Only the time zone matters here: the zone of callees whose number says none.")
    deployment: SkipJsonSchema[DeploymentSettings] = Field(default_factory=DeploymentSettings)


def _human(seconds: float) -> str:
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g} days"
    return f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds:g} s"


_first_error = first_problem


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the campaign file:"]
    lines += [f"  {problem}" for problem in validation_problems(exc, top_level="(top level)")]
    return "\n".join(lines)


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file. Any problem is a ConfigError naming file and field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: campaign file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a campaign file is a mapping of fields (name, kind, list, schedule, ...)")
    try:
        campaign = Campaign.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
    object.__setattr__(campaign, "_source_dir", path.resolve().parent)
    return campaign


def campaign_name(ref: str) -> str:
    """What `status` and `export` accept: a campaign file (loaded as `run` loads it) or a name."""
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        return load_campaign(path).name
    return ref
