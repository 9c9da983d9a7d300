HELP = "resume dialing paused by `autodialer pause` (every campaign, or one)"


def add_arguments(parser):
    parser.add_argument("campaign", nargs="?", help="campaign name or file (default: the global switch)")


def run(args) -> int:
    import asyncio

    from autodialer.dialer.pause import set_switch

    return asyncio.run(set_switch(args.campaign, paused=False))
