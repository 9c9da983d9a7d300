"""The compliance report of a campaign: did the rules hold? Per callee-local day, from the view
`compliance_daily` (migration 0007) and checked again here from the attempts themselves:

- calls outside the window in callee time (must be 0): every counted attempt's start is evaluated
  again against the windows of the run that made it (runs.settings; else the campaign's) in
  every zone it honoured (not the flag the claim wrote: the view's `outside_window` and this
  recount must agree);
- the highest calls per number per day / week / month (across all campaigns, the callee's
  calendar) against the campaign's limits;
- abandoned over live-answered over the regulation's window (pacing.window) against the cap,
  as the view abandonment_daily counts them (migration 0011; read here through compliance_daily,
  so the report and the analysts' view are one figure): per campaign-local day, 24 h (Ofcom) the
  highest rolling 24 h up to a live answer that day, 30 days (TCPA) the 30 days ending that day;
  another window: the calendar days it spans, summed. MACHINE hang-ups count as
  amd.false_machine_rate of an abandoned live call (the people AMD hung up on), as in pacing;
- calls to numbers on a do-not-call list when called (must be 0);
- the zone source of the numbers called (registry, area_code, phonenumbers, country, or the
  campaign's own zone as the fallback).

`autodialer compliance CAMPAIGN [--from --to]` prints it; the campaign run publishes the same
figures as a Prefect artifact (flows/dashboard.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from autodialer.rules.frequency import ContactLimits
from autodialer.store import compliance as stored
from autodialer.zones import parse_stored

UTC = timezone.utc
ZONE_COLUMNS = ("zone_registry", "zone_area_code", "zone_phonenumbers", "zone_country", "zone_campaign_fallback")


@dataclass
class DayFigures:
    day: str
    calls: int
    outside_window: int  # recounted from the attempts and the campaign's windows
    outside_window_recorded: int  # what the claims recorded (the view)
    window_unknown: int  # attempts from before the claim recorded the callee (no zones kept)
    dnc_calls: int
    numbers: int
    max_per_number: dict[str, int]  # day / week / month
    live_answered: int
    abandoned: int
    live_answered_window: int  # over the regulation's window ending this day
    abandoned_window: int
    zone_sources: dict[str, int]
    machine_hangups_window: int = 0  # MACHINE hang-ups (AMD) over the window: people among them count
    false_machine_rate: float = 0.0  # the campaign's amd.false_machine_rate (autodialer/telephony/amd.py)
    machine_hangups: int = 0  # the day's

    @property
    def abandoned_weighted(self) -> float:
        return self.abandoned_window + self.false_machine_rate * self.machine_hangups_window

    @property
    def live_weighted(self) -> float:
        return self.live_answered_window + self.false_machine_rate * self.machine_hangups_window

    @property
    def abandon_rate(self) -> float:
        return self.abandoned_weighted / self.live_weighted if self.live_weighted else 0.0


@dataclass
class ComplianceReport:
    campaign: str
    start: date
    end: date
    limits: ContactLimits
    abandon_cap: float
    abandon_window_days: int
    days: list[DayFigures] = field(default_factory=list)
    abandon_window: str = ""  # how the window is counted, for people ("rolling 24 h", "30 days")

    def violations(self) -> list[str]:
        """Each rule broken, as a line naming the day and the figure (empty: all held)."""
        out = []
        for d in self.days:
            if d.outside_window or d.outside_window_recorded:
                out.append(f"{d.day}: {max(d.outside_window, d.outside_window_recorded)} call(s) outside the window")
            if d.dnc_calls:
                out.append(f"{d.day}: {d.dnc_calls} call(s) to numbers on a do-not-call list")
            for period, n in d.max_per_number.items():
                cap = getattr(self.limits, f"per_{period}")
                if cap is not None and n > cap:
                    out.append(f"{d.day}: a number called {n} times in its {period} (limit {cap})")
            if d.live_weighted and d.abandon_rate > self.abandon_cap:
                out.append(f"{d.day}: abandoned {_n(d.abandoned_weighted)}/{_n(d.live_weighted)} = {d.abandon_rate:.1%} "
                           f"over {self.abandon_window} (cap {self.abandon_cap:.0%})")
        return out

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign, "from": self.start.isoformat(), "to": self.end.isoformat(),
            "limits": self.limits.model_dump(exclude_none=True), "abandon_cap": self.abandon_cap,
            "abandon_window_days": self.abandon_window_days, "abandon_window": self.abandon_window,
            "days": [{**{k: v for k, v in d.__dict__.items()}, "abandon_rate": round(d.abandon_rate, 4)} for d in self.days],
            "violations": self.violations(),
        }

    def table(self) -> list[dict]:
        """One row a day, for people (the CLI, the artifact's markdown)."""
        out = []
        for d in self.days:
            limit = lambda p: getattr(self.limits, f"per_{p}")  # noqa: E731
            out.append({
                "day": d.day, "calls": d.calls, "outside window": d.outside_window,
                "max/number day": f"{d.max_per_number['day']}/{limit('day') or '-'}",
                "week": f"{d.max_per_number['week']}/{limit('week') or '-'}",
                "month": f"{d.max_per_number['month']}/{limit('month') or '-'}",
                f"abandoned ({self.abandon_window})": f"{_n(d.abandoned_weighted)}/{_n(d.live_weighted)} "
                                                           f"= {d.abandon_rate:.1%} (cap {self.abandon_cap:.0%})",
                "DNC calls": d.dnc_calls,
                "zones registry/area/pn/country/fallback": "/".join(str(d.zone_sources[c]) for c in ZONE_COLUMNS),
            })
        return out

    def markdown(self) -> str:
        rows = self.table()
        head = (f"# Compliance: {self.campaign}, {self.start} to {self.end} (callee-local days; abandonment per "
                f"campaign-local day)\n\n"
                f"Limits per number (all campaigns): {self.limits.describe()}; abandonment cap "
                f"{self.abandon_cap:.0%} over {self.abandon_window}.\n\n")
        if not rows:
            return head + "No calls in this period.\n"
        cols = list(rows[0])
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
        broken = self.violations()
        tail = "\n\n**Violations:**\n" + "\n".join(f"- {v}" for v in broken) if broken else "\n\nAll rules held."
        return head + "\n".join(lines) + tail + "\n"


def _n(x: float) -> str:
    return f"{x:g}" if x == int(x) else f"{x:.1f}"


def _day(value) -> str:
    return value if isinstance(value, str) else value.isoformat()


# The regulations' windows that abandonment_daily counts (pacing.window in seconds): how the
# report names them, and the view's columns.
ROLLING = {24 * 3600.0: ("rolling 24 h", "24h"), 30 * 86400.0: ("30 days", "30d")}


def compliance_report(store, campaign, *, start: date, end: date, limits: ContactLimits | None = None) -> ComplianceReport:
    """The report of `campaign` (autodialer.campaigns.campaign.Campaign, its rules) over the callee-local
    days `start`..`end` inclusive. `limits`: the effective limits (default: the campaign's, with
    the global default)."""
    from autodialer.rules.frequency import global_limits
    from autodialer.store.types import to_utc

    if limits is None:
        limits = campaign.limits.tighter(global_limits())
    pacing = campaign.pacing
    window_days = max(1, math.ceil(pacing.window / 86400))
    cap = pacing.abandon_cap
    cid = store.campaign_id(campaign.name)
    first = (start - timedelta(days=window_days - 1)).isoformat()
    daily = stored.compliance_days(store, campaign.name, first, end.isoformat())
    attempts = stored.report_attempts(store, cid, start.isoformat(), end.isoformat())
    history = _number_history(store, {row[5] for row in attempts if row[2] and " " in row[2] or row[3] and " " in row[3]},
                              start, end)
    outside: dict[str, int] = {}
    peaks: dict[str, dict[str, int]] = {}  # per-number counts recounted in every zone's calendar
    windows_of: dict[str, object] = {}
    for local_day, started, zones, contact_zones, run_settings, number in attempts:
        started = _utc(started, to_utc)
        honoured = list(parse_stored(zones)) if zones else campaign.zones_to_honour(list(parse_stored(contact_zones)))
        if not _windows_then(campaign, run_settings, windows_of).is_open_all(started, honoured):
            outside[local_day] = outside.get(local_day, 0) + 1
        if number in history:
            day_peaks = peaks.setdefault(local_day, {"day": 0, "week": 0, "month": 0})
            for period, n in _calendar_counts(started, honoured, [_utc(h, to_utc) for h in history[number]]).items():
                day_peaks[period] = max(day_peaks[period], n)
    by_day = {_day(r["day"]): r for r in daily}
    rolling = ROLLING.get(pacing.window)
    label = rolling[0] if rolling else f"{window_days} calendar day(s)"
    report = ComplianceReport(campaign.name, start, end, limits, cap, window_days, abandon_window=label)
    for r in daily:
        day = _day(r["day"])
        if day < start.isoformat():
            continue
        if rolling:  # the view's figure (abandonment_daily)
            suffix = rolling[1]
            live_w, abandoned_w, machine_w = (int(r[f"{k}_{suffix}"] or 0) for k in ("live_answered", "abandoned", "machine_hangups"))
        else:  # another window: the calendar days it spans
            lo = (date.fromisoformat(day) - timedelta(days=window_days - 1)).isoformat()
            in_window = [v for k, v in by_day.items() if lo <= k <= day]
            live_w, abandoned_w, machine_w = (sum(int(v[k]) for v in in_window)
                                              for k in ("live_answered", "abandoned", "machine_hangups"))
        report.days.append(DayFigures(
            day=day, calls=int(r["calls"]), outside_window=outside.get(day, 0),
            outside_window_recorded=int(r["outside_window"] or 0), window_unknown=int(r["window_unknown"] or 0),
            dnc_calls=int(r["dnc_calls"] or 0), numbers=int(r["numbers"]),
            max_per_number={p: max(int(r[f"max_per_number_{p}"]), peaks.get(day, {}).get(p, 0)) for p in ("day", "week", "month")},
            live_answered=int(r["live_answered"]), abandoned=int(r["abandoned"]),
            live_answered_window=live_w, abandoned_window=abandoned_w, machine_hangups_window=machine_w,
            zone_sources={c: int(r[c] or 0) for c in ZONE_COLUMNS},
            false_machine_rate=campaign.amd.false_machine_rate if getattr(campaign, "amd", None) is not None else 0.0,
            machine_hangups=int(r["machine_hangups"] or 0),
        ))
    return report


def _number_history(store, numbers: set, start: date, end: date) -> dict[str, list]:
    """The counted attempts (reached the callee, every campaign) of `numbers` around the report's
    days: from the first of the month before `start` to two days after `end`, enough for any
    zone's calendar month and week."""
    lo = datetime.combine(start.replace(day=1) - timedelta(days=1), datetime.min.time()).replace(tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=2), datetime.min.time()).replace(tzinfo=UTC)
    return stored.reached_starts(store, numbers, lo - timedelta(days=31), hi)


def _calendar_counts(started: datetime, zones: list[str], history: list[datetime]) -> dict[str, int]:
    """The calls of a number in the callee-local day, ISO week and month of the call at `started`,
    the highest over every zone it honours (the claim holds a number not narrowed to one zone to
    its limits in every candidate's calendar; the view counts in the first zone's)."""
    from autodialer.rules.windows import usable_zone, zone

    best = {"day": 0, "week": 0, "month": 0}
    for name in zones:
        if not usable_zone(name):
            continue
        tz = zone(name)
        local = started.astimezone(tz).date()
        others = [h.astimezone(tz).date() for h in history]
        best["day"] = max(best["day"], sum(1 for d in others if d == local))
        best["week"] = max(best["week"], sum(1 for d in others if d.isocalendar()[:2] == local.isocalendar()[:2]))
        best["month"] = max(best["month"], sum(1 for d in others if (d.year, d.month) == (local.year, local.month)))
    return best


def _windows_then(campaign, run_settings, cache: dict):
    """The windows the call was made under: those of the run that made it (runs.settings, the
    campaign as that run read it), else the campaign's as given."""
    from autodialer.rules.windows import CallingWindows

    if isinstance(run_settings, str):
        import json

        run_settings = json.loads(run_settings)
    if not isinstance(run_settings, dict) or not isinstance(run_settings.get("windows"), dict):
        return campaign.windows
    key = repr(sorted(run_settings["windows"].items()))
    if key not in cache:
        try:
            cache[key] = CallingWindows.model_validate(run_settings["windows"])
        except ValueError:
            cache[key] = campaign.windows
    return cache[key]


def _utc(value, to_utc) -> datetime:
    if isinstance(value, str):
        from autodialer.store.types import UtcDateTime

        value = UtcDateTime().process_result_value(value, None)
    return to_utc(value, field="started_at")


def stored_campaign(store, name: str):
    """The campaign's rules as its last run (or import) stored them (campaigns.settings)."""
    from pydantic import ValidationError

    from autodialer.campaigns.campaign import Campaign
    from autodialer.errors import ConfigError

    settings = stored.stored_settings(store, name)
    if settings is stored.MISSING:
        raise ConfigError(f"no campaign named {name!r} in the outcome database")
    if not settings:
        raise ConfigError(f"campaign {name!r} has no stored settings (it never ran): pass --campaign-file")
    try:
        return Campaign.model_validate(settings)
    except ValidationError as exc:
        raise ConfigError(f"campaign {name!r}: its stored settings no longer load ({exc.error_count()} problem(s)): "
                          "pass --campaign-file") from None
