"""What the contact-frequency check costs a claim (Store.claim_attempt with a FrequencyRule):
claims per second and ms per claim on PostgreSQL, without limits and with ru-230fz's (1 a day,
2 a week, 8 a month), against an attempts table holding a month of history for every number.

    .venv/bin/python bench/claim_limits.py                 # 2,000 numbers, 12,000 past attempts (all within limits)
    .venv/bin/python bench/claim_limits.py --history 15   # 30,000 past attempts (7 this month a number)

Needs AUTODIALER_TEST_DATABASE_URL (a server where it may create and drop a database).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autodialer.rules.frequency import ContactLimits, FrequencyRule  # noqa: E402
from autodialer.store import Store  # noqa: E402
from autodialer.store import schema as t  # noqa: E402
from autodialer.rules.windows import CallingWindows  # noqa: E402

UTC = timezone.utc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--numbers", type=int, default=2000)
    ap.add_argument("--history", type=int, default=6, help="past attempts per number over the last month")
    args = ap.parse_args()
    server = os.environ["AUTODIALER_TEST_DATABASE_URL"]
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        run(url, args)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, args) -> None:
    store = Store(url)
    store.migrate()
    now = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # a Monday, 12:00 in Moscow
    past = store.ensure_campaign("past", kind="bot")
    plain, limited = store.ensure_campaign("plain", kind="bot"), store.ensure_campaign("limited", kind="bot")
    phones = [f"+7906{i:07d}" for i in range(args.numbers)]
    with store.engine.begin() as conn:
        for cid in (past, plain, limited):
            conn.execute(t.contacts.insert(), [
                {"campaign_id": cid, "phone": p, "alternates": [], "timezone": "Europe/Moscow", "variables": {},
                 "upload_id": 0, "row_number": i, "created_at": now} for i, p in enumerate(phones)])
        ids = dict(conn.execute(sa.select(t.contacts.c.phone, t.contacts.c.id).where(t.contacts.c.campaign_id == past)).all())
        rows = []
        for p in phones:
            for k in range(args.history):  # spread over the last 30 days, none in the last day
                rows.append({"attempt_id": uuid.uuid4().hex, "contact_id": ids[p], "campaign_id": past, "number": p,
                             "started_at": now - timedelta(days=1 + 29 * k / args.history, hours=1), "status": "BUSY"})
        conn.execute(t.attempts.insert(), rows)
    with store.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
    windows = CallingWindows()
    rules = {"plain": None,
             "limited": FrequencyRule(ContactLimits(per_day=1, per_week=2, per_month=8), ("Europe/Moscow",), windows, 15.0)}
    print(f"PostgreSQL, {args.numbers} numbers, {len(phones) * args.history} past attempts ({args.history} a number)")
    for label, cid in (("limited", limited), ("plain", plain)):  # limited first: plain's claims would count against it
        contacts = store.due_contacts(cid, now=now)
        start = time.perf_counter()
        claimed = 0
        for c in contacts:
            claimed += bool(store.claim_attempt(c.id, attempt_id=uuid.uuid4().hex, number=c.phone, now=now,
                                                max_attempts=10, rule=rules[label]))
        secs = time.perf_counter() - start
        print(f"{label:8s}: {len(contacts)} claims in {secs:.2f} s = {len(contacts) / secs:,.0f}/s, "
              f"{1000 * secs / len(contacts):.2f} ms a claim ({claimed} claimed)")
    store.close()


if __name__ == "__main__":
    main()
