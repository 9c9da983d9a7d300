"""The compliance report and the view compliance_daily against a hand-built attempts table (on
PostgreSQL and SQLite): every figure worked out by hand below; the views' definitions of what
counts (reached the callee, live-answered, abandoned) against autodialer.telephony.outcomes; the README's
example query runs."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from autodialer.campaigns.campaign import Campaign
from autodialer.reports.compliance import compliance_report
from autodialer.telephony.outcomes import ABANDONED_STATUSES, LIVE_ANSWERED_STATUSES, CallStatus, FailureKind, reached_callee
from autodialer.store import Store
from autodialer.store import schema as t

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[1]
X, Y, Z, W = "+79060000001", "+74232000001", "+15550100001", "+79060000009"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _campaign(name: str) -> Campaign:
    return Campaign.model_validate({"name": name, "kind": "bot", "preset": "ru-230fz", "schedule": {"cron": "0 9 * * *"},
                                    "destination": {"type": "robot"}})


def _contact(conn, cid, phone, zones, source, n):
    return conn.execute(t.contacts.insert().values(
        campaign_id=cid, phone=phone, alternates=[], timezone=zones, timezone_source=source, variables={},
        upload_id=0, row_number=n, created_at=at(2027, 1, 1)).returning(t.contacts.c.id)).scalar_one()


def _attempt(conn, aid, contact, cid, number, started, status, *, zones=None, local=None, outside=0, failure=None,
             answered=None):
    conn.execute(t.attempts.insert().values(
        attempt_id=aid, contact_id=contact, campaign_id=cid, number=number, started_at=started, status=status,
        failure=failure, answered_at=answered, callee_zones=zones, local_start=local, outside_window=outside))


def _hand_built(db_url) -> Store:
    """Campaign `audit` (ru-230fz: one call a day, two a week, eight a month; 08-22 weekdays) and
    `other`, sharing X, in the first week of March 2027 (Monday the 1st):

    X (Moscow, registry)       Mon 07:30Z audit ANSWERED (10:30 local); Mon 12:00Z other BUSY;
                               Tue 06:00Z audit ABANDONED (09:00); Tue 08:00Z audit NOT_SENT (not counted)
    Y (Vladivostok, area code) Mon 20:30Z audit NO_ANSWER: Tue 06:30 local, before 08:00: outside
    Z (no zone: the campaign's UTC) Tue 10:00Z audit ANSWERED; on the global DNC since February
    W (Moscow)                 Tue 09:00Z audit BUSY; put on the DNC list only afterwards
    """
    store = Store(db_url)
    store.migrate()
    audit = store.ensure_campaign("audit", kind="bot", settings=_campaign("audit").settings_snapshot())
    other = store.ensure_campaign("other", kind="bot")
    msk, vvo = "Europe/Moscow", "Asia/Vladivostok"
    with store.engine.begin() as conn:
        x = _contact(conn, audit, X, msk, "registry", 1)
        y = _contact(conn, audit, Y, vvo, "area_code", 2)
        z = _contact(conn, audit, Z, None, None, 3)
        w = _contact(conn, audit, W, msk, "registry", 4)
        x2 = _contact(conn, other, X, msk, "registry", 1)
        _attempt(conn, "x1", x, audit, X, at(2027, 3, 1, 7, 30), "ANSWERED", zones=msk, local="2027-03-01 10:30:00",
                 answered=at(2027, 3, 1, 7, 30, 10))
        _attempt(conn, "x2", x2, other, X, at(2027, 3, 1, 12, 0), "BUSY", zones=msk, local="2027-03-01 15:00:00")
        _attempt(conn, "x3", x, audit, X, at(2027, 3, 2, 6, 0), "ABANDONED", zones=msk, local="2027-03-02 09:00:00",
                 answered=at(2027, 3, 2, 6, 0, 8))
        _attempt(conn, "x4", x, audit, X, at(2027, 3, 2, 8, 0), "NOT_SENT", zones=msk, local="2027-03-02 11:00:00",
                 failure="not_sent")
        _attempt(conn, "y1", y, audit, Y, at(2027, 3, 1, 20, 30), "NO_ANSWER", zones=vvo, local="2027-03-02 06:30:00",
                 outside=1)
        _attempt(conn, "z1", z, audit, Z, at(2027, 3, 2, 10, 0), "ANSWERED", zones="UTC", local="2027-03-02 10:00:00",
                 answered=at(2027, 3, 2, 10, 0, 5))
        _attempt(conn, "w1", w, audit, W, at(2027, 3, 2, 9, 0), "BUSY", zones=msk, local="2027-03-02 12:00:00")
        conn.execute(t.exclusions.insert(), [
            {"campaign_id": None, "phone": Z, "source": "dnc.csv", "added_at": at(2027, 2, 1)},
            {"campaign_id": audit, "phone": W, "source": "dnc.csv", "added_at": at(2027, 3, 3)},
        ])
    return store


def test_the_view_per_campaign_per_callee_day(db_url):
    store = _hand_built(db_url)
    with store.engine.connect() as conn:
        got = [dict(r) for r in conn.execute(sa.text(
            "SELECT * FROM compliance_daily WHERE campaign = 'audit' ORDER BY day")).mappings()]
    rates = []
    for r in got:
        r["day"] = str(r["day"])
        rates.append((round(float(r.pop("abandon_rate_24h")), 6), round(float(r.pop("abandon_rate_30d")), 6)))
    assert [{k: (int(v) if k != "campaign" and k != "day" else v) for k, v in r.items()} for r in got] == [
        {"campaign": "audit", "day": "2027-03-01", "calls": 1, "outside_window": 0, "window_unknown": 0, "dnc_calls": 0,
         "numbers": 1, "max_per_number_day": 2, "max_per_number_week": 3, "max_per_number_month": 3,
         "live_answered": 1, "abandoned": 0, "machine_hangups": 0,
         "live_answered_24h": 1, "abandoned_24h": 0, "machine_hangups_24h": 0,
         "live_answered_30d": 1, "abandoned_30d": 0, "machine_hangups_30d": 0,
         "zone_registry": 1, "zone_area_code": 0, "zone_phonenumbers": 0, "zone_country": 0, "zone_campaign_fallback": 0},
        # x3 (Tue 06:00) is within 24 h of x1 (Mon 07:30): 1 of 2; at z1 (Tue 10:00) x1 is out: 1 of 2 again.
        {"campaign": "audit", "day": "2027-03-02", "calls": 4, "outside_window": 1, "window_unknown": 0, "dnc_calls": 1,
         "numbers": 4, "max_per_number_day": 1, "max_per_number_week": 3, "max_per_number_month": 3,
         "live_answered": 2, "abandoned": 1, "machine_hangups": 0,
         "live_answered_24h": 2, "abandoned_24h": 1, "machine_hangups_24h": 0,
         "live_answered_30d": 3, "abandoned_30d": 1, "machine_hangups_30d": 0,
         "zone_registry": 2, "zone_area_code": 1, "zone_phonenumbers": 0, "zone_country": 0, "zone_campaign_fallback": 1},
    ]
    assert rates == [(0.0, 0.0), (0.5, round(1 / 3, 6))]
    store.close()


def test_the_report_recounts_the_window_and_names_each_violation(db_url):
    store = _hand_built(db_url)
    report = compliance_report(store, _campaign("audit"), start=date(2027, 3, 1), end=date(2027, 3, 7))
    mon, tue = report.days
    assert (mon.day, mon.calls, mon.outside_window, mon.max_per_number) == ("2027-03-01", 1, 0, {"day": 2, "week": 3, "month": 3})
    # Y is recounted outside from its start and zone, not from the flag; Z (no zone) by the campaign's UTC window.
    assert (tue.calls, tue.outside_window, tue.outside_window_recorded, tue.dnc_calls) == (4, 1, 1, 1)
    # The regulation's window here is 24 h (default pacing.window): the rolling 24 h's highest.
    assert (report.abandon_window, tue.abandoned_window, tue.live_answered_window) == ("rolling 24 h", 1, 2)
    assert tue.zone_sources == {"zone_registry": 2, "zone_area_code": 1, "zone_phonenumbers": 0, "zone_country": 0,
                                "zone_campaign_fallback": 1}
    assert report.violations() == [
        "2027-03-01: a number called 2 times in its day (limit 1)",
        "2027-03-01: a number called 3 times in its week (limit 2)",
        "2027-03-02: 1 call(s) outside the window",
        "2027-03-02: 1 call(s) to numbers on a do-not-call list",
        "2027-03-02: a number called 3 times in its week (limit 2)",
        "2027-03-02: abandoned 1/2 = 50.0% over rolling 24 h (cap 3%)",
    ]
    md = report.markdown()
    assert "| 2027-03-02 | 4 | 1 | 1/1 | 3/2 | 3/8 |" in md and "**Violations:**" in md
    # A period without calls: nothing broken.
    assert compliance_report(store, _campaign("audit"), start=date(2027, 4, 1), end=date(2027, 4, 30)).violations() == []
    store.close()


def test_the_views_count_what_autodialer_outcomes_defines(db_url):
    """One attempt per status x failure kind: the views' membership equals the Python
    definitions (a change to outcomes needs a new revision of the views)."""
    store = Store(db_url)
    store.migrate()
    cid = store.ensure_campaign("defs", kind="bot")
    statuses = [s.value for s in CallStatus] + ["DIALING"]
    failures = [None] + [f.value for f in FailureKind]
    expected_reached, expected_live, expected_abandoned = set(), set(), set()
    with store.engine.begin() as conn:
        k = _contact(conn, cid, X, None, None, 1)
        # AMD: a MACHINE hang-up is in live_answers as machine_hangup (weighted as abandoned), a
        # machine it connected or left a message on is not.
        for aid, action in (("m-hangup", "hangup"), ("m-connect", "connect"), ("m-message", "message")):
            _attempt(conn, aid, k, cid, X, at(2027, 3, 1, 9, 0), "MACHINE")
            conn.execute(t.attempts.update().where(t.attempts.c.attempt_id == aid).values(amd_action=action))
            expected_reached.add(aid)
        n = 0
        for s in statuses:
            for f in failures:
                n += 1
                aid = f"a{n}"
                _attempt(conn, aid, k, cid, X, at(2027, 3, 1, 9, 0), s, failure=f)
                if reached_callee(s, f):
                    expected_reached.add(aid)
                if s in {x.value for x in LIVE_ANSWERED_STATUSES}:
                    expected_live.add(aid)
                    if s in {x.value for x in ABANDONED_STATUSES}:
                        expected_abandoned.add(aid)
    with store.engine.connect() as conn:
        reached = {r for (r,) in conn.execute(sa.text("SELECT attempt_id FROM contact_attempts"))}
        live = {r: a for r, a, m in conn.execute(sa.text("SELECT attempt_id, abandoned, machine_hangup FROM live_answers"))
                if not m}
        machine = {r for (r,) in conn.execute(sa.text("SELECT attempt_id FROM live_answers WHERE machine_hangup = 1"))}
    assert reached == expected_reached
    assert set(live) == expected_live and {r for r, a in live.items() if a} == expected_abandoned
    from autodialer.telephony.outcomes import CallResult, is_machine_hangup

    assert machine == {"m-hangup"} and is_machine_hangup(CallResult("m", X, CallStatus.MACHINE, amd_action="hangup"))
    assert not is_machine_hangup(CallResult("m", X, CallStatus.MACHINE, amd_action="message"))
    store.close()


def test_the_readme_example_query_runs(db_url):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    query = re.search(r"<!-- compliance-example -->\s*```sql\n(.*?)```", text, re.S).group(1)
    store = _hand_built(db_url)
    with store.engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(sa.text(query))]
    assert [(str(r[0]), *map(int, r[1:])) for r in got] == [("2027-03-01", 1, 0, 2, 0, 1, 0, 1), ("2027-03-02", 4, 1, 1, 1, 2, 1, 2)]
    store.close()


def test_the_command_prints_the_days_and_fails_on_a_violation(db_url, monkeypatch, capsys):
    from autodialer.cli import main

    _hand_built(db_url).close()
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    assert main(["compliance", "audit", "--from", "2027-03-01", "--to", "2027-03-07"]) == 1
    out = capsys.readouterr().out
    assert "audit: 2027-03-01 to 2027-03-07" in out and "day 1, week 2, month 8" in out
    assert "2027-03-02  4      1" in out and "VIOLATIONS:" in out and "outside the window" in out
    assert main(["compliance", "audit", "--from", "2027-04-01", "--to", "2027-04-30"]) == 0
    assert "all rules held" in capsys.readouterr().out
    assert main(["compliance", "nosuch"]) == 2
    assert "no campaign named 'nosuch'" in capsys.readouterr().err
    assert main(["compliance", "audit", "--from", "March"]) == 2
    # A report never migrates: a database behind the code is told to upgrade, and stays behind.
    store = Store(db_url)
    store.migrate_to("0010")
    assert main(["compliance", "audit"]) == 2
    assert "autodialer db upgrade" in capsys.readouterr().err and store.current_revision() == "0010"
    store.close()


def test_the_window_is_the_one_the_run_that_called_had(db_url):
    """A call at 07:00 Moscow on Thursday: outside today's ru-230fz window, but made by a run whose
    campaign file then said 07:00-21:00: it is judged by the run's windows (runs.settings)."""
    store = _hand_built(db_url)
    audit = store.campaign_id("audit")
    old = _campaign("audit").settings_snapshot()
    old["windows"] = {"windows": [{"days": "daily", "start": "07:00", "end": "21:00"}], "blackout_dates": [], "holidays": None}
    with store.engine.begin() as conn:
        conn.execute(t.runs.insert().values(run_id="r-old", campaign_id=audit, started_at=at(2027, 3, 4), heartbeat_at=at(2027, 3, 4),
                                            lease_expires_at=at(2027, 3, 4), settings=old))
        x = conn.execute(sa.select(t.contacts.c.id).where(t.contacts.c.campaign_id == audit, t.contacts.c.phone == X)).scalar_one()
        _attempt(conn, "x5", x, audit, X, at(2027, 3, 4, 4, 0), "BUSY", zones="Europe/Moscow", local="2027-03-04 07:00:00")
        conn.execute(t.attempts.update().where(t.attempts.c.attempt_id == "x5").values(run_id="r-old"))
        _attempt(conn, "x6", x, audit, X, at(2027, 3, 4, 4, 30), "BUSY", zones="Europe/Moscow", local="2027-03-04 07:30:00")
    report = compliance_report(store, _campaign("audit"), start=date(2027, 3, 4), end=date(2027, 3, 4))
    (thu,) = report.days
    assert (thu.calls, thu.outside_window) == (2, 1)  # x5 by its run's 07-21; x6 (no run) by today's 08-22
    store.close()


YAKUTIA = "Asia/Srednekolymsk Asia/Ust-Nera Asia/Yakutsk"  # UTC+11, +10, +9: one range, three zones
US = "America/New_York America/Los_Angeles"


def test_a_call_is_outside_the_window_when_it_is_outside_in_any_of_its_zones(db_url):
    """Tuesday 2 March: a Yakutia number called at 22:30Z Monday (09:30 and 08:30 in its first two
    zones, 07:30 in Yakutsk: before ru-230fz's 08:00) and a US number at 15:30Z (10:30 New York,
    07:30 Los Angeles). The Yakutia attempt predates the claim's record (no zones kept, the
    contact's three are read); the US one was recorded inside (as a claim reading only its
    first zone would). The report recounts both outside, in every zone."""
    store = _hand_built(db_url)
    audit = store.campaign_id("audit")
    with store.engine.begin() as conn:
        yak = _contact(conn, audit, "+79140000001", YAKUTIA, "registry", 10)
        us = _contact(conn, audit, "+12125550101", US, "phonenumbers", 11)
        _attempt(conn, "yak1", yak, audit, "+79140000001", at(2027, 3, 1, 22, 30), "BUSY", zones=None,
                 local="2027-03-02 09:30:00", outside=None)
        _attempt(conn, "us1", us, audit, "+12125550101", at(2027, 3, 2, 15, 30), "NO_ANSWER", zones=US,
                 local="2027-03-02 10:30:00", outside=0)
    report = compliance_report(store, _campaign("audit"), start=date(2027, 3, 2), end=date(2027, 3, 2))
    (tue,) = report.days
    assert (tue.calls, tue.outside_window, tue.outside_window_recorded, tue.window_unknown) == (6, 3, 1, 1)
    assert "2027-03-02: 3 call(s) outside the window" in report.violations()
    assert tue.zone_sources["zone_registry"] == 3 and tue.zone_sources["zone_phonenumbers"] == 1
    store.close()


def _amd_campaign(name: str, preset: str) -> Campaign:
    return Campaign.model_validate({"name": name, "kind": "bot", "preset": preset, "schedule": {"cron": "0 9 * * *"},
                                    "destination": {"type": "robot"}, "amd": {"false_machine_rate": 0.5}})


def test_abandonment_is_one_figure_in_the_view_and_the_report_rolling_24h_and_30_days(db_url):
    """Campaign `amd` (uk-ofcom: 3% over 24 h; AMD on, false_machine_rate 0.5), UTC:

    Mon 1 March  10:00 ANSWERED, 11:00 ANSWERED, 20:00 ABANDONED
    Tue 2 March  09:00 MACHINE hung up by AMD (half a person abandoned), 12:00 ANSWERED, 19:00 ANSWERED

    The rolling 24 h at each answer (a MACHINE hang-up is 0.5 of an abandoned live call):
    Mon 0/1, 0/2, 1/3; Tue 09:00 (Mon 09:00 on) 1.5/3.5, 12:00 (Mon 12:00 on: Mon 20:00, Tue) 1.5/2.5 =
    60%, 19:00 1.5/3.5. Tuesday's calendar day alone is 0.5/2.5 = 20%; its 30 days 1.5/5.5."""
    store = Store(db_url)
    store.migrate()
    cid = store.ensure_campaign("amd", kind="bot", settings=_amd_campaign("amd", "uk-ofcom").settings_snapshot())
    plan = [(at(2027, 3, 1, 10), "ANSWERED"), (at(2027, 3, 1, 11), "ANSWERED"), (at(2027, 3, 1, 20), "ABANDONED"),
            (at(2027, 3, 2, 9), "MACHINE"), (at(2027, 3, 2, 12), "ANSWERED"), (at(2027, 3, 2, 19), "ANSWERED")]
    with store.engine.begin() as conn:
        for i, (started, status) in enumerate(plan):
            phone = f"+7906000010{i}"
            k = _contact(conn, cid, phone, "UTC", "registry", i)
            _attempt(conn, f"m{i}", k, cid, phone, started, status, zones="UTC", local=started.strftime("%Y-%m-%d %H:%M:%S"),
                     answered=started)
            if status == "MACHINE":
                conn.execute(t.attempts.update().where(t.attempts.c.attempt_id == f"m{i}").values(amd_action="hangup"))
    with store.engine.connect() as conn:
        view = [dict(r) for r in conn.execute(sa.text("SELECT * FROM abandonment_daily WHERE campaign = 'amd' ORDER BY day")).mappings()]
    figures = [(str(r["day"]), float(r["false_machine_rate"]),
                tuple(int(r[k]) for k in ("live_answered", "abandoned", "machine_hangups")),
                tuple(int(r[k]) for k in ("live_answered_24h", "abandoned_24h", "machine_hangups_24h")),
                tuple(int(r[k]) for k in ("live_answered_30d", "abandoned_30d", "machine_hangups_30d")),
                tuple(round(float(r[k]), 6) for k in ("abandon_rate", "abandon_rate_24h", "abandon_rate_30d"))) for r in view]
    assert figures == [
        ("2027-03-01", 0.5, (3, 1, 0), (3, 1, 0), (3, 1, 0), (round(1 / 3, 6),) * 3),
        ("2027-03-02", 0.5, (2, 0, 1), (2, 1, 1), (5, 1, 1), (0.2, 0.6, round(1.5 / 5.5, 6))),
    ]
    # The report reads the same figures (through compliance_daily): Ofcom's rolling 24 h ...
    ofcom = compliance_report(store, _amd_campaign("amd", "uk-ofcom"), start=date(2027, 3, 1), end=date(2027, 3, 2))
    assert ofcom.abandon_window == "rolling 24 h"
    assert [(d.day, round(d.abandon_rate, 6)) for d in ofcom.days] == [("2027-03-01", round(1 / 3, 6)), ("2027-03-02", 0.6)]
    assert "2027-03-02: abandoned 1.5/2.5 = 60.0% over rolling 24 h (cap 3%)" in ofcom.violations()
    # ... and the TCPA's 30 days, for a campaign under us-tcpa.
    tcpa = compliance_report(store, _amd_campaign("amd", "us-tcpa"), start=date(2027, 3, 1), end=date(2027, 3, 2))
    assert tcpa.abandon_window == "30 days"
    assert [round(d.abandon_rate, 6) for d in tcpa.days] == [round(1 / 3, 6), round(1.5 / 5.5, 6)]
    for report, column in ((ofcom, "abandon_rate_24h"), (tcpa, "abandon_rate_30d")):
        assert [round(d.abandon_rate, 9) for d in report.days] == [round(float(r[column]), 9) for r in view]
    store.close()


def test_a_number_with_several_zones_is_counted_in_every_zones_calendar(db_url):
    """A nationwide number (Kamchatka UTC+12 and Kaliningrad UTC+2 among its candidates) called
    at 08:00Z and 13:00Z on Wednesday 3 March: in Kamchatka (its first zone, the view's calendar)
    that is 20:00 on the 3rd and 01:00 on the 4th, one call each day; in Kaliningrad both are on
    the 3rd: twice in a day against ru-230fz's one. The report counts it in every zone, as the
    claim does."""
    store = _hand_built(db_url)
    audit = store.campaign_id("audit")
    zones = "Asia/Kamchatka Europe/Kaliningrad"
    with store.engine.begin() as conn:
        n = _contact(conn, audit, "+79000000001", zones, "registry", 12)
        _attempt(conn, "nw1", n, audit, "+79000000001", at(2027, 3, 3, 8, 0), "BUSY", zones=zones, local="2027-03-03 20:00:00")
        _attempt(conn, "nw2", n, audit, "+79000000001", at(2027, 3, 3, 13, 0), "BUSY", zones=zones, local="2027-03-04 01:00:00",
                 outside=1)
    with store.engine.connect() as conn:
        view = conn.execute(sa.text("SELECT day, max_per_number_day FROM compliance_daily WHERE campaign = 'audit' "
                                    "AND day >= '2027-03-03' ORDER BY day")).all()
    assert [(str(d), int(m)) for d, m in view] == [("2027-03-03", 1), ("2027-03-04", 1)]  # the first zone's calendar
    report = compliance_report(store, _campaign("audit"), start=date(2027, 3, 3), end=date(2027, 3, 4))
    assert [(d.day, d.max_per_number["day"], d.max_per_number["week"]) for d in report.days] == [
        ("2027-03-03", 2, 2), ("2027-03-04", 2, 2)]
    assert "2027-03-03: a number called 2 times in its day (limit 1)" in report.violations()
    store.close()
