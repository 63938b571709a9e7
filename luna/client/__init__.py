"""The team client behind `luna submit DIR` and `luna example-dataset DIR`.

Wiring into a CLI:

    commands = parser.add_subparsers(dest="command", required=True)
    add_client_commands(commands)                    # adds "submit" and "example-dataset"
    if args.command in CLIENT_COMMANDS: return run_client_command(args)

From code: `await submit_directory(SubmitOptions(...), credentials=..., out=..., err=...)`.
"""

from luna.client.commands import CLIENT_COMMANDS, add_client_commands, run_client_command
from luna.client.submit import Credentials, SubmitOptions, submit_directory

__all__ = [
    "CLIENT_COMMANDS",
    "Credentials",
    "SubmitOptions",
    "add_client_commands",
    "run_client_command",
    "submit_directory",
]
