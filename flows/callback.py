"""Click-to-call through the API: one call, the operator first, then the client.

    prefect deployment run 'callback/click-to-call' -p number=79061234561 -p operator=101

or POST /api/deployments/{id}/create_flow_run with {"parameters": {"number": ..., "operator": ...}}.
Both values are validated before anything is dialed, and the number must be one the campaign
allows (`allowed_numbers`: by default its region's mobile and fixed-line numbers) and on no
do-not-call list (the campaign's `exclusions` files, the global list): a refused request is
recorded (the contact `done`, result `refused: <why>`) and the flow fails with that reason,
nothing dialed. The client (the callee; the operator is not) is held to the campaign's calling
window in their own zone(s) and to the contact-frequency limits (the campaign's `limits:` and
AUTODIALER_CONTACT_LIMITS) like a campaign's callee: a request is dialed only if the client's
leg, which starts once the operator answers (up to OPERATOR_RING s), could still ring min_ring
before the window closes, and only if the claim's limit check lets the number be called now;
otherwise it is refused with when it would be allowed (over a limit: recorded, result `refused:
contact limit ...`), nothing dialed. The call is recorded like any campaign
attempt (campaign `click-to-call`, one contact per client number, result in `contacts.result`).
`request_id` (default: the flow run id) is the attempt id: a request already dialed is never
dialed again, whatever re-runs it.
"""

from __future__ import annotations

import asyncio
import uuid

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from autodialer.campaigns.campaign import load_campaign
from autodialer.errors import AutodialerError
from autodialer.telephony.safety import check_token
from flows import events
from flows.logs import forward_run_logs
from flows.naming import callback_run_name, redactor
from flows.params import AmiBlock, CampaignFile, DatabaseBlock, described
from flows.campaign import held_run
from flows.resources import ami_servers_from, campaign_store


class CallbackRefused(AutodialerError):
    """The request cannot be dialed now (window closed, a call to the number in flight)."""


@flow(name="callback", flow_run_name=callback_run_name, persist_result=False)
@described
async def callback_flow(
    number: str | int,  # `prefect deployment run -p number=8906...` parses digits as JSON: an int
    operator: str | int,
    campaign_file: CampaignFile = "campaigns/callback.yaml",
    request_id: str | None = None,
    ami_block: AmiBlock = None,
    database_block: DatabaseBlock = None,
    mask_pii: bool | None = None,
) -> dict:
    """Ring operator `operator`; when they answer, call `number` and connect them."""
    from autodialer.store.adhoc import attempt_row, load_campaign_exclusions, refusal, refuse
    from autodialer.kinds.callback import OPERATOR_RING, check_client_number, check_operator
    from autodialer.dialer.dialing import utcnow

    logger = get_run_logger()
    forward_run_logs()  # the dialer's own warnings in this run's logs (flows/logs.py)
    campaign = load_campaign(campaign_file)
    shown = redactor(campaign, mask_pii)
    forward_run_logs(mask=shown.text)
    operator = check_operator(str(operator))
    phone = check_client_number(str(number), campaign.default_region)
    attempt_id = check_token(request_id, field="request_id") if request_id else (
        str(flow_run.get_id() or "").replace("-", "") or uuid.uuid4().hex)

    store, campaign_id = await campaign_store(campaign, database_block)
    done = await asyncio.to_thread(attempt_row, store, attempt_id)
    if done is not None:
        logger.warning("request %s was already dialed (%s): not dialing again", attempt_id, done["status"])
        return {"operator": operator, "number": phone, "attempt_id": attempt_id, "status": done["status"],
                "result": None, "already_dialled": True}

    await asyncio.to_thread(load_campaign_exclusions, store, campaign, campaign_id)
    reason = await asyncio.to_thread(refusal, store, campaign, campaign_id, phone)
    if reason is not None:
        await asyncio.to_thread(refuse, store, campaign_id, phone, reason, variables={"OPERATOR": operator})
        raise CallbackRefused(f"{phone} is not dialed: {reason}")

    from autodialer.zones import callee_zones

    zones = campaign.zones_to_honour(list(callee_zones(phone).zones))
    now = utcnow()
    # The client's leg starts when the operator answers: it must still be able to ring min_ring.
    lead = OPERATOR_RING + campaign.min_ring
    if not campaign.windows.can_start(now, zones, lead):
        opens = campaign.windows.next_start_all(now, zones, lead)
        when = f"opens {opens:%Y-%m-%d %H:%M} UTC" if opens is not None else "never opens again"
        raise CallbackRefused(f"calling window closed for {shown.phone(phone)} ({', '.join(zones)}), or closing within "
                              f"{lead:g} s (the operator's ring, then the client's min_ring); {when}")
    async with held_run(campaign, store, campaign_id) as held:  # a lease, like every run that dials
        outcome = await _call(campaign, store, campaign_id, held, phone, operator, attempt_id, shown, ami_block, zones)
    logger.info("operator %s -> %s: %s (client %s, cause %s)", operator, shown.phone(phone), outcome.result,
                outcome.client_dial_status, outcome.client_hangup_cause)
    out = outcome.to_dict()
    out.update(attempt_id=attempt_id, status=outcome.call.status.value, already_dialled=False)
    events.click_to_call_finished(campaign.name, {**out, "operator": operator, "number": phone}, shown)
    return out


async def _call(campaign, store, campaign_id: int, held, phone: str, operator: str, attempt_id: str, shown, ami_block,
                zones: list[str]):
    """Resolve what dead click-to-call runs left (followed if still up), then one call through
    the run's ContactDialer (ContactDialer.call_once: the campaigns' claim, the client's number
    held to the contact-frequency limits in `zones`' calendars, and their write) placed
    operator-first by click_to_call."""
    from autodialer.store.adhoc import ensure_contact, refuse
    from autodialer.kinds.callback import click_to_call
    from autodialer.dialer.dialing import SkipKind, retry_store
    from autodialer.dialer.run import open_run

    server = (await ami_servers_from([ami_block] if ami_block else None, campaign))[0]
    # One call: one channel; a dead run's call to this number is resolved first (open_run).
    async with open_run(campaign, store, campaign_id, servers=[server], channels=1, held=held, pace=False) as run:
        try:
            contact_id = await asyncio.to_thread(ensure_contact, store, campaign_id, phone, variables={"OPERATOR": operator},
                                                 reopen=True)
            contact = await retry_store(store.contact, contact_id)
            placed = []

            async def place(caller_id):
                outcome = await click_to_call(run.engines, operator=operator, number=phone, caller_id=caller_id,
                                              client_ring=campaign.ring_timeout, attempt_id=attempt_id,
                                              max_call_seconds=campaign.max_call_duration,
                                              variables=campaign.static_variables())
                placed.append(outcome)
                return outcome.call, outcome.result

            done = await run.dialer.call_once(contact, place, attempt_id=attempt_id, zones=zones, max_attempts=2**31 - 1)
            if done.skip is SkipKind.CONTACT_LIMIT:
                until = (f"allowed from {done.next_attempt_at:%Y-%m-%d %H:%M} UTC" if done.next_attempt_at is not None
                         else "the window never opens again")
                why = f"{done.skipped}; {until}"
                await asyncio.to_thread(refuse, store, campaign_id, phone, why, variables={"OPERATOR": operator})
                raise CallbackRefused(f"{shown.phone(phone)} is not dialed now: {why}")
            if done.skip is SkipKind.DATABASE_UNREACHABLE:
                raise CallbackRefused(f"{shown.phone(phone)} is not dialed: {done.skipped}")
            if done.skipped is not None:
                raise CallbackRefused(f"a call to {shown.phone(phone)} is already in flight")
        finally:
            await run.settle()
    return placed[0]


if __name__ == "__main__":
    import sys

    print(asyncio.run(callback_flow(sys.argv[1], sys.argv[2])))
