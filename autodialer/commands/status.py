HELP = "print the campaign table (queue, list, successful x/y, done x/y) from the outcome database"


def add_arguments(parser):
    parser.add_argument("campaign", nargs="?", help="only this campaign: a campaign file or a name")


def run(args) -> int:
    from autodialer import config
    from autodialer.campaigns.campaign import campaign_name
    from autodialer.reports.dashboard import campaign_table, format_table
    from autodialer.store import Store

    name = campaign_name(args.campaign) if args.campaign else None
    store = Store(config.database_url())
    try:
        store.require_current()  # read-only: never migrates
        if name is not None:
            store.campaign_id(name)  # a miss names the closest campaigns
        print(format_table(campaign_table(store, name)))
    finally:
        store.close()
    return 0
