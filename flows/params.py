"""The flows' parameters as the Prefect UI's run form shows them: one type and one description
each, in one place.

Types carry their constraints (pydantic `Field` in `Annotated`: a run with run_minutes -1 is
refused before it starts). Connections are block-typed: the form offers a picker of saved
blocks (the UI sends a block reference, which Prefect loads), and a block's name still works
from the CLI (`-p database_block=prod`) or Python. Descriptions go in the flow's docstring
(`Args:`), which is where Prefect reads them from: `described` writes that section from
DESCRIPTIONS, so every flow says the same of the same parameter.
"""

from __future__ import annotations

import inspect
from typing import Annotated

from pydantic import Field

from blocks.asterisk import AsteriskAMI, CdrDatabase, OutcomeDatabase

CampaignFile = Annotated[str, Field(min_length=1)]
AmiBlocks = Annotated[list[AsteriskAMI | str] | None, Field(min_length=1)]
AmiBlock = AsteriskAMI | str | None
DatabaseBlock = OutcomeDatabase | str | None
CdrBlock = CdrDatabase | str | None
RunMinutes = Annotated[float | None, Field(gt=0, le=24 * 60)]
MaxContacts = Annotated[int | None, Field(ge=0)]
PollSeconds = Annotated[float, Field(gt=0, le=60)]

DESCRIPTIONS = {
    "campaign_file": "The campaign file, relative to the project directory on the worker ($AUTODIALER_HOME), "
                     "e.g. campaigns/order_confirmation.yaml.",
    "campaign": "The campaign itself, as a campaign file would say it (README, Campaigns). Its lists and "
                "exclusions are paths on the worker, relative to the project's campaigns/ directory.",
    "ami_blocks": "Asterisk AMI blocks to dial through (several: the calls are spread over those PBXes). "
                  "Empty: the worker's AUTODIALER_AMI_URL.",
    "ami_block": "The Asterisk AMI block to dial through. Empty: the worker's AUTODIALER_AMI_URL.",
    "database_block": "The outcome database block (contacts, attempts, outcomes). Empty: the worker's "
                      "AUTODIALER_DATABASE_URL.",
    "cdr_database": "Asterisk's CDR database block (missed calls from the cdr table; its password is a secret). "
                    "Empty: the worker's AUTODIALER_CDR_DATABASE_URL; unset too: missed calls from the AMI only.",
    "run_minutes": "How long this run starts calls, in minutes; calls in flight at the end go on. Empty: the "
                   "campaign's schedule.run_minutes (or what its cron leaves before the next run).",
    "max_contacts": "Dial at most this many contacts in this run. Empty: every contact due.",
    "mask_pii": "Mask phone numbers and names in everything this run sends to Prefect (names, messages, "
                "artifacts, logs). Empty: the campaign's mask_pii. Cannot unmask a campaign that masks.",
    "dry_run": "Pick the contacts due now and report them (an artifact), dialing nobody: no call, no attempt "
               "recorded. The lists are loaded as a run would.",
    "poll_seconds": "How often the CDR table is read for new missed calls, in seconds.",
    "number": "The client's number (digits, +, spaces or dashes), in the campaign's allowed numbers.",
    "operator": "The operator's extension, rung first.",
    "campaign_name": "The campaign whose switch to set (its name, e.g. order-confirmation). Empty: the global "
                     "switch, every campaign.",
    "reason": "Why, shown with the switch in the UI (Variables) and in the runs' messages.",
    "resume": "Clear the switch instead of setting it.",
    "request_id": "The request's id (letters, digits, - or _): a request already dialed is never dialed again. "
                  "Empty: this flow run's id.",
}


def described(fn):
    """Give `fn`'s docstring an Args section with every parameter's description (before @flow)."""
    names = inspect.signature(fn).parameters
    missing = [n for n in names if n not in DESCRIPTIONS]
    if missing:
        raise TypeError(f"{fn.__name__}: no description for parameter(s) {', '.join(missing)} in flows/params.py")
    doc = inspect.cleandoc(fn.__doc__ or "")
    fn.__doc__ = doc + "\n\nArgs:\n" + "".join(f"    {n}: {DESCRIPTIONS[n]}\n" for n in names)
    return fn
