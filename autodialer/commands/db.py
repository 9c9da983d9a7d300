HELP = "the outcome database's schema: autodialer db upgrade (migrate to this version) | db current (show its migration)"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    sub.add_parser("upgrade", help="migrate the database named by AUTODIALER_DATABASE_URL to this autodialer's schema "
                                   "(review the DDL first: alembic upgrade head --sql)")
    sub.add_parser("current", help="print the database's migration and this autodialer's")


def run(args) -> int:
    from autodialer import config
    from autodialer.config import redact_database_url
    from autodialer.store import Store

    store = Store(config.database_url())
    try:
        before = store.current_revision()
        head = store.head_revision()
        shown = redact_database_url(store.url)
        if args.db_command == "current":
            state = "up to date" if before == head else "needs `autodialer db upgrade`"
            print(f"{shown}: at migration {before or '(none: no autodialer tables)'}; this autodialer's is {head} ({state})")
            return 0 if before == head else 1
        store.migrate()
        after = store.current_revision()
    finally:
        store.close()
    print(f"{shown}: {before or '(empty)'} -> {after}" if before != after else f"{shown}: already at {after}")
    return 0
