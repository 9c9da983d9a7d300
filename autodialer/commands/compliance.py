HELP = ("did the rules hold? per callee-local day: calls outside the window, the most calls per number per "
        "day/week/month against the limits, abandoned over live-answered against the cap, do-not-call calls, "
        "zone sources: autodialer compliance CAMPAIGN [--from DATE --to DATE]")


def add_arguments(parser):
    parser.add_argument("campaign", metavar="CAMPAIGN", help="campaign name (its rules as last run, from the store)")
    parser.add_argument("--from", dest="start", metavar="DATE", help="first callee-local day, YYYY-MM-DD (default: 30 days before --to)")
    parser.add_argument("--to", dest="end", metavar="DATE", help="last callee-local day, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--campaign-file", metavar="YAML", help="judge by this campaign file's rules instead of the stored ones")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _date(text: str | None, what: str):
    from datetime import date

    from autodialer.errors import ConfigError

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def run(args) -> int:
    import json
    from datetime import datetime, timedelta, timezone

    from autodialer import config
    from autodialer.reports.compliance import compliance_report, stored_campaign
    from autodialer.campaigns.campaign import load_campaign
    from autodialer.reports.dashboard import format_table
    from autodialer.errors import ConfigError
    from autodialer.store import Store

    end = _date(args.end, "--to") or datetime.now(timezone.utc).date()
    start = _date(args.start, "--from") or end - timedelta(days=30)
    if start > end:
        raise ConfigError(f"--from {start} is after --to {end}")
    store = Store(config.database_url())
    try:
        store.require_current()  # a report: never migrates (autodialer db upgrade does)
        campaign = load_campaign(args.campaign_file) if args.campaign_file else stored_campaign(store, args.campaign)
        report = compliance_report(store, campaign, start=start, end=end)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print(f"{report.campaign}: {start} to {end}, callee-local days; limits per number (all campaigns): "
              f"{report.limits.describe()}; abandonment cap {report.abandon_cap:.0%} over {report.abandon_window} "
              "(abandonment per campaign-local day)")
        print(format_table(report.table()) if report.days else "no calls in this period")
        broken = report.violations()
        print("\n".join(["VIOLATIONS:"] + [f"  {v}" for v in broken]) if broken else "all rules held")
    return 1 if report.violations() else 0
