HELP = "show the effective configuration (secrets redacted); --check: test every part a run needs, one line each"

WORK_POOL = "dialer"  # the work pool prefect.yaml deploys to


def add_arguments(parser):
    parser.add_argument("--check", action="store_true",
                        help="AMI login and Ping, outcome database and its migration, Prefect API, work pool, trunk limits")
    parser.add_argument("--campaigns", default="campaigns", metavar="DIR",
                        help="campaign files whose trunks are checked (default: campaigns/)")
    parser.add_argument("--work-pool", default=WORK_POOL, help=f"the work pool workers serve (default: {WORK_POOL})")


def run(args) -> int:
    from autodialer import config

    ami = config.ami_settings()
    print(f"{config.AMI_URL_VAR}={ami.redacted_url()}")
    print(f"{config.DATABASE_URL_VAR}={config.redact_database_url(config.database_url())}")
    if not args.check:
        return 0
    import asyncio

    results = asyncio.run(run_checks(args))
    for ok, what, line in results:
        print(f"{'ok  ' if ok else 'FAIL' if ok is False else 'note'}  {what}: {line}")
    return 1 if any(ok is False for ok, _, _ in results) else 0


async def run_checks(args) -> list[tuple[bool | None, str, str]]:
    """(ok: True / False / None for a note, what, the line). Each check stands alone: one part
    down does not hide what is wrong with the others."""
    out = [await check_ami(), check_database()]
    out += await check_prefect(args.work_pool, args.campaigns)
    return out


async def check_ami():
    import time

    from autodialer import config
    from autodialer.telephony.ami import AmiSession

    what = "AMI"
    try:
        settings = config.ami_settings()
    except Exception as exc:
        return False, what, str(exc)
    where = f"{settings.redacted_url()} ({config.AMI_URL_VAR})"
    try:
        async with AmiSession(settings, connect_timeout=5.0, action_timeout=5.0, reconnect=False) as ami:
            started = time.monotonic()
            response = await ami.send_action({"Action": "Ping"})
            took = (time.monotonic() - started) * 1000
    except Exception as exc:
        return False, what, f"{where}: {exc}; start Asterisk's manager (manager.conf) or fix {config.AMI_URL_VAR}"
    if response.get("Response") != "Success" and response.get("Ping") != "Pong":
        return False, what, f"{where}: logged in, but Ping answered {dict(response)}"
    return True, what, f"{where}: logged in as {settings.username}, Ping answered in {took:.0f} ms"


def check_database():
    from autodialer import config
    from autodialer.commands.preflight import database_line
    from autodialer.store import Store

    what = "outcome database"
    try:
        url = config.database_url()
    except Exception as exc:
        return False, what, str(exc)
    shown = f"{config.redact_database_url(url)} ({config.DATABASE_URL_VAR})"
    head = Store.head_revision()
    try:
        current = Store.probe(url)
    except Exception as exc:
        return False, what, database_line(url, config.DATABASE_URL_VAR, exc).removeprefix("outcome database ")
    if current == head:
        return True, what, f"{shown}: reachable, at the current migration {current}"
    if current is None:
        return None, what, f"{shown}: reachable, empty; the first import or run creates the tables (or: autodialer db upgrade)"
    return None, what, (f"{shown}: reachable, at migration {current}, the code's is {head}; "
                        "the next import or run migrates it (or: autodialer db upgrade, after alembic upgrade head --sql)")


async def check_prefect(work_pool: str, campaigns_dir: str) -> list:
    from autodialer.commands.preflight import START_SERVER, prefect_api_url, prefect_line

    url = prefect_api_url()
    if not url:
        return [(None, "Prefect API", "ephemeral (PREFECT_API_URL is not set): each `autodialer run` starts its own "
                 f"temporary API that no UI, worker or pause switch sees; {START_SERVER}"),
                (None, "work pool", "needs a Prefect server"),
                (None, "trunk limits", "need a Prefect server (each run keeps to its own max_concurrent_calls)")]
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        failure = await client.api_healthcheck()
        if failure is not None:
            return [(False, "Prefect API", prefect_line(failure))]
        out = [(True, "Prefect API", f"server at {url} (PREFECT_API_URL)")]
        try:
            pool = await client.read_work_pool(work_pool)
            workers = await client.read_workers_for_work_pool(work_pool)
            online = [w for w in workers if str(getattr(w, "status", "")).upper().endswith("ONLINE")]
            line = f"{work_pool} ({pool.type}), {len(online)} worker(s) online"
            out.append((True, "work pool", line) if online else
                       (None, "work pool", f"{line}: start one: prefect worker start --pool {work_pool}"))
        except ObjectNotFound:
            out.append((False, "work pool", f"{work_pool} does not exist: prefect work-pool create {work_pool} --type process"))
        out += await check_trunks(client, campaigns_dir)
    return out


async def check_trunks(client, campaigns_dir: str) -> list:
    """Per trunk of the campaign files: the global concurrency limit `trunk-<trunk>` shared by
    every run on it, or what each run does without one."""
    from collections import defaultdict
    from pathlib import Path

    from prefect.exceptions import ObjectNotFound

    from autodialer.campaigns.campaign import load_campaign

    by_trunk: dict[str, list] = defaultdict(list)
    problems = []
    for path in sorted(Path(campaigns_dir).glob("*.yaml")):
        try:
            campaign = load_campaign(path)
        except Exception as exc:
            problems.append((False, f"campaign {path}", str(exc).splitlines()[0]))
            continue
        by_trunk[campaign.trunk].append(campaign)
    if not by_trunk and not problems:
        return [(None, "trunk limits", f"no campaign files in {campaigns_dir}/ (--campaigns DIR)")]
    out = []
    for trunk, campaigns in sorted(by_trunk.items()):
        name = f"trunk-{trunk}"
        names = ", ".join(c.name for c in campaigns)
        wanted = sum(c.max_concurrent_calls for c in campaigns)
        try:
            limit = await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            limit = None
        if limit is None:
            out.append((None, f"trunk {trunk}", f"no limit {name}: each run keeps to its own max_concurrent_calls "
                        f"({names}: {wanted} together); to share the trunk: prefect gcl create {name} --limit N"))
        elif not limit.active:
            out.append((None, f"trunk {trunk}", f"limit {name} is inactive: prefect gcl enable {name}"))
        else:
            out.append((True, f"trunk {trunk}", f"limit {name}: {limit.limit} channel(s), {limit.active_slots} in use "
                        f"({names})"))
    return problems + out
