"""contacts.timezone holds every zone the calling window is evaluated in (space-separated, e.g.
`Asia/Yakutsk Asia/Ust-Nera Asia/Srednekolymsk`), no longer the first of phonenumbers'
candidates (`Asia/Almaty` for every Russian mobile); contacts.timezone_source says where they
came from (registry, area_code, phonenumbers, country). Existing contacts are recomputed from
their numbers with the lookup of this release (autodialer.zones).

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 10_000


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("timezone", type_=sa.Text, existing_type=sa.String(64), existing_nullable=True)
        batch.add_column(sa.Column("timezone_source", sa.String(20), nullable=True))
    _recompute(op.get_bind())


def _recompute(conn) -> None:
    from autodialer.zones import callee_zones

    contacts = sa.table("contacts", sa.column("id", sa.BigInteger), sa.column("phone", sa.String),
                        sa.column("timezone", sa.Text), sa.column("timezone_source", sa.String))
    update = (contacts.update().where(contacts.c.id == sa.bindparam("cid"))
              .values(timezone=sa.bindparam("tz"), timezone_source=sa.bindparam("src")))
    last = -1
    while True:
        rows = conn.execute(sa.select(contacts.c.id, contacts.c.phone).where(contacts.c.id > last)
                            .order_by(contacts.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for cid, phone in rows:
            zones = callee_zones(phone)
            params.append({"cid": cid, "tz": zones.text, "src": zones.source.value if zones.source else None})
        conn.execute(update, params)
        last = rows[-1][0]


def downgrade() -> None:
    op.execute("UPDATE contacts SET timezone = substr(timezone, 1, strpos(timezone || ' ', ' ') - 1)"
               if op.get_bind().dialect.name == "postgresql" else
               "UPDATE contacts SET timezone = substr(timezone, 1, instr(timezone || ' ', ' ') - 1)")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("timezone_source")
        batch.alter_column("timezone", type_=sa.String(64), existing_type=sa.Text, existing_nullable=True)
