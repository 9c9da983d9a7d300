"""Prefect's own standard block tests, plus a save/load round trip on the real ephemeral API."""

import pytest
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from blocks.asterisk import AsteriskAMI, CdrDatabase, OutcomeDatabase


class TestAsteriskAMIStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return AsteriskAMI


class TestOutcomeDatabaseStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return OutcomeDatabase


class TestCdrDatabaseStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return CdrDatabase


def test_cdr_block_keeps_the_password_secret():
    block = CdrDatabase.from_url("postgresql+psycopg2://asterisk:p%40ss@db.example:5433/asterisk")
    assert "p@ss" not in repr(block) and "p@ss" not in str(block.model_dump())
    assert block.password.get_secret_value() == "p@ss" and block.port == 5433
    assert block.sqlalchemy_url() == "postgresql+psycopg2://asterisk:p%40ss@db.example:5433/asterisk"


def test_ami_block_keeps_the_secret_out_of_reprs():
    block = AsteriskAMI.from_url("ami://dialer:top-secret@10.1.2.3:5039")
    assert "top-secret" not in repr(block) and "top-secret" not in str(block.model_dump())
    assert block.settings().secret == "top-secret" and block.settings().port == 5039


@pytest.mark.prefect
def test_blocks_save_and_load_through_the_api(prefect_api):
    AsteriskAMI(host="127.0.0.1", port=5038, username="dialer", secret="s3cret").save("lab", overwrite=True)
    OutcomeDatabase(url="sqlite:///x.db").save("store", overwrite=True)
    loaded = AsteriskAMI.load("lab")
    assert loaded.secret.get_secret_value() == "s3cret" and loaded.port == 5038
    assert OutcomeDatabase.load("store").sqlalchemy_url() == "sqlite:///x.db"
