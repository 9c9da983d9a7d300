"""Recall and click-to-call dial only numbers within policy: a caller ID is the caller's to
choose, an API request names any number. Only the types and regions the campaign allows
(default: its region's mobile and fixed-line numbers; never premium-rate, toll-free, shared-cost
or foreign ones unless listed), and never a number on the campaign's or the global do-not-call
list. Refused numbers are recorded with their reason. Against the lab PBX over TCP and a real
PostgreSQL, through the recall and callback flows."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from autodialer.campaigns.campaign import load_campaign
from autodialer.errors import ConfigError
from autodialer.rules.number_policy import AllowedNumbers, NumberType
from autodialer.recall.missed import MissedCall
from autodialer.recall.planner import RecallPlanner
from tests.faultkit import rows
from tests.test_kind_recall import write_campaign as write_recall_campaign

UTC = timezone.utc
MOBILE, FIXED = "+79061234561", "+74951234567"
PREMIUM, TOLL_FREE, UK, KZ = "+78091234567", "+78001234567", "+442079460958", "+77011234567"


def test_default_policy_is_the_campaigns_region_mobile_and_fixed_line():
    policy = AllowedNumbers()
    assert policy.refusal(MOBILE, "RU") is None and policy.refusal(FIXED, "RU") is None
    assert policy.refusal(PREMIUM, "RU") == "a premium rate number; allowed types: mobile, fixed line (allowed_numbers.types)"
    assert "toll free" in policy.refusal(TOLL_FREE, "RU")
    assert policy.refusal(UK, "RU") == "an international number (GB); allowed regions: RU (allowed_numbers.regions)"
    assert "international number (KZ)" in policy.refusal(KZ, "RU")
    assert policy.refusal(UK, "GB") is None  # the region is the campaign's
    wider = AllowedNumbers(regions=["ru", "KZ"], types=["mobile", "fixed_line", "toll_free"])
    assert wider.refusal(KZ, "RU") is None and wider.refusal(TOLL_FREE, "RU") is None
    assert wider.refusal(PREMIUM, "RU") is not None
    assert AllowedNumbers(types=[NumberType.PREMIUM_RATE]).refusal(PREMIUM, "RU") is None


def test_allowed_numbers_in_the_campaign_file_is_checked_at_load(tmp_path):
    path = write_recall_campaign(tmp_path)
    with open(path, "a") as f:
        f.write("allowed_numbers: {regions: [RU, XX], types: [mobile, premium]}\n")
    with pytest.raises(ConfigError) as err:
        load_campaign(path)
    assert "allowed_numbers.regions" in str(err.value) and "allowed_numbers.types" in str(err.value)


def _planner(tmp_path, url, *, extra: str = ""):
    from autodialer.store import Store

    store = Store(url)
    store.migrate()
    path = write_recall_campaign(tmp_path)
    with open(path, "a") as f:
        f.write(extra)
    campaign = load_campaign(path)
    cid = store.ensure_campaign(campaign.name, kind=campaign.kind)
    return store, RecallPlanner(store, campaign, cid), cid


def test_recall_planner_refuses_spoofable_numbers_and_do_not_call_entries_and_records_why(tmp_path, pg_url):
    (tmp_path / "dnc.csv").write_text("phone\n+79061234571\n")
    (tmp_path / "global.csv").write_text("phone\n89061234581\n")
    store, planner, cid = _planner(tmp_path, pg_url, extra="exclusions: [dnc.csv]\n")
    from autodialer.store.adhoc import load_campaign_exclusions

    load_campaign_exclusions(store, planner.campaign, cid)
    store.import_exclusions(tmp_path / "global.csv", campaign_id=None, default_region="RU")
    at = datetime.now(UTC)
    decisions = {n: planner.add_missed(MissedCall(n, "support", at, "ami"))
                 for n in ("89061234561", "88091234567", "+442079460958", "89061234571", "89061234581", "88001234567")}
    assert decisions == {
        "89061234561": "new",
        "88091234567": "refused: a premium rate number; allowed types: mobile, fixed line (allowed_numbers.types)",
        "+442079460958": "refused: an international number (GB); allowed regions: RU (allowed_numbers.regions)",
        "89061234571": "refused: on a do-not-call list (dnc.csv)",
        "89061234581": "refused: on a do-not-call list (global.csv)",
        "88001234567": "refused: a toll free number; allowed types: mobile, fixed line (allowed_numbers.types)",
    }
    contacts = {r["phone"]: r for r in rows(pg_url, "select phone, state, result, next_attempt_at from contacts")}
    assert contacts[MOBILE]["state"] == "pending"
    for phone in ("+78091234567", UK, "+79061234571", "+79061234581", TOLL_FREE):
        c = contacts[phone]
        assert c["state"] == "done" and c["result"].startswith("refused: ") and c["next_attempt_at"] is None, c
    assert [c.phone for c in store.due_contacts(cid, now=at + timedelta(seconds=1))] == [MOBILE]

    # A do-not-call entry added after the miss: the contact is no longer due, and checked again
    # before a callback it is closed with the reason.
    [due] = store.due_contacts(cid, now=at + timedelta(seconds=1))
    assert planner.refuse_due(due.id, due.phone) is None
    (tmp_path / "late.csv").write_text("phone\n+79061234561\n")
    store.import_exclusions(tmp_path / "late.csv", campaign_id=cid, default_region="RU")
    assert store.due_contacts(cid, now=at + timedelta(seconds=1)) == []
    assert planner.refuse_due(due.id, due.phone) == "on a do-not-call list (late.csv)"
    assert rows(pg_url, f"select state, result from contacts where phone = '{MOBILE}'") == [
        {"state": "done", "result": "refused: on a do-not-call list (late.csv)"}]
    assert store.due_contacts(cid, now=at + timedelta(seconds=1)) == []
    store.close()


@pytest.mark.prefect
def test_recall_flow_calls_back_only_numbers_within_policy(tmp_path, pg_url, prefect_api, monkeypatch):
    """Callers abandon the lab's queue with a mobile, a premium-rate, a foreign number and one on
    the campaign's do-not-call file: only the mobile is called back; the rest are recorded refused."""
    from autodialer.lab import running_lab
    from flows.recall import recall_flow

    (tmp_path / "dnc.csv").write_text("phone\n+79061234571\n")
    campaign = write_recall_campaign(tmp_path, cdr=False)
    with open(campaign, "a") as f:
        f.write("exclusions: [dnc.csv]\n")
    with running_lab(time_scale=0.05, agents=1, agent_talk=5.0) as lab:
        monkeypatch.setenv("AUTODIALER_AMI_URL", lab.url)
        monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)

        def drive():
            deadline = time.monotonic() + 30
            while not lab.pbx.sessions and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(3.0)  # the flow is listening (its monitor synced), even on a loaded machine
            lab.inbound_call("79061234591")  # the only agent takes this one: the next callers give up
            busy_by = time.monotonic() + 30  # wait until it has (0.1 s was too short on a loaded machine)
            while lab.call_soon(lambda: lab.pbx.queues["support"].available()) and time.monotonic() < busy_by:
                time.sleep(0.02)
            for caller in ("79061234561", "78091234567", "+442079460958", "79061234571"):
                lab.inbound_call(caller, abandon_after=1)

        driver = threading.Thread(target=drive)
        driver.start()
        state = asyncio.run(recall_flow(campaign, run_minutes=0.3, poll_seconds=0.2, return_state=True))
        driver.join()
    assert state.is_completed(), state.message
    assert "4 missed call(s) seen, 1 new recall(s), 1 callback(s) made, 3 refused" in state.message, state.message
    assert lab.pbx.originates == 1
    attempts = rows(pg_url, "select number, status from attempts")
    assert attempts == [{"number": MOBILE, "status": "ANSWERED"}]
    results = {r["phone"]: r["result"] for r in rows(pg_url, "select phone, result from contacts")}
    assert results["+78091234567"].startswith("refused: a premium rate number")
    assert results[UK].startswith("refused: an international number (GB)")
    assert results["+79061234571"] == "refused: on a do-not-call list (dnc.csv)"


def _callback_campaign(tmp_path, extra: str = "") -> str:
    text = textwrap.dedent("""\
        name: click-to-call
        kind: callback
        default_region: RU
        schedule: {cron: "0 9 * * *", timezone: Europe/Moscow}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        direction: operator_first
        destination: {type: context, context: dialer-callback}
        caller_ids: ["+74950000001"]
        ring_timeout: 20s
        """) + extra
    path = tmp_path / "callback.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.prefect
def test_click_to_call_refuses_numbers_outside_policy_and_on_do_not_call_lists(tmp_path, lab_pbx, pg_url, prefect_api,
                                                                             monkeypatch):
    from autodialer.store import Store
    from flows.callback import callback_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    (tmp_path / "dnc.csv").write_text("phone\n+79061234571\n")
    (tmp_path / "global.csv").write_text("phone\n+79061234581\n")
    campaign = _callback_campaign(tmp_path, "exclusions: [dnc.csv]\n")
    store = Store(pg_url)
    store.migrate()
    store.import_exclusions(tmp_path / "global.csv", campaign_id=None, default_region="RU")
    store.close()
    refused = {}
    for number in ("88091234567", "+442079460958", "89061234571", "89061234581"):
        state = asyncio.run(callback_flow(number, "101", campaign_file=campaign, return_state=True))
        assert state.is_failed(), number
        refused[number] = state.message
    assert "+78091234567 is not dialed: a premium rate number" in refused["88091234567"]
    assert "+442079460958 is not dialed: an international number (GB)" in refused["+442079460958"]
    assert "+79061234571 is not dialed: on a do-not-call list (dnc.csv)" in refused["89061234571"]
    assert "+79061234581 is not dialed: on a do-not-call list (global.csv)" in refused["89061234581"]
    assert lab_pbx.originates == 0
    results = {r["phone"]: (r["state"], r["result"]) for r in rows(pg_url, "select phone, state, result from contacts")}
    assert results["+79061234571"] == ("done", "refused: on a do-not-call list (dnc.csv)")
    assert results["+78091234567"][1].startswith("refused: a premium rate number")
    assert rows(pg_url, "select count(*) as n from attempts")[0]["n"] == 0
    # Within policy: dialed as before.
    out = asyncio.run(callback_flow("89061234561", "101", campaign_file=campaign, request_id="ok-1"))
    assert out["result"] == "connected" and lab_pbx.originates == 1


def _cli_call(capsys, monkeypatch, env, *args):
    """`autodialer call --timeout 20 ARGS` in this process (as the console script runs it)."""
    from types import SimpleNamespace

    from autodialer.cli import main

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    code = main(["call", "--timeout", "20", *args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def test_manual_click_to_call_applies_the_default_policy_and_the_global_do_not_call_list(tmp_path, lab_pbx, pg_url, capsys,
                                                                                         monkeypatch):
    """`autodialer call --operator` has no campaign: it gets the default policy with --region as
    the campaign's region (mobile and fixed-line numbers of it, --allow-region adds regions) and
    the global do-not-call list of AUTODIALER_DATABASE_URL's store. A refused number exits 2 with
    the reason and nothing is sent to the PBX; a store that cannot be read refuses too."""
    import json

    from autodialer.store import Store

    (tmp_path / "global.csv").write_text("phone\n+79061234581\n")
    store = Store(pg_url)
    store.migrate()
    store.import_exclusions(tmp_path / "global.csv", campaign_id=None, default_region="RU")
    store.close()
    env = dict(AUTODIALER_AMI_URL=lab_pbx.url, AUTODIALER_DATABASE_URL=pg_url)
    refused = {
        "88091234567": "+78091234567 is not dialed: a premium rate number; allowed types: mobile, fixed line",
        "88001234567": "+78001234567 is not dialed: a toll free number",
        "+442079460958": "+442079460958 is not dialed: an international number (GB); allowed regions: RU "
                         "(--region, --allow-region)",
        "89061234581": "+79061234581 is not dialed: on a do-not-call list (global.csv)",
    }
    for number, words in refused.items():
        res = _cli_call(capsys, monkeypatch, env, "--operator", "101", number)
        assert res.returncode == 2 and words in res.stderr, (number, res.stderr)
        assert "Traceback" not in res.stderr
    assert lab_pbx.originates == 0
    # The global list applies whatever region is allowed; --allow-region allows GB's fixed lines, not its premium rate.
    res = _cli_call(capsys, monkeypatch, env, "--operator", "101", "--allow-region", "GB", "+449090901234")
    assert res.returncode == 2 and "a premium rate number" in res.stderr, res.stderr
    res = _cli_call(capsys, monkeypatch, env, "--operator", "101", "--allow-region", "XX", "89061234561")
    assert res.returncode == 2 and "--allow-region" in res.stderr and "'XX' is not a phonenumbers region" in res.stderr
    assert lab_pbx.originates == 0
    # A store that cannot be read: refused, never dialed unchecked.
    down = dict(env, AUTODIALER_DATABASE_URL="postgresql+psycopg2://autodialer:pw@127.0.0.1:1/none")
    res = _cli_call(capsys, monkeypatch, down, "--operator", "101", "89061234561")
    assert res.returncode == 2 and "cannot check the do-not-call list in postgresql+psycopg2://autodialer:***@" in res.stderr
    assert "nothing was dialed" in res.stderr and lab_pbx.originates == 0
    # Within policy: dialed (GB's fixed line once allowed; the lab's client number is RU).
    res = _cli_call(capsys, monkeypatch, env, "--operator", "101", "--json", "89061234561")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["result"] == "connected" and lab_pbx.originates == 1
    res = _cli_call(capsys, monkeypatch, env, "--operator", "101", "--allow-region", "GB", "--json", "+442079460951")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["number"] == "+442079460951" and lab_pbx.originates == 2
