"""One module per `autodialer` subcommand (see autodialer/cli.py). Thin: parse, call the core, print."""
