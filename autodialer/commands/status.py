HELP = "print the campaign table (queue, list, successful x/y, done x/y) from the outcome database"


def add_arguments(parser):
    parser.add_argument("campaign", nargs="?", help="only this campaign")


def run(args) -> int:
    from autodialer import config
    from autodialer.dashboard import campaign_table, format_table
    from autodialer.store import Store

    store = Store(config.database_url())
    store.migrate()
    print(format_table(campaign_table(store, args.campaign)))
    return 0
