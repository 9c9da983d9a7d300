HELP = ("callee time zones: `autodialer zones build DEF-9xx.csv --snapshot 2026-10` rebuilds the mobile range "
        "table from a newer registry file; `autodialer zones lookup NUMBER...` shows a number's zones")


def add_arguments(parser):
    sub = parser.add_subparsers(dest="zones_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="rebuild the Russian mobile range table from the registry's DEF-9xx.csv")
    build.add_argument("registry", metavar="DEF_9XX_CSV", help="the registry file (opendata.digital.gov.ru, 'DEF-9xx')")
    build.add_argument("--snapshot", required=True, metavar="DATE", help="the registry's snapshot date, e.g. 2026-10-01")
    build.add_argument("--out", metavar="PATH", help="where to write the table (default: the one the package ships)")
    look = sub.add_parser("lookup", help="the zones a number's calling window is evaluated in, and their source")
    look.add_argument("numbers", nargs="+", metavar="NUMBER")
    look.add_argument("--region", default="RU", help="default region for numbers without + (default RU)")


def run(args) -> int:
    if args.zones_command == "build":
        return _build(args)
    return _lookup(args)


def _build(args) -> int:
    from autodialer.zones.registry import TABLE, build_table, load_table

    try:
        old = load_table()
        before = f"{len(old)} ranges, snapshot {old.snapshot}"
    except OSError:
        before = "none"
    table = build_table(args.registry, args.snapshot, args.out or TABLE)
    print(f"{args.out or TABLE}: {len(table)} ranges from {table.source_rows} registry rows, snapshot {table.snapshot} "
          f"(was: {before})")
    return 0


def _lookup(args) -> int:
    from autodialer.lists.phones import PhoneNormalizer

    normalizer = PhoneNormalizer(args.region)
    status = 0
    for value in args.numbers:
        e164, zones, reason = normalizer.normalize(value)
        if e164 is None:
            print(f"{value}: {reason}")
            status = 1
            continue
        where = f"{zones.source.value if zones.source else 'none'}" + (f" {zones.region}" if zones.region else "")
        print(f"{e164}: {zones.text or '(no zone: the campaign zone)'} [{where}]")
    return status
