"""Regulatory presets: calling windows, contact-frequency limits and abandonment rules that a law
or a regulator sets together. A campaign names one (`preset: ru-230fz`) and may only tighten it:
narrower windows, lower limits, a lower abandonment cap; a setting that loosens the preset is a
load error naming the field (Campaign._apply_preset). Sections a campaign leaves out come from
the preset. Windows are the callee's local time (autodialer.rules.windows), limits the callee's local
calendar across every campaign (autodialer.rules.frequency).

Sources (read them before relying on a preset: we encode the numeric rules, not legal advice):
"""

from __future__ import annotations

from autodialer.errors import ConfigError

PRESETS: dict[str, dict] = {
    # Federal Law of the Russian Federation No. 230-FZ of 03.07.2016 "On the protection of the
    # rights and legitimate interests of individuals in the recovery of overdue debts", art. 7:
    # part 3 p.1: no calls from 22:00 to 08:00 on working days nor from 20:00 to 09:00 on weekends
    # and non-working public holidays, local time where the debtor lives;
    # part 3 p.3 (a)-(c): by phone at most once a day, twice a week, eight times a month.
    # Holidays: the Labour Code art. 112 and the government's yearly day-off transfers: the
    # official production calendar for 2026 (Government Decree of 24.09.2025 No. 1466) and 2027
    # (the decree on the transfer of days off in 2027), kept as data with their sources in
    # autodialer/rules/calendars.py: a day off (9 January 2026, Monday 22 February 2027) has the
    # weekend window 09-20, a working Saturday (20 February 2027) the working days' 08-22. Other
    # years: the `holidays` package's days off (it has no working Saturdays: such a Saturday
    # keeps the weekend window, the stricter one).
    "ru-230fz": {
        "windows": {
            "windows": [{"days": "mon-fri", "start": "08:00", "end": "22:00"},
                        {"days": "sat-sun", "start": "09:00", "end": "20:00"}],
            "holidays": {"calendar": "RU", "start": "09:00", "end": "20:00"},
        },
        "limits": {"per_day": 1, "per_week": 2, "per_month": 8},
    },
    # US: the FCC's TCPA rules, 47 CFR 64.1200 ((c)(1): no calls before 8 a.m. or after 9 p.m.
    # local time at the called party's location; (a)(7): abandoned calls at most 3% of calls
    # answered by a live person per calling campaign over a 30-day period, a recorded message
    # within 2 s of the called person's completed greeting; (a)(6): ring 15 s or four rings,
    # MIN_RING_SECONDS, always), and the FTC's Telemarketing Sales Rule, 16 CFR 310.4(b)(4)
    # and (c), which say the same. The message is the dialplan's (dialer-abandoned). The 2 s
    # run from the end of the greeting: (a)(7) counts them from the called person's completed
    # greeting, and the TSR, 310.4(b)(4)(i), from the completed greeting of the person
    # answering: pacing.connect_from greeting_end.
    "us-tcpa": {
        "windows": {"windows": [{"days": "daily", "start": "08:00", "end": "21:00"}]},
        "pacing": {"abandon_cap": 0.03, "window": "30d", "connect_within": "2s", "connect_from": "greeting_end"},
    },
    # UK: Ofcom, "Revised statement of policy on the persistent misuse of an electronic
    # communications network or service" (2016), its annex on abandoned and silent calls:
    # abandoned calls at most 3% of live calls per campaign per 24 hours; an information
    # message within 2 s; a number that got an abandoned call is not called again within 72
    # hours unless a live operator is guaranteed (across campaigns: limits.after_abandoned;
    # within one, the retry policy's 72 h for ABANDONED, always). Ofcom sets no calling hours:
    # the campaign's windows stand (default 09-21 weekdays, 10-20 weekends). An abandoned call
    # there is one not connected to a live operator within 2 s of the called person having
    # completed their greeting (the annex's definition): pacing.connect_from greeting_end.
    "uk-ofcom": {
        "pacing": {"abandon_cap": 0.03, "window": "24h", "connect_within": "2s", "connect_from": "greeting_end"},
        "limits": {"after_abandoned": "72h"},
    },
    # Florida Telephone Solicitation Act, Fla. Stat. 501.059(8) (as amended by SB 1120, 2021):
    # no solicitation calls before 8 a.m. or after 8 p.m. local time at
    # the called person's location; at most 3 calls from the same person to the same number on
    # the same subject in a 24-hour period (per_24h: rolling, so two evenings cannot add up to
    # 6; per_day 3 as well). The TCPA applies in Florida too: its abandonment rules are kept
    # (2 s from the completed greeting, as us-tcpa).
    "us-florida": {
        "windows": {"windows": [{"days": "daily", "start": "08:00", "end": "20:00"}]},
        "limits": {"per_24h": 3, "per_day": 3},
        "pacing": {"abandon_cap": 0.03, "window": "30d", "connect_within": "2s", "connect_from": "greeting_end"},
    },
}


def preset(name: str) -> dict:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"preset: {name!r} is not a preset (one of {', '.join(sorted(PRESETS))})") from None
