"""Bot / IVR survey: the script section, the dialplan's DialerAnswer reports, answers per contact
(`q1=3;q2=1`) and per question, end to end through the campaign flow against the lab PBX."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from autodialer.campaigns.campaign import load_campaign
from autodialer.errors import ConfigError
from tests.faultkit import rows

ROOT = Path(__file__).resolve().parents[1]


def copy_campaign(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "campaigns" / "survey_sample.csv", tmp_path / "survey_sample.csv")
    shutil.copy(ROOT / "campaigns" / "dnc.csv", tmp_path / "dnc.csv")
    text = (ROOT / "campaigns" / "survey.yaml").read_text()
    text = text.replace('- {days: mon-fri, start: "10:00", end: "20:00"}', '- {days: daily, start: "00:00", end: "23:59:59"}')
    path = tmp_path / "survey.yaml"
    path.write_text(text)
    return path


@pytest.mark.prefect
def test_survey_campaign_stores_answers_per_contact_and_question(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from autodialer.store import Store
    from autodialer.kinds.survey import survey_answers
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    path = copy_campaign(tmp_path)
    state = asyncio.run(campaign_flow(str(path), run_minutes=0.5, return_state=True))
    assert state.is_completed(), state.message
    assert not lab_pbx.errors

    results = {r["phone"]: r for r in rows(pg_url, "select phone, result, last_status, state from contacts")}
    assert results["+79061234511"]["result"] == "q1=3;q2=1;q3=2"  # SIM_PRESS 312: one key per question
    assert results["+79061234521"]["result"] == "q1=5;q2=;q3="  # 3 is not an answer to q2 (valid keys 12); q3 timed out
    assert results["+79061234531"]["result"] == "no_input"  # answered, hung up during the first question
    assert results["+79061234561"]["result"] == "q1=4;q2=;q3=1"
    assert results["+79061234542"]["last_status"] == "BUSY" and results["+79061234542"]["result"] is None
    assert results["+79061234553"]["last_status"] == "NO_ANSWER"

    # The dialplan's reports are kept on the attempt: every question asked, DialerResult at the end.
    events = rows(pg_url, """select e ->> 'Question' as q, e ->> 'Key' as key
                             from attempts a join contacts c on c.id = a.contact_id,
                                  jsonb_array_elements(a.events::jsonb) e
                             where c.phone = '+79061234511' and e ->> 'UserEvent' = 'DialerAnswer' order by 1""")
    assert events == [{"q": "1", "key": "3"}, {"q": "2", "key": "1"}, {"q": "3", "key": "2"}]
    final = rows(pg_url, """select e ->> 'Result' as result from attempts a join contacts c on c.id = a.contact_id,
                            jsonb_array_elements(a.events::jsonb) e
                            where c.phone = '+79061234511' and e ->> 'UserEvent' = 'DialerResult'""")
    assert final == [{"result": "completed"}]

    table = survey_answers(Store(pg_url), load_campaign(path))
    anna = [(r["name"], r["key"], r["label"]) for r in table if r["phone"] == "+79061234511"]
    assert anna == [("satisfaction", "3", "neutral"), ("on_time", "1", "yes"), ("recommend", "2", "maybe")]
    assert len(table) == 3 * 4  # four answered calls, three questions each


SCRIPT_BASE = """
name: s
kind: bot
schedule: {cron: "0 9 * * 1-5", timezone: Europe/Moscow}
destination: {type: robot, context: dialer-robot-survey}
"""


@pytest.mark.parametrize("script, words", [
    ("script: {questions: []}\n", "script.questions"),
    ("script: {questions: [{prompt: 'a b'}]}\n", "prompt: 'a b' is not a sound file name"),
    ("script: {questions: [{prompt: '../etc/passwd'}]}\n", "is not a sound file name"),
    ("script: {questions: [{prompt: q1, valid_keys: '1x'}]}\n", "valid_keys: '1x' must be phone keys"),
    ("script: {questions: [{prompt: q1, valid_keys: '12', labels: {'3': maybe}}]}\n", "labels: key '3' is not one of"),
    ("script: {questions: [{prompt: q1, name: a}, {prompt: q2, name: a}]}\n", "names must differ"),
    ("script: {greeting: 'hi${X}', questions: [{prompt: q1}]}\n", "greeting"),
    ("script: {questions: [{prompt: q1, colour: red}]}\n", "colour: Extra inputs are not permitted"),
])
def test_bad_script_is_named(tmp_path, script, words):
    p = tmp_path / "c.yaml"
    p.write_text(SCRIPT_BASE + script)
    with pytest.raises(ConfigError) as err:
        load_campaign(p)
    assert words in str(err.value) and "script" in str(err.value)


def test_script_only_for_bot_campaigns(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(SCRIPT_BASE.replace("kind: bot", "kind: order_confirmation") + "script: {questions: [{prompt: q1}]}\n")
    with pytest.raises(ConfigError, match="script: only a 'bot' campaign"):
        load_campaign(p)


def test_result_string_from_reports():
    script = load_campaign(ROOT / "campaigns" / "survey.yaml").script
    ev = lambda q, k: {"UserEvent": "DialerAnswer", "Question": str(q), "Key": k}  # noqa: E731
    assert script.result_string([ev(1, "5"), ev(2, "2"), ev(3, "1")]) == "q1=5;q2=2;q3=1"
    assert script.result_string([ev(1, ""), ev(2, "9")]) == "no_input"  # 9 is not an answer to q2
    assert script.result_string([ev(2, "1"), ev(7, "1")]) == "q1=;q2=1;q3="
    assert script.result_string([]) == "no_input"
