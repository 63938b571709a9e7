"""`python -m luna COMMAND`: serve, worker, migrate, user, team, submit, example-dataset.

python -m luna serve                 # API + validators (LUNA_VALIDATORS, 0 = API only)
python -m luna worker                # validators only, with /liveness /readiness /metrics
python -m luna migrate [--to N]      # apply (or undo) sql/ migrations under a lock
echo pw | python -m luna user add alice --team red --password-stdin [--admin]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from luna.client import CLIENT_COMMANDS, add_client_commands, run_client_command
from luna.observability import configure_logging
from luna.settings import Settings, load_settings

log = logging.getLogger("luna")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="luna", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API (and validators)")
    commands.add_parser("worker", help="run validators only")
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--to", type=int, default=None, help="target version (0 = empty)")
    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a user (and its team if needed)")
    add.add_argument("username")
    add.add_argument("--team", required=True)
    add.add_argument("--admin", action="store_true", help="an organiser: sees every team")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_client_commands(commands)
    team = commands.add_parser("team", help="manage teams")
    team_commands = team.add_subparsers(dest="team_command", required=True)
    quota = team_commands.add_parser(
        "quota", help="set a team's own quotas (an option left out means the default)"
    )
    quota.add_argument("team")
    for option in ("datasets-per-day", "bytes-stored", "files-per-dataset", "bytes-per-file"):
        quota.add_argument(f"--{option}", type=int, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        # The team's side: needs none of the server's settings.
        return run_client_command(args)
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.command in ("serve", "worker"):
        return asyncio.run(run_service(settings, mode=args.command))
    if args.command == "migrate":
        return asyncio.run(run_migrate(settings, to=args.to))
    if args.command == "team":
        return asyncio.run(run_team_quota(settings, args))
    if args.command == "user":
        password = _read_password(from_stdin=args.password_stdin)
        return asyncio.run(
            run_user_add(
                settings, args.username, team=args.team, admin=args.admin, password=password
            )
        )
    return 2


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
    if not password:
        sys.stderr.write("luna: the password is empty\n")
        raise SystemExit(2)
    return password


async def run_service(settings: Settings, *, mode: str) -> int:
    from aiohttp import web

    from luna.http.app import POOL, create_app
    from luna.http.keys import STATE
    from luna.resources import ConfigurationError

    try:
        app = create_app(settings, mode="serve" if mode == "serve" else "worker")
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
    except ConfigurationError as exc:
        sys.stderr.write(f"luna: bad configuration: {exc}\n")
        return 2
    except Exception as exc:
        log.error("start-up failed: %r", exc)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    escalated = False
    try:
        site = web.TCPSite(runner, settings.luna_host, settings.luna_port)
        await site.start()
        port = _bound_port(runner, default=settings.luna_port)
        log.info("luna %s listening on http://%s:%s", mode, settings.luna_host, port)
        waiters = [asyncio.ensure_future(stop.wait())]
        if POOL in app:
            waiters.append(asyncio.ensure_future(app[POOL].wait_failed()))
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        escalated = waiters[0] not in done
        for waiter in pending:
            waiter.cancel()
        if escalated:
            log.error("the validator supervisor gave up; exiting so the process is restarted")
        else:
            log.info("stopping: draining for at most %.0f s", settings.luna_shutdown_grace_s)
    finally:
        app[STATE]["draining"] = True
        await runner.cleanup()
    return 1 if escalated else 0


def _bound_port(runner: Any, *, default: int) -> int:
    """The port actually bound (LUNA_PORT=0 asks the system for a free one)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return default


async def run_migrate(settings: Settings, *, to: int | None) -> int:
    from luna.db.migrate import migrate
    from luna.resources import open_database

    async with open_database(settings) as database, database.pool.acquire() as conn:
        done = await migrate(conn, to=to)
    for step in done:
        print(step)
    print("schema is up to date" if not done else f"{len(done)} migration step(s) applied")
    return 0


async def run_user_add(
    settings: Settings, username: str, *, team: str, admin: bool, password: str
) -> int:
    from luna.auth import hash_password
    from luna.db import queries
    from luna.resources import open_database

    async with open_database(settings) as database, database.pool.acquire() as conn:
        _, created = await queries.save_user(
            conn,
            username,
            password_hash=await asyncio.to_thread(hash_password, password),
            team=team,
            is_admin=admin,
        )
    role = "organiser" if admin else "member"
    print(f"{'created' if created else 'updated'} {role} {username!r} of team {team!r}")
    return 0


async def run_team_quota(settings: Settings, args: argparse.Namespace) -> int:
    from luna.db import queries
    from luna.resources import open_database

    async with open_database(settings) as database:
        found = await queries.set_team_quota(
            database.pool,
            args.team,
            datasets_per_day=args.datasets_per_day,
            bytes_stored=args.bytes_stored,
            files_per_dataset=args.files_per_dataset,
            bytes_per_file=args.bytes_per_file,
        )
    if not found:
        sys.stderr.write(f"luna: no team {args.team!r}\n")
        return 1
    print(f"quotas of team {args.team!r} set")
    return 0
