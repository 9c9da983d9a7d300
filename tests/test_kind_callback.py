"""Click-to-call (callback): operator first, then the client, against the lab PBX over TCP; the
flow through Prefect's API (a deployment, a flow run created over REST); the CLI option."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autodialer.kinds.callback import check_client_number, check_operator, click_to_call
from autodialer.errors import UnsafeValueError
from tests.faultkit import rows

ROOT = Path(__file__).resolve().parents[1]


async def _click(lab, **kw):
    from autodialer.config import parse_ami_url
    from autodialer.telephony.ami import AmiSession
    from autodialer.telephony.engine import DialEngine

    async with AmiSession(parse_ami_url(lab.url)) as ami:
        return await click_to_call(DialEngine(ami), **kw)


@pytest.mark.parametrize("number, result, dial_status, cause, status", [
    ("79061234561", "connected", "ANSWER", 16, "ANSWERED"),
    ("79061234562", "client_busy", "BUSY", 17, "BUSY"),
    ("79061234563", "client_no_answer", "NOANSWER", 19, "NO_ANSWER"),
    ("79061234564", "client_congestion", "CONGESTION", 34, "CONGESTION"),
    ("79061234565", "client_unavailable", "CHANUNAVAIL", 1, "INVALID_NUMBER"),
])
def test_operator_rings_first_then_the_client(lab_pbx, number, result, dial_status, cause, status):
    out = asyncio.run(_click(lab_pbx, operator="101", number=number, client_ring=20))
    assert (out.result, out.client_dial_status, out.client_hangup_cause) == (result, dial_status, cause)
    call = out.call
    assert call.status.value == status  # classified by the client's leg (dialer-callback's DialResult)
    assert call.channel.startswith("Local/101@dialer-operators-") and call.channel.endswith(";1")
    reported = [e for e in call.events if e.get("UserEvent") == "DialerResult"]
    assert reported and reported[-1]["AttemptId"] == call.attempt_id
    assert lab_pbx.originates == 1 and not lab_pbx.errors


@pytest.mark.parametrize("operator, number, words", [
    ("10a", "79061234561", "operator: '10a' is not a dialable number"),
    ("101\r\nAction: Originate", "79061234561", "operator:"),
    ("1", "79061234561", "operator:"),
    ("101", "7906123456x", "number: '7906123456x' is not a dialable number"),
    ("101", "79061234561,EVIL=1", "number:"),
    ("101", "+7 906 123 45 61", "number:"),
])
def test_bad_operator_or_number_sends_nothing(lab_pbx, operator, number, words):
    with pytest.raises(UnsafeValueError) as err:
        asyncio.run(_click(lab_pbx, operator=operator, number=number))
    assert words in str(err.value)
    assert lab_pbx.originates == 0


def test_client_number_is_normalised_and_checked_for_the_region():
    assert check_client_number("89061234561") == "+79061234561"
    assert check_client_number("+79061234561") == "+79061234561"
    with pytest.raises(UnsafeValueError, match="not a valid phone number"):
        check_client_number("12345")
    assert check_operator("2001") == "2001"


def write_campaign(tmp_path: Path) -> str:
    text = (ROOT / "campaigns" / "callback.yaml").read_text()
    text = text.replace('- {days: daily, start: "08:00", end: "22:00"}', '- {days: daily, start: "00:00", end: "23:59:59"}')
    text = text.replace("ring_timeout: 30s", "ring_timeout: 20s")
    path = tmp_path / "callback.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.prefect
def test_callback_flow_records_the_call_and_never_redials_a_request(tmp_path, lab_pbx, db_url, prefect_api, monkeypatch):
    from flows.callback import callback_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", db_url)
    campaign = write_campaign(tmp_path)
    out = asyncio.run(callback_flow("89061234561", "101", campaign_file=campaign, request_id="req-1"))
    assert out["result"] == "connected" and out["number"] == "+79061234561" and not out["already_dialled"]
    out = asyncio.run(callback_flow("89061234562", "102", campaign_file=campaign, request_id="req-2"))
    assert out["result"] == "client_busy"
    # The same request again (a retried API call, a re-run): recorded, not dialed.
    again = asyncio.run(callback_flow("89061234561", "101", campaign_file=campaign, request_id="req-1"))
    assert again["already_dialled"] and again["status"] == "ANSWERED"
    assert lab_pbx.originates == 2
    # A new request for the same number dials it again (same contact, one more attempt).
    asyncio.run(callback_flow("89061234561", "103", campaign_file=campaign, request_id="req-3"))
    assert lab_pbx.originates == 3
    contacts = {r["phone"]: r for r in rows(db_url, "select phone, state, attempts, result, last_status from contacts")}
    assert contacts["+79061234561"]["attempts"] == 2 and contacts["+79061234561"]["result"] == "connected"
    assert contacts["+79061234562"]["result"] == "client_busy" and contacts["+79061234562"]["state"] == "done"
    assert contacts["+79061234562"]["last_status"] == "BUSY"
    attempts = rows(db_url, "select attempt_id, number, status from attempts order by started_at")
    assert [a["attempt_id"] for a in attempts] == ["req-1", "req-2", "req-3"]
    assert {a["number"] for a in attempts} == {"+79061234561", "+79061234562"}
    summary = rows(db_url, "select campaign, contacts, done from campaign_summary")
    assert summary == [{"campaign": "click-to-call", "contacts": 2, "done": 2}]


@pytest.mark.prefect
def test_callback_flow_refuses_bad_input_before_dialing(tmp_path, lab_pbx, sqlite_url, prefect_api, monkeypatch):
    from flows.callback import callback_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", sqlite_url)
    campaign = write_campaign(tmp_path)
    state = asyncio.run(callback_flow("79061234561", "1O1", campaign_file=campaign, return_state=True))
    assert state.is_failed() and "operator: '1O1'" in state.message
    state = asyncio.run(callback_flow("7906;1234561", "101", campaign_file=campaign, return_state=True))
    assert state.is_failed() and "number:" in state.message
    assert lab_pbx.originates == 0


@pytest.mark.prefect
def test_callback_deployment_run_through_the_rest_api(tmp_path, lab_pbx, sqlite_url, prefect_api, monkeypatch):
    """The deployment as prefect.yaml declares it, a flow run created with parameters over
    Prefect's REST API (what `prefect deployment run 'callback/click-to-call' -p ...` does),
    then executed by the flow engine as a worker would."""
    from prefect.cli._utilities import load_json_key_values
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow_async

    from flows.callback import callback_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", sqlite_url)
    declared = next(d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
                    if d["entrypoint"] == "flows/callback.py:callback_flow")
    assert declared["name"] == "click-to-call" and not declared.get("schedules")
    campaign = write_campaign(tmp_path)

    async def main():
        deployment = await callback_flow.ato_deployment(name=declared["name"], parameters={"campaign_file": campaign})
        deployment_id = await deployment.apply()
        async with get_client() as client:
            # `-p number=79061234561 -p operator=101` as `prefect deployment run` parses them (JSON: ints)
            cli_params = load_json_key_values(["number=79061234561", "operator=101"], "parameter")
            assert cli_params == {"number": 79061234561, "operator": 101}
            response = await client._client.post(f"/deployments/{deployment_id}/create_flow_run",
                                                 json={"parameters": cli_params})
            response.raise_for_status()
            flow_run = await client.read_flow_run(response.json()["id"])
            assert flow_run.parameters == {"number": 79061234561, "operator": 101, "campaign_file": campaign}
            result = await run_flow_async(callback_flow, flow_run=flow_run, parameters=flow_run.parameters)
            final = await client.read_flow_run(flow_run.id)
            return result, final

    result, final = asyncio.run(main())
    assert final.state.is_completed()
    assert result["result"] == "connected" and result["attempt_id"] == str(final.id).replace("-", "")
    assert lab_pbx.originates == 1


def test_cli_call_with_operator(lab_pbx):
    env = dict(os.environ, AUTODIALER_AMI_URL=lab_pbx.url)
    res = subprocess.run([sys.executable, "-m", "autodialer", "call", "--operator", "101", "--timeout", "20", "--json",
                          "89061234562"], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["result"] == "client_busy" and out["number"] == "+79061234562" and out["operator"] == "101"
    assert out["call"]["channel"].startswith("Local/101@dialer-operators-")
    bad = subprocess.run([sys.executable, "-m", "autodialer", "call", "--operator", "10 1", "79061234561"],
                         capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert bad.returncode == 2 and "operator:" in bad.stderr
    assert lab_pbx.originates == 1


@pytest.mark.prefect
def test_a_dead_click_to_call_run_is_resolved_and_its_number_can_be_called_again(tmp_path, lab_pbx, pg_url, prefect_api,
                                                                                monkeypatch):
    """A click-to-call run died with its call claimed (its lease lapsed, by the database's clock)
    and the call is gone from the PBX. The next request's run takes it over first: recorded
    UNKNOWN (run_died), never left DIALING, so the number is not 'already in flight' forever;
    then the new request is dialed."""
    from autodialer.dialer.leases import LEASE_SECONDS
    from autodialer.store import Store, runs
    from autodialer.campaigns.campaign import load_campaign
    from autodialer.store.adhoc import ensure_contact
    from datetime import datetime, timezone
    import sqlalchemy as sa

    from flows.callback import callback_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    campaign_file = write_campaign(tmp_path)
    campaign = load_campaign(campaign_file)
    store = Store(pg_url)
    store.migrate()
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
    runs.start_run(store, "dead-click", cid, lease_seconds=LEASE_SECONDS)
    contact = ensure_contact(store, cid, "+79061234561", variables={"OPERATOR": "101"}, reopen=True)
    assert store.claim_attempt(contact, attempt_id="req-dead", number="+79061234561", now=datetime.now(timezone.utc),
                               max_attempts=2**31 - 1, run_id="dead-click")
    with store.engine.begin() as conn:  # 90 s later: the dead run's lease has lapsed
        conn.execute(sa.text("UPDATE runs SET lease_expires_at = clock_timestamp() - interval '1 second'"))

    out = asyncio.run(callback_flow("89061234561", "102", campaign_file=campaign_file, request_id="req-new"))
    assert out["result"] == "connected" and lab_pbx.originates == 1
    attempts = {a["attempt_id"]: a for a in rows(pg_url, "select attempt_id, status, failure from attempts")}
    assert (attempts["req-dead"]["status"], attempts["req-dead"]["failure"]) == ("UNKNOWN", "run_died")
    assert attempts["req-new"]["status"] == "ANSWERED"
    assert [r["end_reason"] for r in rows(pg_url, "select end_reason from runs order by started_at")] == ["expired", "finished"]
    store.close()


@pytest.mark.prefect
def test_click_to_call_holds_the_client_to_the_contact_limits_and_the_window(tmp_path, lab_pbx, sqlite_url, prefect_api,
                                                                              monkeypatch):
    """The client is the callee (the operator is not): with `limits: {per_day: 1}` a second
    request for a number its phone already rang for today is refused, recorded, not dialed; the
    same operator's request for another client is dialed. The window: at 21:59:30 in Moscow
    (window 08-22) the client's leg, after up to 30 s of the operator's ring, could not ring
    min_ring (15 s) before the close: refused, nothing sent (it used to be dialed: the window was
    open at the request)."""
    from datetime import datetime, timezone

    from flows.callback import callback_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", sqlite_url)
    campaign = write_campaign(tmp_path)
    Path(campaign).write_text(Path(campaign).read_text() + "limits: {per_day: 1}\n")
    out = asyncio.run(callback_flow("89061234562", "101", campaign_file=campaign, request_id="l-1"))
    assert out["result"] == "client_busy"  # the client's phone rang: counted
    state = asyncio.run(callback_flow("89061234562", "102", campaign_file=campaign, request_id="l-2", return_state=True))
    assert state.is_failed() and "contact limit per_day 1/1" in state.message and "allowed from" in state.message
    assert lab_pbx.originates == 1
    (contact,) = rows(sqlite_url, "select state, result from contacts where phone = '+79061234562'")
    assert contact["state"] == "done" and contact["result"].startswith("refused: contact limit per_day 1/1")
    assert rows(sqlite_url, "select count(*) as n from attempts where attempt_id = 'l-2'") == [{"n": 0}]
    out = asyncio.run(callback_flow("89061234561", "101", campaign_file=campaign, request_id="l-3"))
    assert out["result"] == "connected" and lab_pbx.originates == 2

    shipped = tmp_path / "shipped.yaml"  # the shipped campaign: 08-22 in the client's time
    shipped.write_text((ROOT / "campaigns" / "callback.yaml").read_text())
    monkeypatch.setattr("autodialer.dialer.dialing.utcnow", lambda: datetime(2026, 12, 2, 18, 59, 30, tzinfo=timezone.utc))
    state = asyncio.run(callback_flow("89061234563", "101", campaign_file=str(shipped), request_id="w-1", return_state=True))
    assert state.is_failed() and "closing within 45 s" in state.message and "opens 2026-12-03 05:00 UTC" in state.message
    assert lab_pbx.originates == 2


@pytest.fixture
def away_operators(tmp_path):
    """The lab with the shipped extensions.conf plus two operators who never answer: 109's phone
    rings out (the originate's 30 s, x0.02), 108's is busy. dialer-callback, which dials the
    client, runs only on the operator's answer."""
    from autodialer.lab import running_lab
    from autodialer.lab.dialplan import DEFAULT_DIALPLAN

    text = DEFAULT_DIALPLAN.read_text()
    away = ("[dialer-operators]\n"
            "exten => 109,1,NoOp(operator 109 away: rings, never answers)\n same => n,Ringing()\n same => n,Wait(600)\n"
            "exten => 108,1,NoOp(operator 108 on another call)\n same => n,Busy(5)\n")
    assert text.count("[dialer-operators]\n") == 1
    path = tmp_path / "extensions.conf"
    path.write_text(text.replace("[dialer-operators]\n", away))
    with running_lab(time_scale=0.02, dialplan=path) as lab:
        yield lab


@pytest.mark.prefect
def test_an_operator_who_never_answers_does_not_count_against_the_clients_limits(tmp_path, away_operators, pg_url,
                                                                                  prefect_api, monkeypatch):
    """Issue 14 counts the attempts that reached the callee's phone. A request whose operator
    never answered (109 rings out, 108 is busy) never dialed the client: recorded with the
    operator leg's status and the failure kind operator_unanswered (visible to analysts), it is
    not in the client's counted calls, the contact_attempts view or compliance_daily, so under
    `limits: {per_day: 1}` the next request for the number is dialed (it used to be refused:
    'contact limit per_day 1/1'), and that one counts."""
    from datetime import datetime, timedelta, timezone

    import sqlalchemy as sa

    from autodialer.store import Store
    from flows.callback import callback_flow

    lab = away_operators
    monkeypatch.setenv("AUTODIALER_AMI_URL", lab.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    campaign = write_campaign(tmp_path)
    Path(campaign).write_text(Path(campaign).read_text() + "limits: {per_day: 1}\n")
    out = asyncio.run(callback_flow("89061234562", "109", campaign_file=campaign, request_id="away-1"))
    assert out["result"] == "operator_no_answer" and out["call"]["failure"] == "operator_unanswered"
    out = asyncio.run(callback_flow("89061234562", "108", campaign_file=campaign, request_id="away-2"))
    assert out["result"] == "operator_busy" and out["call"]["failure"] == "operator_unanswered"
    # The client's number was never dialed: no leg of it ran.
    assert not [e for e in lab.trace if "79061234562@dialer-outbound" in e.channel]
    store = Store(pg_url)
    since = datetime.now(timezone.utc) - timedelta(days=1)
    assert store.counted_calls("+79061234562", since=since) == []
    attempts = {a["attempt_id"]: a for a in rows(pg_url, "select attempt_id, status, failure from attempts")}
    assert {k: (a["status"], a["failure"]) for k, a in attempts.items()} == {
        "away-1": ("NO_ANSWER", "operator_unanswered"), "away-2": ("BUSY", "operator_unanswered")}
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from contact_attempts")).scalar() == 0
        assert conn.execute(sa.text("select count(*) from compliance_daily")).scalar() == 0

    out = asyncio.run(callback_flow("89061234562", "101", campaign_file=campaign, request_id="away-3"))
    assert out["result"] == "client_busy" and out["call"]["failure"] is None  # the client's phone rang: counted
    assert [a for a, _, _ in store.counted_calls("+79061234562", since=since)] == ["away-3"]
    with store.engine.connect() as conn:
        (calls, per_day), = conn.execute(sa.text("select calls, max_per_number_day from compliance_daily")).all()
        assert (calls, per_day) == (1, 1)
    state = asyncio.run(callback_flow("89061234562", "102", campaign_file=campaign, request_id="away-4", return_state=True))
    assert state.is_failed() and "contact limit per_day 1/1" in state.message
    assert lab.originates == 3
    store.close()
