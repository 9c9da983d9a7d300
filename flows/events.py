"""Prefect events the runs emit, for automations (automations/, `autodialer automations`).

    autodialer.run.summary                 a run ended: its counts (dialed by status, results, skipped)
    autodialer.abandonment.nearing         the abandonment rate passed NEARING of the campaign's cap
    autodialer.abandonment.cap-reached     ... reached the cap (predictive / progressive pacing)
    autodialer.pbx.unreachable             a run lost its AMI connection to a PBX
    autodialer.pbx.reachable               ... and has it back
    autodialer.list.imported               a list file was loaded: accepted / rejected / duplicate / excluded
    autodialer.click-to-call.finished      a click-to-call ended: its result

The resource is the campaign (`autodialer.campaign.<name>`, label `autodialer.campaign`), or the
PBX (`autodialer.pbx.<host>:<port>`, related to the campaign); Prefect relates each event to the
flow run, flow and deployment that emitted it. Numbers and names in payloads pass through the
run's Redactor (masked under mask_pii). Emitting never fails a run: an event that cannot be sent
is logged and dropped (events are for people and automations; the outcome database is the record).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

log = logging.getLogger("autodialer.events")

NEARING = 0.8  # share of the abandonment cap that raises "nearing"
MIN_ANSWERED = 20  # live answers before the abandonment rate means anything
WATCH_SECONDS = 2.0


def campaign_resource(name: str) -> dict:
    return {"prefect.resource.id": f"autodialer.campaign.{name}", "prefect.resource.name": name,
            "autodialer.campaign": name}


def emit(event: str, campaign: str, payload: dict | None = None, *, resource: dict | None = None) -> None:
    """Emit one event about `campaign` (or about `resource`, related to the campaign)."""
    from prefect.events import emit_event

    related = []
    if resource is None:
        resource = campaign_resource(campaign)
    else:
        related = [{**campaign_resource(campaign), "prefect.resource.role": "campaign"}]
    try:
        emit_event(event=event, resource=resource, related=related, payload=payload or {})
    except Exception as exc:  # never a run's failure
        log.warning("event %s not sent: %s: %s", event, type(exc).__name__, exc)


def run_summary(campaign: str, kind: str, counts: dict, message: str, state: str) -> None:
    emit("autodialer.run.summary", campaign, {"kind": kind, "state": state, "message": message, **counts})


def list_imported(campaign: str, report) -> None:
    emit("autodialer.list.imported", campaign, {
        "file": str(getattr(report, "file", "")), "error": str(report.error) if getattr(report, "error", None) else None,
        "already_imported": bool(getattr(report, "already_imported", False)),
        **{k: int(getattr(report, k, 0) or 0) for k in ("read", "accepted", "duplicate", "excluded", "rejected", "blank")}})


def click_to_call_finished(campaign: str, result: dict, shown) -> None:
    emit("autodialer.click-to-call.finished", campaign, {
        "result": result.get("result"), "status": result.get("status"), "operator": str(result.get("operator")),
        "number": shown.phone(str(result.get("number"))), "attempt_id": result.get("attempt_id"),
        "already_dialled": bool(result.get("already_dialled"))})


def pbx_resource(settings) -> dict:
    where = f"{settings.host}:{settings.port}"
    return {"prefect.resource.id": f"autodialer.pbx.{where}", "prefect.resource.name": where, "autodialer.pbx": where}


def watch_pbx(campaign: str, session, settings) -> None:
    """PBX unreachable / reachable events from the session's disconnect and reconnect."""
    resource = pbx_resource(settings)
    session.on_disconnect(lambda why: emit("autodialer.pbx.unreachable", campaign, {"why": why}, resource=resource))
    session.on_reconnect(lambda: emit("autodialer.pbx.reachable", campaign, {}, resource=resource))


class AbandonmentWatch:
    """Raises nearing / cap-reached once each per run, from the rate the pacer measures."""

    def __init__(self, campaign: str, cap: float, rate, answered):
        self.campaign, self.cap, self.rate, self.answered = campaign, cap, rate, answered
        self.raised: set[str] = set()

    def check(self) -> None:
        answered = self.answered()
        if answered < MIN_ANSWERED:
            return
        rate = self.rate()
        for name, level in (("cap-reached", 1.0), ("nearing", NEARING)):
            if rate >= level * self.cap:
                if name not in self.raised:
                    self.raised.add(name)
                    if name == "cap-reached":
                        self.raised.add("nearing")
                    emit(f"autodialer.abandonment.{name}", self.campaign,
                         {"rate": round(rate, 4), "cap": self.cap, "answered": answered})
                return


@asynccontextmanager
async def watch_run(campaign, engines, pacer):
    """For the campaign flow's dialing: PBX events from every server's session, abandonment
    events from the pacer (its controller's window where it has one, else its counts)."""
    for session in engines.sessions:
        watch_pbx(campaign.name, session, session.settings)
    task = None
    if campaign.pacing.mode != "fixed":
        controller = getattr(pacer, "controller", None)
        window = getattr(controller, "window", None)
        rate = window.rate if window is not None and hasattr(window, "rate") else (lambda: pacer.stats.abandon_rate)
        watch = AbandonmentWatch(campaign.name, campaign.pacing.abandon_cap, rate, lambda: pacer.stats.answered)

        async def loop():
            while True:
                await asyncio.sleep(WATCH_SECONDS)
                watch.check()

        task = asyncio.create_task(loop())
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
