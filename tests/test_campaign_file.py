"""Campaign files: the shipped ones load, broken ones fail naming the field (their deployments:
tests/test_deploy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autodialer.campaigns.campaign import load_campaign
from autodialer.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = sorted((ROOT / "campaigns").glob("*.yaml"))


@pytest.mark.parametrize("path", CAMPAIGNS, ids=lambda p: p.name)
def test_shipped_campaigns_load(path):
    campaign = load_campaign(path)
    for p in campaign.list_paths() + campaign.exclusion_paths():
        assert p.is_file(), f"{path.name} names a missing file {p}"
    assert campaign.ring_timeout >= 15


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


BASE = """
name: t
kind: order_confirmation
schedule: {cron: "0 9 * * 1-5", timezone: Europe/Moscow}
destination: {type: robot}
"""


@pytest.mark.parametrize(
    "extra, words",
    [
        ("ring_timeout: 5s\n", "ring_timeout: ring for at least 15 s"),
        # The engine refuses more than an hour: a load error, not INVALID_NUMBER for every contact.
        ("ring_timeout: 2h\n", "ring_timeout: ring_timeout: 7200.0 is not a number of seconds in (0, 3600]"),
        ("max_call_duration: 0s\n", "max_call_duration: a call needs a positive maximum duration"),
        ("min_ring: 0s\n", "min_ring: a call needs a positive minimum ring"),
        ("min_ring: 45s\n", "min_ring: 45 s is longer than the ring timeout (30 s)"),
        ("max_concurrent_calls: 0\n", "max_concurrent_calls:"),
        ("caller_ids: ['+7495x']\n", "caller_ids: '+7495x' is not a dialable number"),
        ("retry: {outcomes: {BUSY: {interval: 5 minutes, max_attempts: 3}}}\n", "retry.outcomes.BUSY.interval"),
        ("windows: {windows: [{days: mon, start: '10:00', end: '09:00'}]}\n", "windows.windows.0"),
        ("variables: {GREETING: {value: \"hi\\r\\nAction: Originate\", kind: text}}\n", "control character"),
        ("variables: {GREETING: \"hi, there\"}\n", "variables: variable GREETING: value: 'hi, there' is not a token"),
        ("variables: {ORDER_ID: '12,s'}\n", "variable ORDER_ID: value: '12,s' is not digits"),
        ("variables: {QUEUE: sales}\n", "variable QUEUE: QUEUE is set by the campaign's destination"),
        ("variables: {SURVEY_Q1: x}\n", "variable SURVEY_Q1: SURVEY_Q1 is set by the survey script"),
        ("variables: {__ATTEMPT_ID: x}\n", "__ATTEMPT_ID is set by the dialer for every call"),
        ("list: {variables: {CONF_ROOM: room}}\n", "list.variables: variable CONF_ROOM (column 'room'): CONF_ROOM is set by the campaign's destination"),
        ("list: {variables: {CAMPAIGN: c}}\n", "variable CAMPAIGN (column 'c'): CAMPAIGN is set by the dialer"),
        ("list: {variables: {CLIENT_NUMBER: c}}\n", "CLIENT_NUMBER is set by click-to-call"),
        ("list: {variables: {ORDER_ID: {column: o, kind: text}}}\n", "the dialplan reads ORDER_ID as digits; it cannot be text"),
        ("list: {variables: {CONF_ROLE: {column: r, kind: enum, values: [boss]}}}\n", "CONF_ROLE is an enum of moderator, listener, participant"),
        ("list: {variables: {X: {column: r, kind: colour}}}\n", "variable X (column 'r'): kind: Input should be 'digits'"),
        ("outbound_context: 'x/y'\n", "outbound_context"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
        ("default_region: XX\n", "default_region"),
    ],
)
def test_bad_campaign_fields_are_named(tmp_path, extra, words):
    with pytest.raises(ConfigError) as err:
        load_campaign(write(tmp_path, BASE + extra))
    assert words in str(err.value)
    assert str(tmp_path / "c.yaml") in str(err.value)


def test_bad_schedule_and_destination(tmp_path):
    text = BASE.replace('"0 9 * * 1-5"', '"61 9 * * *"').replace("{type: robot}", "{type: queue}")
    with pytest.raises(ConfigError) as err:
        load_campaign(write(tmp_path, text))
    assert "schedule.cron" in str(err.value) and "destination: type 'queue' needs a queue name" in str(err.value)


def test_not_yaml_and_missing(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_campaign(write(tmp_path, "name: [unclosed"))
    with pytest.raises(ConfigError, match="campaign file not found"):
        load_campaign(tmp_path / "nope.yaml")
