HELP = "load a contact list (CSV or XLSX) into a campaign: autodialer import CAMPAIGN_FILE LIST_FILE"


def add_arguments(parser):
    parser.add_argument("campaign_file", metavar="CAMPAIGN_FILE",
                        help="campaign YAML, validated whole exactly as `autodialer run` does")
    parser.add_argument("list_file", metavar="LIST_FILE", help="the list: .csv (any delimiter, UTF-8 or cp1251) or .xlsx")
    parser.add_argument("--dnc", action="append", default=[], metavar="FILE",
                        help="a global do-not-call file (a 'phone' column); may be repeated")


def run(args) -> int:
    from autodialer import config
    from autodialer.campaign import load_campaign
    from autodialer.store import Store

    # The one loader of campaign files (the run's): a file `run` refuses writes nothing here either.
    campaign = load_campaign(args.campaign_file)
    settings = campaign.list_settings()
    store = Store(config.database_url())
    try:
        store.migrate()
        campaign_id = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
        report = store.import_list(campaign_id, args.list_file, settings, global_exclusions=args.dnc)
    finally:
        store.close()
    for sub in report.exclusion_reports:
        print(f"exclusions {sub}")
    print(report)
    return 0
