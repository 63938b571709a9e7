"""`python -m luna.client submit DIR` / `example-dataset DIR`: the client commands alone,
without the service's settings."""

import argparse

from luna.client import add_client_commands, run_client_command

parser = argparse.ArgumentParser(prog="luna", description="the luna team client")
add_client_commands(parser.add_subparsers(dest="command", required=True))
raise SystemExit(run_client_command(parser.parse_args()))
