HELP = ("create or update one Prefect deployment per campaign file (its cron, time zone, work pool, pull step); "
        "--write-prefect-yaml writes them as prefect.yaml instead")


def add_arguments(parser):
    parser.add_argument("--campaigns", default="campaigns", metavar="DIR", help="campaign files to deploy (default: campaigns/)")
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project directory: entry points and campaign_file parameters are relative to it (default: .)")
    parser.add_argument("--git-clone", metavar="URL", default=None,
                        help="workers clone this repository when a run starts (default: they chdir to $AUTODIALER_HOME)")
    parser.add_argument("--branch", default=None, help="with --git-clone: the branch to clone")
    parser.add_argument("--write-prefect-yaml", nargs="?", const="prefect.yaml", default=None, metavar="PATH",
                        help="write the deployments to PATH (default prefect.yaml) for `prefect deploy --all`; deploy nothing")
    parser.add_argument("--check-prefect-yaml", nargs="?", const="prefect.yaml", default=None, metavar="PATH",
                        help="exit 1 if PATH is not what the campaign files give (for CI)")


def run(args) -> int:
    import asyncio
    import sys
    from pathlib import Path

    from autodialer.campaigns import deploy

    project = Path(args.project).resolve()
    campaigns = Path(args.campaigns)
    campaigns = campaigns if campaigns.is_absolute() else project / campaigns
    specs = deploy.specs(project, campaigns)
    pull = deploy.pull_steps(args.git_clone, args.branch)
    if args.write_prefect_yaml or args.check_prefect_yaml:
        text = deploy.prefect_yaml(specs, pull)
        if args.check_prefect_yaml:
            path = Path(args.check_prefect_yaml)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is not what {campaigns} gives: run `autodialer deploy --write-prefect-yaml {path}`", file=sys.stderr)
                return 1
            print(f"{path}: up to date ({len(specs)} deployments)")
            return 0
        Path(args.write_prefect_yaml).write_text(text, encoding="utf-8")
        print(f"wrote {args.write_prefect_yaml}: {len(specs)} deployments")
        return 0
    from autodialer.commands.preflight import check_prefect_api, prefect_api_url

    check_prefect_api()
    if not prefect_api_url():
        print("autodialer deploy: no PREFECT_API_URL: deployments would go to a temporary API nobody else sees; "
              "start `prefect server start` and export PREFECT_API_URL", file=sys.stderr)
        return 2
    ids = asyncio.run(deploy.apply(specs, pull, project))
    for s in specs:
        when = f"cron {s.cron!r} {s.timezone}, runs {s.run_minutes:g} min, one at a time" if s.cron else "on request"
        name = next(k for k in ids if k.endswith("/" + s.name))
        print(f"{name}  {when}  pool {s.work_pool}  ({ids[name]})")
    where = f"git clone {args.git_clone}" if args.git_clone else f"${deploy.HOME_VARIABLE} on each worker"
    print(f"{len(specs)} deployment(s); workers find the project by {where}")
    return 0
