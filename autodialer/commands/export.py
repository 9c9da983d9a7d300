HELP = ("write a campaign's rows with what the dialer did (status, result, reject reason, number, zone, last and next "
        "attempt in the callee's time, last cause): autodialer export CAMPAIGN OUT_FILE (.csv or .xlsx)")


def add_arguments(parser):
    parser.add_argument("campaign", metavar="CAMPAIGN", help="a campaign file (campaigns/x.yaml) or a campaign name")
    parser.add_argument("out_file", metavar="OUT_FILE", help="output file; .csv or .xlsx")
    parser.add_argument("--delimiter", default=",", metavar="CHAR",
                        help="CSV delimiter (default ','; ';' for Excel in a locale with a decimal comma)")
    parser.add_argument("--sep-hint", action="store_true",
                        help="CSV: write Excel's 'sep=' line first, so Excel splits the columns whatever its locale")


def run(args) -> int:
    from autodialer import config
    from autodialer.campaigns.campaign import campaign_name
    from autodialer.store import Store

    name = campaign_name(args.campaign)
    delimiter = "\t" if args.delimiter in ("\\t", "tab") else args.delimiter
    store = Store(config.database_url())
    try:
        store.require_current()  # read-only: never migrates
        count = store.export(name, args.out_file, delimiter=delimiter, sep_hint=args.sep_hint)
    finally:
        store.close()
    print(f"{args.out_file}: {count} rows")
    return 0
