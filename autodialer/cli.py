"""`autodialer` command line. Each subcommand lives in `autodialer/commands/<name>.py` and
exposes HELP, add_arguments(parser) and run(args) -> exit code; modules keep heavy imports
inside run() so `autodialer --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from autodialer import __version__
from autodialer.errors import AutodialerError

# Order is the order shown by --help. A name whose module does not exist yet is not listed.
COMMANDS = ["config", "db", "lab", "call", "import", "export", "run", "deploy", "automations", "pause", "resume", "status", "compliance", "zones", "demo"]


def _module_name(command: str) -> str:
    return f"autodialer.commands.{command}_cmd" if command == "import" else f"autodialer.commands.{command}"


def available_commands() -> list[str]:
    return [c for c in COMMANDS if importlib.util.find_spec(_module_name(c)) is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autodialer", description="Outbound auto-dialer for Asterisk, orchestrated by Prefect.")
    parser.add_argument("--version", action="version", version=f"autodialer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in available_commands():
        module = importlib.import_module(_module_name(command))
        p = sub.add_parser(command, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except AutodialerError as exc:
        print(f"autodialer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A database or Prefect API that is down is one line naming the setting, not a traceback.
        from autodialer.commands.preflight import one_line

        line = one_line(exc)
        if line is None:
            raise
        print(f"autodialer {args.command}: error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
