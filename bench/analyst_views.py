"""Time the analysts' views (abandonment_daily, compliance_daily, attempts_hourly) on a hand-built attempts table:
`python bench/analyst_views.py N REVISION postgresql|sqlite`: N attempts over 60 days, two campaigns, 20,000 numbers;
REVISION `head` or an older one to compare; AUTODIALER_TEST_DATABASE_URL's server (a scratch database, dropped after;
KEEPDB=1 keeps it and prints its URL)."""
import random, sys, time, uuid, os
from datetime import datetime, timedelta, timezone
import sqlalchemy as sa
from autodialer.store import Store
from autodialer.store import schema as t

N = int(sys.argv[1]); REV = sys.argv[2]; ONLY = sys.argv[3]
base = os.environ.get("AUTODIALER_TEST_DATABASE_URL", "postgresql+psycopg2://autodialer:autodialer@127.0.0.1:5432/autodialer_test")
name = "t_views_bench_" + uuid.uuid4().hex[:6]
admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
with admin.connect() as c: c.execute(sa.text(f'CREATE DATABASE "{name}"'))
pg = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
DB = "/tmp/autodialer_views_bench.db"
if os.path.exists(DB): os.remove(DB)
try:
    for url in (pg, f"sqlite:///{DB}"):
        if ONLY not in url: continue
        s = Store(url); s.migrate_to(REV)
        cids = [s.ensure_campaign(f"c{i}", kind="bot", settings={"schedule": {"timezone": "Europe/Moscow"}, "amd": {"false_machine_rate": 0.1}}) for i in range(2)]
        rnd = random.Random(1)
        t0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
        with s.engine.begin() as conn:
            conn.execute(t.contacts.insert(), [dict(campaign_id=cids[i % 2], phone=f"+7906{i:07d}", alternates=[], timezone="Europe/Moscow",
                         timezone_source="registry", variables={}, upload_id=0, row_number=i, created_at=t0) for i in range(20000)])
            ids = [r[0] for r in conn.execute(sa.select(t.contacts.c.id, t.contacts.c.campaign_id).order_by(t.contacts.c.id))]
            rows = []
            for j in range(N):
                k = j % 20000
                st = t0 + timedelta(seconds=rnd.randrange(60 * 86400))
                status = rnd.choices(["ANSWERED", "ABANDONED", "BUSY", "NO_ANSWER", "MACHINE"], [35, 2, 20, 38, 5])[0]
                rows.append(dict(attempt_id=f"a{j}", contact_id=ids[k], campaign_id=cids[k % 2], number=f"+7906{k:07d}", started_at=st,
                                 status=status, answered_at=st + timedelta(seconds=8) if status in ("ANSWERED", "ABANDONED", "MACHINE") else None,
                                 amd_action="hangup" if status == "MACHINE" else None, callee_zones="Europe/Moscow",
                                 local_start=(st + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S"),
                                 **({} if REV < "0010" else {"campaign_local_start": (st + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")}), outside_window=0))
                if len(rows) == 20000:
                    conn.execute(t.attempts.insert(), rows); rows = []
            if rows: conn.execute(t.attempts.insert(), rows)
        if s.dialect == "postgresql":
            with s.engine.begin() as conn: conn.execute(sa.text("ANALYZE"))
        for q in ("SELECT * FROM abandonment_daily WHERE campaign = 'c0'", "SELECT * FROM compliance_daily WHERE campaign = 'c0'",
                  "SELECT * FROM attempts_hourly WHERE campaign = 'c0'"):
            with s.engine.connect() as conn:
                a = time.perf_counter(); n = len(conn.execute(sa.text(q)).all()); b = time.perf_counter()
            print(f"{s.dialect:10s} {N} attempts: {q[14:40]:28s} {n:5d} rows {b - a:6.2f} s", flush=True)
        s.close(); s.engine.dispose()
finally:
    if os.environ.get("KEEPDB"): print(pg)
    else:
     with admin.connect() as c: c.execute(sa.text(f"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
