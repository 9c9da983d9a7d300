HELP = "run a campaign now (a Prefect flow run), printing its progress: autodialer run campaigns/order_confirmation.yaml"


def add_arguments(parser):
    parser.add_argument("campaign_file", help="campaign YAML file")
    parser.add_argument("--run-minutes", type=float, default=None,
                        help="stop starting calls after this long; later retries go back to the schedule "
                             "(default: the campaign's schedule.run_minutes, or what its cron leaves)")
    parser.add_argument("--max-contacts", type=int, default=None, help="dial at most this many contacts in this run")
    parser.add_argument("--ami-block", dest="ami_blocks", action="append", default=None, metavar="NAME",
                        help="an asterisk-ami block; repeat to spread the campaign over several PBXes (default: AUTODIALER_AMI_URL)")
    parser.add_argument("--database-block", default=None, help="name of an outcome database block (default: AUTODIALER_DATABASE_URL)")


def run(args) -> int:
    import asyncio

    from autodialer.campaigns.campaign import load_campaign

    campaign = load_campaign(args.campaign_file)  # fail fast, with field names, before Prefect starts
    if campaign.kind == "callback":
        from autodialer.errors import ConfigError

        raise ConfigError(f"{args.campaign_file}: click-to-call runs on request: autodialer call --operator EXT NUMBER, "
                          f"or prefect deployment run 'callback/{campaign.name}' -p number=... -p operator=...")
    preflight(args)
    from autodialer.campaigns.deploy import flow_for  # the kind's flow by its entry point: the core imports no flows/ module

    kind_flow = flow_for(campaign.kind)
    if campaign.kind in ("conference", "recall"):
        state = asyncio.run(kind_flow(args.campaign_file, ami_blocks=args.ami_blocks, database_block=args.database_block,
                                      run_minutes=args.run_minutes, return_state=True))
        print(f"{state.name}: {state.message}")
        return 0 if state.is_completed() else 1
    state = asyncio.run(
        kind_flow(
            args.campaign_file,
            ami_blocks=args.ami_blocks,
            database_block=args.database_block,
            run_minutes=args.run_minutes,
            max_contacts=args.max_contacts,
            return_state=True,
        )
    )
    print(f"{state.name}: {state.message}")
    return 0 if state.is_completed() else 1


def preflight(args) -> None:
    """Before a flow run starts: the database and the Prefect API answer (else one line naming the
    setting, instead of Prefect's traceback of the failed run); a warning when the run goes to an
    ephemeral API nobody else sees; the progress lines on this console."""
    import logging
    import sys

    from autodialer import config
    from autodialer.commands.preflight import EPHEMERAL_WARNING, check_database, check_prefect_api, prefect_api_url

    if args.database_block is None:
        check_database(config.database_url(), config.DATABASE_URL_VAR)
    check_prefect_api()
    if not prefect_api_url():
        print(EPHEMERAL_WARNING, file=sys.stderr)
    progress = logging.getLogger("autodialer.progress")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False  # printed here once; not sent to the run's logs every 5 s
