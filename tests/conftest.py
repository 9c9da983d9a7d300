"""Shared fixtures. Real parts only: PostgreSQL (one fixture), SQLite, Prefect's ephemeral API."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import hypothesis  # noqa: F401  (see below)
import pytest

# hypothesis is imported here, at collection, not first by its pytest plugin's end-of-session
# summary: there, deep in pluggy's call stack, pytest's assertion rewriting of hypothesis trips
# CPython 3.11.7's "SystemError: AST constructor recursion depth mismatch", and a run of files
# that never import hypothesis (e.g. tests/test_store_dialing.py alone) exits 1 with every test passed.

ROOT = Path(__file__).resolve().parents[1]
# A copy of ../shared/asterisk-22 (recorded from a real Asterisk 22.10.1) lives in the repo so CI has it.
TRANSCRIPTS = ROOT / "tests" / "fixtures" / "asterisk-22"

# Prefect's state stays under the project; quiet logs, no telemetry. Set before prefect is imported.
os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
os.environ.pop("PREFECT_API_URL", None)  # never talk to a developer's running server

PG_ADMIN_URL_VAR = "AUTODIALER_TEST_DATABASE_URL"


@pytest.fixture(autouse=True)
def journal_dir(tmp_path, monkeypatch) -> Path:
    """Every test has its own local journal directory (autodialer.dialer.journal), never the user's."""
    path = tmp_path / "journal"
    monkeypatch.setenv("AUTODIALER_JOURNAL_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the test database on the real PostgreSQL server that .ci/run starts."""
    url = os.environ.get(PG_ADMIN_URL_VAR)
    if not url:
        if os.environ.get("AUTODIALER_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_ADMIN_URL_VAR} is not set but AUTODIALER_REQUIRE_POSTGRES is")
        pytest.skip(f"PostgreSQL not available: set {PG_ADMIN_URL_VAR} (bash .ci/run does)")
    return url


@pytest.fixture
def pg_url(pg_server_url: str):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(pg_server_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin, name: str) -> None:
    """DROP ... WITH (FORCE), retried: an autovacuum worker busy in the database (after a big
    load) cannot be terminated by a non-superuser ("must be a member of the role whose process
    is being terminated"); it finishes within moments."""
    import time

    import sqlalchemy as sa

    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.ProgrammingError as exc:
            if "pg_signal_backend" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.25)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The embedded default: a SQLite file."""
    return f"sqlite:///{tmp_path / 'autodialer.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Run a test on both stores: the embedded default and the production one."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def prefect_api():
    """Prefect's real (ephemeral, temporary-database) API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = TRANSCRIPTS
    if not path.is_dir():
        pytest.fail(f"reference transcripts missing: {path}")
    return path


# --- lab PBX (autodialer/lab) --------------------------------------------------------------------
@pytest.fixture
def lab_pbx():
    """A running lab PBX on an ephemeral loopback port, timings x0.02; `.url`, `.host`, `.port`."""
    from autodialer.lab import running_lab

    with running_lab(time_scale=0.02) as lab:
        yield lab
