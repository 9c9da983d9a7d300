"""Call files: written atomically and safely, results read back from the archive."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autodialer.errors import UnsafeValueError
from autodialer.telephony.outcomes import CallStatus
from autodialer.telephony.callfiles import call_file_text, parse_archived, read_call_result, write_call_file

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk-22"


def _directives(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split(": ", 1)) for line in text.splitlines() if ": " in line]


def test_written_file_has_the_recorded_format(tmp_path: Path):
    path = write_call_file(
        tmp_path, "79061234562", context="from-dialer", caller_id='"Dialer" <1000>', max_retries=1, retry_time=5,
        wait_time=10, variables={"CAMPAIGN_ID": "42"}, attempt_id="cf-0001",
    )
    assert path == tmp_path / "outgoing" / "cf-0001.call"
    written = dict(_directives(path.read_text()))
    # Every directive of the recorded cf-busy.call (what a real Asterisk 22 accepted), same values.
    recorded = dict(_directives((FIXTURES / "cf-busy.call").read_text().split("\n\n")[0]))
    recorded["Channel"] = "Local/79061234562@dialer-outbound"
    for key, value in recorded.items():
        if key in ("StartRetry", "EndRetry", "Status", "Set"):
            continue
        assert written[key] == value, key
    assert ("Set", "CAMPAIGN_ID=42") in _directives(path.read_text())
    assert ("Set", "ATTEMPT_ID=cf-0001") in _directives(path.read_text())
    assert list((tmp_path / "tmp").iterdir()) == []  # the temp file was renamed, not copied


def test_application_data_form():
    text = call_file_text("79061234561", application="Wait", data="8")
    assert "Application: Wait\nData: 8\n" in text and "Context:" not in text


def test_future_mtime_schedules_the_call(tmp_path: Path):
    when = datetime.now(timezone.utc) + timedelta(minutes=10)
    path = write_call_file(tmp_path, "79061234561", context="from-dialer", at=when, attempt_id="later")
    assert abs(os.stat(path).st_mtime - when.timestamp()) < 1e-3
    path2 = write_call_file(tmp_path, "79061234561", context="from-dialer", attempt_id="now")
    assert abs(os.stat(path2).st_mtime - time.time()) < 5


def test_same_attempt_twice_is_refused(tmp_path: Path):
    write_call_file(tmp_path, "79061234561", context="from-dialer", attempt_id="dup")
    with pytest.raises(UnsafeValueError, match="already waiting"):
        write_call_file(tmp_path, "79061234561", context="from-dialer", attempt_id="dup")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(number="7906123\n4561"), "number"),
        (dict(number="79061234561", context="from-dialer\nApplication: System"), "context"),
        (dict(number="79061234561", caller_id="x\nApplication: System"), "caller_id"),
        (dict(number="79061234561", variables={"A": "1\nApplication: System"}), "variable A"),
        (dict(number="79061234561", variables={"A": "${SHELL(id)}"}), "variable A"),
        (dict(number="79061234561", attempt_id="../../etc/x"), "attempt_id"),
        (dict(number="79061234561", max_retries=-1), "max_retries"),
    ],
)
def test_unsafe_values_are_refused_and_nothing_is_written(tmp_path: Path, kwargs, field):
    kwargs = {"context": "from-dialer", **kwargs}
    number = kwargs.pop("number")
    with pytest.raises(UnsafeValueError) as err:
        write_call_file(tmp_path, number, **kwargs)
    assert str(err.value).startswith(field)
    assert not (tmp_path / "outgoing").exists() or list((tmp_path / "outgoing").iterdir()) == []


@pytest.mark.parametrize(
    "fixture, archive_status, status, attempts",
    [("cf-answer.call", "Completed", CallStatus.ANSWERED, 1), ("cf-busy.call", "Expired", CallStatus.NO_ANSWER, 2), ("cf-bad.call", "Failed", CallStatus.FAILED, 0)],
)
def test_archived_results_from_a_real_asterisk(tmp_path: Path, fixture, archive_status, status, attempts):
    (tmp_path / "outgoing_done").mkdir()
    assert read_call_result(tmp_path, fixture) is None  # not archived yet
    shutil.copy(FIXTURES / fixture, tmp_path / "outgoing_done" / fixture)
    outcome = read_call_result(tmp_path, fixture)
    assert (outcome.archive_status, outcome.status, outcome.attempts) == (archive_status, status, attempts)
    assert outcome.number.startswith("7906123456")
    result = outcome.as_call_result()
    assert result.status is status
    assert (result.error is not None) == (status is CallStatus.FAILED)


def test_attempt_id_comes_back_from_the_archive():
    outcome = parse_archived("x.call", "Channel: Local/79061234561@dialer-outbound\nSet: ATTEMPT_ID=a-1\nStartRetry: 1 1 (1)\nStatus: Completed\n")
    assert outcome.attempt_id == "a-1" and outcome.as_call_result().attempt_id == "a-1"
    assert parse_archived("x.call", "Channel: Local/1@x\n") is None
