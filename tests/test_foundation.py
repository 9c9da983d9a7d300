"""The foundation: configuration errors, the CLI, the real PostgreSQL fixture, Prefect's API."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autodialer import config
from autodialer.errors import ConfigError


def test_ami_url_parsed():
    s = config.parse_ami_url("ami://dialer:s%40cret@10.0.0.5:5039")
    assert (s.host, s.port, s.username, s.secret) == ("10.0.0.5", 5039, "dialer", "s@cret")
    assert "s@cret" not in repr(s) and "s@cret" not in s.redacted_url()


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://u:p@h:5038", "must start with ami://"),
        ("ami://h:5038", "needs a user and a secret"),
        ("ami://u:p@h:notaport", "not a valid URL"),
        ("ami://u:p@:5038", "has no host"),
        ("ami://u:p@h:5038/x", "must not have a path"),
    ],
)
def test_bad_ami_url_names_the_variable(url, words):
    with pytest.raises(ConfigError) as err:
        config.ami_settings({config.AMI_URL_VAR: url})
    assert config.AMI_URL_VAR in str(err.value) and words in str(err.value)
    assert ":p@" not in str(err.value)


def test_database_url_default_and_errors():
    assert config.database_url({}) == "sqlite:///autodialer.db"
    with pytest.raises(ConfigError, match=config.DATABASE_URL_VAR):
        config.database_url({config.DATABASE_URL_VAR: "not a url"})
    with pytest.raises(ConfigError, match="only postgresql and sqlite"):
        config.database_url({config.DATABASE_URL_VAR: "mysql://u:p@h/db"})


def test_cli_help_lists_existing_subcommands():
    out = subprocess.run([sys.executable, "-m", "autodialer", "--help"], capture_output=True, text=True, check=True).stdout
    from autodialer.cli import available_commands

    assert "config" in available_commands()
    for command in available_commands():
        assert command in out


def test_cli_bad_setting_is_a_clear_error(monkeypatch):
    env = {"AUTODIALER_AMI_URL": "ami://nouser@h:1", "PATH": ""}
    proc = subprocess.run([sys.executable, "-m", "autodialer", "config"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "AUTODIALER_AMI_URL needs a user and a secret" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.postgres
def test_postgres_fixture_is_a_real_server(pg_url):
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("select version()")).scalar_one()
    engine.dispose()
    assert version.startswith("PostgreSQL")


@pytest.mark.prefect
def test_prefect_ephemeral_api_runs_a_flow(prefect_api):
    from prefect import flow, task

    @task(task_run_name="double-{x}")
    def double(x: int) -> int:
        return 2 * x

    @flow
    def tiny() -> int:
        return double(21)

    assert tiny() == 42
