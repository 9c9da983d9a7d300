"""The Prefect UI as the dashboard: a progress artifact per run, a results table per run, and the
keyed `campaigns` table (one row per campaign) that every run refreshes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.states import Completed, Failed, State

from autodialer.reports.dashboard import campaign_table, slug
from autodialer.dialer.dialing import AttemptOutcome, SkipKind
from autodialer.campaigns.privacy import Redactor

CAMPAIGNS_KEY = "campaigns"
PROGRESS_SECONDS = 5.0

# `autodialer run` prints these lines on its console (it gives this logger a handler of its own);
# elsewhere they exist only at AUTODIALER_LOG_LEVEL=INFO, in the run's logs.
progress_log = logging.getLogger("autodialer.progress")


class CampaignRun:
    """Progress and results of one run, published as artifacts."""

    def __init__(self, campaign, store, campaign_id: int, *, total: int, update_every: float = 1.0,
                 shown: Redactor = Redactor()):
        self.campaign = campaign
        self.shown = shown  # masks numbers in what goes to Prefect under mask_pii
        self.store = store
        self.campaign_id = campaign_id
        self.total = total
        self.finished = 0
        self.update_every = update_every
        self._last_update = 0.0
        self._progress_id = None
        self.statuses: Counter = Counter()  # last status per finished contact
        self.in_flight = lambda: 0  # calls up now: set to the engines' count once they exist
        self._started = time.monotonic()
        self._ticker: asyncio.Task | None = None
        self._started_at = datetime.now(timezone.utc)

    async def start(self) -> None:
        self._progress_id = await acreate_progress_artifact(
            0.0, key=f"{slug(self.campaign.name)}-progress", description=f"{self.campaign.name}: contacts dialed this run"
        )
        self._started = time.monotonic()
        if self.total and progress_log.isEnabledFor(logging.INFO):
            self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            progress_log.info("%s", self.progress_line())

    def progress_line(self) -> str:
        """`order-confirmation: dialed 120/3000, answered 80, busy 12, ..., in flight 10, 4.1/s, ETA 11m42s`"""
        elapsed = max(1e-6, time.monotonic() - self._started)
        rate = self.finished / elapsed
        left = self.total - self.finished
        others = ", ".join(f"{k.replace('_', ' ').lower()} {v}" for k, v in sorted(self.statuses.items())
                           if k not in ("ANSWERED", "BUSY"))
        eta = "ETA -" if rate <= 0 else f"ETA {_duration(left / rate)}"
        return (f"{self.campaign.name}: dialed {self.finished}/{self.total}, answered {self.statuses['ANSWERED']}, "
                f"busy {self.statuses['BUSY']}" + (f", {others}" if others else "")
                + f", in flight {self.in_flight()}, {rate:.1f}/s, {eta}")

    async def record(self, outcome: AttemptOutcome | None) -> None:
        """One contact finished in this run (all its in-run attempts). Throttled updates."""
        self.finished += 1
        if outcome is not None and outcome.result is not None:
            self.statuses[outcome.result.status.value] += 1
        now = time.monotonic()
        if self._progress_id and (now - self._last_update >= self.update_every or self.finished == self.total):
            self._last_update = now
            await aupdate_progress_artifact(self._progress_id, 100.0 * self.finished / max(1, self.total))

    async def finish(self, outcomes: dict[int, AttemptOutcome], loaded: list | None = None,
                     pacing: dict | None = None, paused: str | None = None) -> State:
        """The run's summary state; `loaded`: the IngestReport of each list file of the campaign;
        `pacing`: the pacer's stats (abandonment against the cap, calls stopped while ringing);
        `paused`: when the operators' pause switch held the run (flows/pause.py)."""
        if self._ticker is not None:
            self._ticker.cancel()
            if self.total:
                progress_log.info("%s", self.progress_line())
        if loaded:
            await acreate_table_artifact(
                [self._list_row(r) for r in loaded], key=f"{slug(self.campaign.name)}-lists",
                description=f"{self.campaign.name}: the list files this run loaded (or could not)")
        rows = [self._row(o, self.shown) for o in outcomes.values()]
        if rows:
            await acreate_table_artifact(
                rows, key=f"{slug(self.campaign.name)}-results", description=f"{self.campaign.name}: outcome per contact this run"
            )
        table = await asyncio.to_thread(campaign_table, self.store)
        await acreate_table_artifact(table, key=CAMPAIGNS_KEY, description="Every campaign: queue, list, successful and done counts")
        statuses = Counter(o.result.status.value for o in outcomes.values() if o.result)
        results = Counter(o.contact_result for o in outcomes.values() if o.contact_result)
        mine = next((r for r in table if r["campaign"] == self.campaign.name), None)
        message = (
            f"{self.campaign.name}: {sum(statuses.values())} contact(s) dialed"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})" if statuses else "")
            + (f"; results: {', '.join(f'{k} {v}' for k, v in sorted(results.items()))}" if results else "")
            + (f"; successful {mine['successful']}, done {mine['done']}" if mine else "")
        )
        if pacing and self.campaign.pacing.mode != "fixed":
            message += (f"; {self.campaign.pacing.mode} pacing: abandoned {pacing['abandoned']}/{pacing['answered']} "
                        f"live-answered ({pacing['abandon_rate']:.1%}, cap {self.campaign.pacing.abandon_cap:.0%})")
            if pacing.get("stopped_ringing"):
                message += f", {pacing['stopped_ringing']} stopped ringing (no operator free)"
        message += await self._zones_note(outcomes)
        if statuses:
            message += await self._compliance()
        if paused:
            left = sum(1 for o in outcomes.values() if o.skip is SkipKind.PAUSED)
            message += f"; {paused}" + (f", {left} contact(s) left for the next run" if left else "")
        fresh = [str(report) for report in (loaded or []) if not report.already_imported and report.error is None]
        if fresh:
            message = f"loaded {'; '.join(fresh)}. {message}"
        unreadable = [str(report) for report in (loaded or []) if report.error is not None]
        if unreadable:
            message = f"{'; '.join(unreadable)}. {message}"
        failed = statuses.get("FAILED", 0)
        if statuses and failed == sum(statuses.values()):
            return Failed(message=f"every call failed: is the PBX reachable? {message}")
        return Completed(message=message)

    async def _compliance(self) -> str:
        """The compliance figures (autodialer.reports.compliance, as `autodialer compliance` prints them)
        of the callee-local days this run dialed in, as the `<campaign>-compliance` markdown
        artifact; a note for the run's message. Numbers never appear in it (nothing to mask)."""
        from autodialer.reports.compliance import compliance_report

        start = (self._started_at - timedelta(days=1)).date()  # callee days run up to 14 h either side of UTC
        end = (datetime.now(timezone.utc) + timedelta(days=1)).date()
        report = await asyncio.to_thread(compliance_report, self.store, self.campaign, start=start, end=end)
        await acreate_markdown_artifact(
            report.markdown(), key=f"{slug(self.campaign.name)}-compliance",
            description=f"{self.campaign.name}: the rules per callee-local day (windows, limits, abandonment, DNC)")
        broken = report.violations()
        days = f"{report.days[0].day}..{report.days[-1].day}" if report.days else f"{start}..{end}"
        return (f"; compliance {days}: " + (f"{len(broken)} VIOLATION(S): {broken[0]}" if broken else "all rules held"))

    async def _zones_note(self, outcomes: dict[int, AttemptOutcome]) -> str:
        """How many callees could not be narrowed to one zone (called only when the window is open
        in every candidate): this run's and the campaign's, and those with no zone at all."""
        several = sum(1 for o in outcomes.values() if len(o.zones) > 1)
        counts = await asyncio.to_thread(self.store.zone_counts, self.campaign_id)
        note = (f"; zone not narrowed (window open in every candidate): {several} contact(s) this run, "
                f"{counts['several']} of the campaign's {counts['contacts']}")
        if counts["none"]:
            note += f"; {counts['none']} with no zone (the campaign's {self.campaign.schedule.timezone})"
        return note

    @staticmethod
    def _list_row(report) -> dict:
        return {"file": report.file, "loaded": "no" if report.error else ("before" if report.already_imported else "yes"),
                "read": report.read, "accepted": report.accepted, "duplicate": report.duplicate,
                "excluded": report.excluded, "rejected": report.rejected, "error": report.error or ""}

    @staticmethod
    def _row(o: AttemptOutcome, shown: Redactor) -> dict:
        r = o.result
        return {
            "phone": shown.phone(o.phone),
            "status": r.status.value if r else "",
            "result": o.contact_result or "",
            "cause": f"{r.cause} {r.cause_txt or ''}".strip() if r and r.cause is not None else "",
            "skipped": o.skipped or "",
            "zones": " ".join(o.zones),
            "next_attempt_at": o.next_attempt_at.isoformat() if o.next_attempt_at else "",
        }


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
