"""Migrations: the schema they build is the one the code uses; an upgrade keeps the data."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import sqlalchemy as sa

from autodialer.store import Store
from autodialer.store.schema import metadata

NEXT_REVISION = '''
"""test-only: a later revision that adds a column, as real upgrades will"""
from alembic import op
import sqlalchemy as sa

revision = "0099"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("note", sa.Text, nullable=True))
    op.execute("UPDATE contacts SET note = 'migrated'")


def downgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("note")
'''


def test_migrated_schema_matches_the_tables_the_code_uses(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = Store(db_url)
    store.migrate()
    store.migrate()  # idempotent
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        views = set(sa.inspect(conn).get_view_names())
    store.close()
    assert diffs == []
    assert views == {"campaign_summary", "outcomes_by_hour", "contact_attempts", "live_answers", "compliance_daily",
                     "attempts_hourly", "abandonment_daily", "caller_id_daily", "results_by_campaign", "survey_answers",
                     "rejects_by_upload"}


def test_upgrade_keeps_data(db_url, tmp_path):
    from autodialer.store.store import MIGRATIONS

    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    # The head by the chain, not by file name: revision ids are handed out ahead and chained in
    # the order they land (0005 may come after 0006).
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    heads = list(ScriptDirectory.from_config(cfg).get_heads())
    assert len(heads) == 1, heads
    (scripts / "versions" / "0099_test_note.py").write_text(NEXT_REVISION.replace("{head}", heads[-1]), encoding="utf-8")

    store = Store(db_url)
    store.migrate()
    cid = store.ensure_campaign("keep", kind="k")
    path = tmp_path / "l.csv"
    path.write_text("phone,name\n89061234561,Анна\n89061234562,Борис\n", encoding="utf-8")
    from autodialer.lists.mapping import ListSettings

    store.import_list(cid, path, ListSettings.model_validate({"name": "keep", "kind": "k", "list": {"variables": {"NAME": "name"}}}))
    now = datetime(2026, 11, 28, 9, tzinfo=timezone.utc)
    first = store.due_contacts(cid, now=now)[0]
    assert store.claim_attempt(first.id, attempt_id="a1", number=first.phone, now=now, max_attempts=3)

    store.migrate_to("0099", script_location=scripts)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*), MIN(note) FROM contacts")).one() == (2, "migrated")
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0099"
    after = store.contact(first.id)
    assert (after.phone, after.variables, after.state, after.attempts) == (first.phone, {"NAME": "Анна"}, "dialing", 1)
    assert after.source == first.source and store.status_counts(first.id) == {"DIALING": 1}
    assert store.summary("keep")[0]["contacts"] == 2  # the views survive SQLite's table rebuild

    store.migrate_to(heads[-1], script_location=scripts)  # and back down, still with the data
    assert store.contact(first.id).variables == {"NAME": "Анна"}
    store.close()
