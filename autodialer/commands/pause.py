HELP = "pause dialing (every campaign, or one): no new calls within seconds, calls in flight go on; `resume` undoes it"


def add_arguments(parser):
    parser.add_argument("campaign", nargs="?", help="campaign name or file (default: every campaign)")
    parser.add_argument("--reason", default="", help="shown with the switch in the Prefect UI (Variables)")


def run(args) -> int:
    import asyncio

    from autodialer.dialer.pause import set_switch

    return asyncio.run(set_switch(args.campaign, paused=True, reason=args.reason))
