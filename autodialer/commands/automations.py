HELP = ("create (or replace) the automations in automations/*.yaml on the Prefect server: pause a campaign at its "
        "abandonment cap, notify when a PBX is unreachable, call a CRM webhook when a click-to-call ends")


def add_arguments(parser):
    parser.add_argument("--dir", default="automations", help="the automation files (default: automations/)")


def run(args) -> int:
    import asyncio

    from autodialer.commands.preflight import require_shared_api

    require_shared_api("an automation")
    lines = asyncio.run(apply_automations(args.dir))
    for line in lines:
        print(line)
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


async def apply_automations(directory: str) -> list[str]:
    """One line per file: created, or what is missing (a block or deployment it names)."""
    from pathlib import Path

    import yaml
    from prefect.client.orchestration import get_client

    out = []
    async with get_client() as client:
        for path in sorted(Path(directory).glob("*.yaml")):
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            try:
                automation = await resolve(client, spec)
            except LookupError as exc:
                out.append(f"FAIL  {path.name}: {exc}")
                continue
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            automation_id = await client.create_automation(automation)
            out.append(f"ok    {path.name}: {automation.name} ({automation_id})")
    return out


async def resolve(client, spec: dict):
    """The file's automation with names resolved: `deployment: flow/name` -> deployment_id,
    `block_document: name` -> block_document_id (a block of that name, of any type)."""
    from prefect.events.schemas.automations import AutomationCore
    from prefect.exceptions import ObjectNotFound

    spec = dict(spec)
    actions = []
    for action in spec.get("actions", []):
        action = dict(action)
        if "deployment" in action:
            name = action.pop("deployment")
            try:
                action["deployment_id"] = str((await client.read_deployment_by_name(name)).id)
            except ObjectNotFound:
                raise LookupError(f"no deployment {name}: run `autodialer deploy` first") from None
        if "block_document" in action:
            name = action.pop("block_document")
            found = [b for b in await client.read_block_documents() if b.name == name]
            if not found:
                raise LookupError(f"no block named {name}: create it first (see the file's comment)")
            action["block_document_id"] = str(found[0].id)
        actions.append(action)
    spec["actions"] = actions
    return AutomationCore.model_validate(spec)
