"""AMD through the campaign flow: a campaign with an `amd:` section against the lab PBX (callees
answering with real greetings, AMD() as app_amd.c has it), a real PostgreSQL, Prefect's real API.
Each action (machine: hangup | message | connect, notsure: connect | hangup | message) end to end:
the outcome, the contact's result and next attempt (the retry policies), and the attempt's AMD
columns in the store."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.faultkit import rows

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]
MSK = ZoneInfo("Europe/Moscow")

# The lab callee answers with asterisk-lab/sounds/greetings/<greeting>.wav; press: the key a
# person presses 2 s after speaking (the robot's 1 = confirmed).
LIST = """\
phone,order_id,greeting,press
79061234511,11,person-allo,1
79061234521,21,voicemail-beep,
79061234531,31,voicemail-nobeep,
79061234541,41,person-silent,
79061234547,47,person-4words,
"""

# AMD's parameters where a silent callee is NOTSURE (the analysis ends before the initial silence).
NOTSURE_PARAMS = "initial_silence: 4500, total_analysis_time: 4000"


def write_campaign(tmp_path, amd: str) -> str:
    (tmp_path / "list.csv").write_text(LIST)
    text = textwrap.dedent(
        f"""\
        name: amd-flow
        kind: order_confirmation
        default_region: RU
        lists: [list.csv]
        list:
          phone_columns: [phone]
          variables: {{ORDER_ID: order_id, SIM_GREETING: greeting, SIM_PRESS: press}}
        schedule: {{cron: "0 * * * *", timezone: UTC}}
        windows: {{windows: [{{days: daily, start: "00:00", end: "23:59:59"}}]}}
        destination: {{type: robot, queue: support}}
        amd: {{{amd}}}
        max_concurrent_calls: 5
        max_originates_per_second: 20
        ring_timeout: 20s
        """
    )
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return str(path)


def _run(tmp_path, lab_pbx, pg_url, monkeypatch, amd: str):
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    state = asyncio.run(campaign_flow(write_campaign(tmp_path, amd), run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message
    contacts = {r["phone"][-2:]: r for r in rows(pg_url, "select phone, state, attempts, last_status, result, next_attempt_at from contacts")}
    attempts = {r["number"][-2:]: r for r in rows(pg_url, "select number, status, amd_status, amd_cause, amd_action, amd_seconds, ended_at, answered_at from attempts")}
    assert len(attempts) == 5 == lab_pbx.originates
    return contacts, attempts


def _amd(a) -> tuple:
    return a["status"], a["amd_status"], a["amd_cause"], a["amd_action"]


def test_machine_hangup_notsure_connect(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    contacts, attempts = _run(tmp_path, lab_pbx, pg_url, monkeypatch, "machine: hangup, notsure: connect")
    assert _amd(attempts["11"]) == ("ANSWERED", "HUMAN", "HUMAN-800-800", "connect")
    assert contacts["11"]["result"] == "confirmed"  # the person reached the robot and pressed 1
    assert _amd(attempts["21"]) == ("MACHINE", "MACHINE", "MAXWORDS-3-2", "hangup")
    assert _amd(attempts["41"]) == ("MACHINE", "MACHINE", "INITIALSILENCE-2500-2500", "hangup")
    assert _amd(attempts["47"]) == ("MACHINE", "MACHINE", "MAXWORDS-3-2", "hangup")  # a person, taken for a machine
    for k in ("21", "31", "41", "47"):
        # the default MACHINE policy: again later in the day, 2 h on at least, at another hour
        # (the callee's, Moscow; the window is open all day but for the last second)
        c, a = contacts[k], attempts[k]
        assert (c["state"], c["last_status"]) == ("pending", "MACHINE")
        assert timedelta(hours=2) <= c["next_attempt_at"] - a["ended_at"] <= timedelta(hours=2, seconds=2)
        assert c["next_attempt_at"].astimezone(MSK).hour != a["answered_at"].astimezone(MSK).hour
        assert c["result"] == f"machine: {a['amd_cause']}"
    # detection time: from the answer to the verdict, what the greeting needed (lab seconds, scaled x0.02)
    assert all(a["amd_seconds"] is not None and a["amd_seconds"] >= 0 for a in attempts.values())
    summary = rows(pg_url, "select machine, machine_message from campaign_summary where campaign = 'amd-flow'")[0]
    assert summary == {"machine": 4, "machine_message": 0}


def test_machine_message_notsure_message(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    contacts, attempts = _run(tmp_path, lab_pbx, pg_url, monkeypatch,
                              f"machine: message, notsure: message, message: custom/dialer-voicemail, {NOTSURE_PARAMS}")
    assert _amd(attempts["11"]) == ("ANSWERED", "HUMAN", "HUMAN-800-800", "connect")
    for k in ("21", "31"):
        assert _amd(attempts[k]) == ("MACHINE_MESSAGE", "MACHINE", "MAXWORDS-3-2", "message")
    assert _amd(attempts["41"]) == ("MACHINE_MESSAGE", "NOTSURE", "TOOLONG-4000", "message")
    for k in ("21", "31", "41"):
        # a left message counts as done for a confirmation (MACHINE_MESSAGE is final by default)
        c = contacts[k]
        assert (c["state"], c["last_status"], c["result"], c["next_attempt_at"]) == ("done", "MACHINE_MESSAGE", "message_left", None)


def test_machine_connect_notsure_hangup(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    contacts, attempts = _run(tmp_path, lab_pbx, pg_url, monkeypatch,
                              f"machine: connect, notsure: hangup, {NOTSURE_PARAMS}")
    # the voicemail goes to the robot (nobody presses a key): ANSWERED, no_input, the verdict kept
    assert _amd(attempts["31"]) == ("ANSWERED", "MACHINE", "MAXWORDS-3-2", "connect")
    assert contacts["31"]["result"] == "no_input"
    # NOTSURE with action hangup: hung up as a machine, recorded NOTSURE with the action
    assert _amd(attempts["41"]) == ("MACHINE", "NOTSURE", "TOOLONG-4000", "hangup")
    assert contacts["41"]["state"] == "pending"
