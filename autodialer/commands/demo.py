HELP = "run the order-confirmation campaign against the lab PBX with SQLite and Prefect's ephemeral API"

DEMO_DIR = "demo-out"


def add_arguments(parser):
    parser.add_argument("--time-scale", type=float, default=0.05, help="lab PBX time scale (0.05: a 30 s ring lasts 1.5 s)")
    parser.add_argument("--campaign", default="campaigns/order_confirmation.yaml")


def run(args) -> int:
    import asyncio
    import os
    import time
    from pathlib import Path

    import yaml

    from autodialer.campaigns.campaign import load_campaign
    from autodialer.lab import running_lab

    started = time.monotonic()
    out = Path(DEMO_DIR).resolve()
    out.mkdir(exist_ok=True)
    db = out / "autodialer.db"
    db.unlink(missing_ok=True)  # each demo starts from an empty store
    os.environ["AUTODIALER_DATABASE_URL"] = f"sqlite:///{db}"

    # The lab answers round the clock; the demo opens the calling windows round the clock too,
    # so it works at any hour. Everything else is the shipped campaign file, unchanged.
    source = Path(args.campaign).resolve()
    load_campaign(source)
    raw = yaml.safe_load(source.read_text())
    raw["windows"] = {"windows": [{"days": "daily", "start": "00:00", "end": "23:59:59"}]}
    raw["lists"] = [str(source.parent / p) for p in raw.get("lists", [])]
    raw["exclusions"] = [str(source.parent / p) for p in raw.get("exclusions", [])]
    demo_campaign = out / source.name
    demo_campaign.write_text(yaml.safe_dump(raw, sort_keys=False))

    with running_lab(time_scale=args.time_scale) as lab:
        os.environ["AUTODIALER_AMI_URL"] = lab.url
        print(f"lab PBX listening on 127.0.0.1:{lab.port} (time scale {args.time_scale})")
        from autodialer.reports.dashboard import campaign_table, format_table
        from autodialer.store import Store
        from autodialer.campaigns.deploy import flow_for

        state = asyncio.run(flow_for("order_confirmation")(str(demo_campaign), run_minutes=1.0, return_state=True))

    store = Store(os.environ["AUTODIALER_DATABASE_URL"])
    print()
    print(f"run: {state.name}: {state.message}")
    print()
    print(format_table(campaign_table(store)))
    print()
    print(f"finished in {time.monotonic() - started:.0f} s. Where to look next:")
    print(f"  outcomes (SQLite):   sqlite3 {db} 'select * from campaign_summary'")
    print(f"  per call:            sqlite3 {db} 'select number, status, cause, cause_txt, talk_seconds from attempts'")
    print(f"  export the results:  AUTODIALER_DATABASE_URL=sqlite:///{db} .venv/bin/autodialer export order-confirmation out.xlsx")
    print("  the Prefect UI:      .venv/bin/prefect server start, then re-run with PREFECT_API_URL=http://127.0.0.1:4200/api")
    return 0 if state.is_completed() else 1
