HELP = "write a campaign's rows with status, result and attempts: autodialer export CAMPAIGN OUT_FILE (.csv or .xlsx)"


def add_arguments(parser):
    parser.add_argument("campaign", metavar="CAMPAIGN", help="campaign name")
    parser.add_argument("out_file", metavar="OUT_FILE", help="output file; .csv or .xlsx")


def run(args) -> int:
    from autodialer import config
    from autodialer.store import Store

    store = Store(config.database_url())
    try:
        store.migrate()
        count = store.export(args.campaign, args.out_file)
    finally:
        store.close()
    print(f"{args.out_file}: {count} rows")
    return 0
