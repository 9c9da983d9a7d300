"""Shared pieces of the fault tests: a small campaign on disk, and the campaign's run built bare
(autodialer.dialer.run.open_run, as the flows build it, without Prefect) so a fault can be injected while
calls are in flight. The SIGKILL test runs the real `autodialer run` instead."""

from __future__ import annotations

import asyncio
import collections
import csv
from pathlib import Path

import sqlalchemy as sa
import yaml

from autodialer.campaigns.campaign import load_campaign
from autodialer.config import parse_ami_url
from autodialer.pacing.limits import CallLimiter
from autodialer.dialer.run import HeldRun, open_run
from autodialer.store import Store
from autodialer.telephony.ami import AmiSession
from autodialer.telephony.engine import DialEngine

ALL_DAY = {"windows": [{"days": "daily", "start": "00:00", "end": "23:59:59"}]}
# The policy of the fault campaigns: at most 3 attempts a contact; FAILED retried after 10 min.
RETRY = {
    "max_attempts": 3,
    "outcomes": {
        "BUSY": {"interval": "10m", "max_attempts": 2},
        "NO_ANSWER": {"interval": "10m", "max_attempts": 2},
        "CONGESTION": {"interval": "10m", "max_attempts": 2},
        "FAILED": {"interval": "10m", "max_attempts": 3},
    },
}


def numbers(n: int, digits: str = "1234", start: int = 0) -> list[str]:
    """n distinct Russian mobiles whose last digit (the lab's plan) cycles through `digits`."""
    return [f"+7906{start + i:06d}{digits[i % len(digits)]}" for i in range(n)]


def write_campaign(directory: Path, phones: list[str], *, name: str = "faults", **overrides) -> Path:
    """A campaign file with its list (phone, name, sim_press) in `directory`; windows open all day."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "list.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name", "sim_press"])
        for i, p in enumerate(phones):
            w.writerow([p, f"Customer {i}", "1"])
    raw = {
        "name": name,
        "kind": "order_confirmation",
        "default_region": "RU",
        "lists": ["list.csv"],
        "list": {"phone_columns": ["phone"], "variables": {"CUSTOMER": "name", "SIM_PRESS": "sim_press"}},
        "schedule": {"cron": "*/20 * * * *", "timezone": "UTC"},
        "windows": ALL_DAY,
        "retry": RETRY,
        "destination": {"type": "robot", "context": "dialer-robot-order", "queue": "support"},
        "trunk": "lab",
        "max_concurrent_calls": 10,
        "max_originates_per_second": 50,
        "ring_timeout": "15s",
        "max_call_duration": "30s",
    }
    raw.update(overrides)
    path = directory / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def load_into_store(campaign_file: Path, db_url: str):
    """(campaign, store, campaign_id) with the campaign's list imported."""
    campaign = load_campaign(campaign_file)
    store = Store(db_url)
    store.migrate()
    campaign_id = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
    for path in campaign.list_paths():
        store.import_list(campaign_id, path, campaign.list_settings())
    return campaign, store, campaign_id


def session_for(url: str, **kw) -> AmiSession:
    kw.setdefault("reconnect_initial", 0.05)
    kw.setdefault("reconnect_max", 0.5)
    kw.setdefault("ping_interval", 0)
    return AmiSession(parse_ami_url(url), **kw)


async def dial_due(campaign, store, campaign_id, ami: AmiSession, *, during=None, result_grace: float = 1.0,
                   backoff=None, limiter: CallLimiter | None = None, cdr=None, now=None, journal=None,
                   flush: float = 0.0):
    """Dial every due contact once, concurrently, as the flow does; `during(engine)` (a coroutine)
    runs alongside (the fault). `now`: the time contacts are due by (default: now). Returns the
    AttemptOutcomes."""
    from datetime import datetime, timezone

    # The engine on the session the test breaks; the run around it as every flow builds it.
    engine = DialEngine(ami, outbound_context=campaign.outbound_context, result_grace=result_grace, cdr=cdr)
    kw = {} if backoff is None else {"backoff": backoff}
    held = HeldRun("test", None, journal)
    async with open_run(campaign, store, campaign_id, engines=engine, held=held, pacer=limiter, pace=False, **kw) as run:
        dialer = run.dialer
        contacts = await asyncio.to_thread(store.due_contacts, campaign_id, now=now or datetime.now(timezone.utc))
        work = asyncio.gather(*(dialer.attempt(c) for c in contacts))
        if during is not None:
            _, outcomes = await asyncio.gather(during(engine), work)
        else:
            outcomes = await work
        if flush:  # the flow waits for the journal to reach the database before it ends
            assert await dialer.flush(flush), "the journal did not reach the database"
            outcomes = [dialer.outcomes.get(o.contact_id, o) if o.journaled else o for o in outcomes]
    return outcomes


def rows(db_url: str, query: str) -> list[dict]:
    """The rows of one SQL query, as dicts, on a short-lived engine (tests read the store as analysts do)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(query)).mappings()]
    finally:
        engine.dispose()


def attempts_table(db_url: str) -> list[dict]:
    return rows(db_url,
                "SELECT a.attempt_id, a.number, a.status, a.error, a.failure, a.channel_id, c.state, c.attempts, c.next_attempt_at "
                "FROM attempts a JOIN contacts c ON c.id = a.contact_id ORDER BY a.started_at")


def contacts_table(db_url: str) -> list[dict]:
    return rows(db_url, "SELECT id, phone, state, attempts, last_status, next_attempt_at FROM contacts ORDER BY id")


def assert_no_double_dials(tap, db_url: str, *, max_attempts: int) -> collections.Counter:
    """Per number: Originates that reached the PBX == attempt rows <= the policy's cap; every
    ChannelId (= attempt id) was sent at most once and is an attempt row. Returns the counter."""
    sent = tap.originates()
    ids = collections.Counter(o["ChannelId"] for o in sent)
    assert all(n == 1 for n in ids.values()), f"an attempt was originated twice: {[i for i, n in ids.items() if n > 1]}"
    at_pbx = collections.Counter(o["Channel"].split("/", 1)[1].split("@", 1)[0] for o in sent)
    rows = attempts_table(db_url)
    in_store = collections.Counter(r["number"] for r in rows)
    row_ids = {r["attempt_id"] for r in rows}
    assert set(ids) <= row_ids, f"originated without an attempt row: {set(ids) - row_ids}"
    sent_but_unrecorded = {n: at_pbx[n] for n in at_pbx if at_pbx[n] > in_store[n]}
    assert not sent_but_unrecorded, sent_but_unrecorded
    assert max(in_store.values(), default=0) <= max_attempts
    return at_pbx
