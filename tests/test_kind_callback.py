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

from autodialer.callback import check_client_number, check_operator, click_to_call
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
    from autodialer.leases import LEASE_SECONDS
    from autodialer.store import Store, runs
    from autodialer.campaign import load_campaign
    from autodialer.adhoc_contacts import ensure_contact
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
    monkeypatch.setattr("autodialer.dialing.utcnow", lambda: datetime(2026, 12, 2, 18, 59, 30, tzinfo=timezone.utc))
    state = asyncio.run(callback_flow("89061234563", "101", campaign_file=str(shipped), request_id="w-1", return_state=True))
    assert state.is_failed() and "closing within 45 s" in state.message and "opens 2026-12-03 05:00 UTC" in state.message
    assert lab_pbx.originates == 2
