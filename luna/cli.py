"""`python -m luna COMMAND`: serve, worker, migrate, user, team, submit, example-dataset.

python -m luna serve                 # API + validators (LUNA_VALIDATORS, 0 = API only)
python -m luna worker                # validators only, with /liveness /readiness /metrics
python -m luna migrate [--to N]      # apply (or undo) sql/ migrations under a lock
echo pw | python -m luna user add alice --team red --password-stdin [--admin]
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from luna import constants
from luna.client import CLIENT_COMMANDS, add_client_commands, run_client_command
from luna.observability import configure_logging
from luna.settings import Settings, load_settings

log = logging.getLogger("luna")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="luna", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="run the API (and validators)",
        description=(
            "Run the API and, unless LUNA_VALIDATORS=0, validators, until SIGTERM or Ctrl-C "
            "(then drain for at most LUNA_SHUTDOWN_GRACE_S). Settings come from the "
            "environment (see the README); each backend whose URL is unset (DATABASE_URL, "
            "MINIO_ENDPOINT, AMQP_URL) is embedded, with its data under LUNA_DATA_DIR."
        ),
    )
    commands.add_parser(
        "worker",
        help="run validators only",
        description=(
            "Run validators only, taking jobs from RabbitMQ (AMQP_URL) and writing results to "
            "PostgreSQL (DATABASE_URL), both required; serves /liveness, /readiness and "
            "/metrics on LUNA_HOST:LUNA_PORT. Scaled as replicas beside `luna serve`."
        ),
    )
    migrate = commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Apply the sql/ migrations not yet applied (or undo down to --to), "
        "under a lock, so replicas starting together migrate once.",
    )
    migrate.add_argument(
        "--to", type=int, default=None, metavar="N", help="target version (0 = empty)"
    )
    user = commands.add_parser(
        "user", help="manage users", description="Manage the accounts that log in to luna."
    )
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser(
        "add",
        help="create a user (and its team if needed)",
        description="Create a user. An existing user is changed only when asked: --move to "
        "another team (or role), --reset-password for a new password; either ends the user's "
        "sessions.",
    )
    add.add_argument("username", help="the name they log in with")
    add.add_argument(
        "--team", required=True, metavar="TEAM", help="their team, created when it is new"
    )
    add.add_argument("--admin", action="store_true", help="an organiser: sees every team")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin's first line (else: asked on the terminal)",
    )
    add.add_argument(
        "--move", action="store_true", help="the user exists: move them to --team (and role)"
    )
    add.add_argument(
        "--reset-password", action="store_true", help="the user exists: set a new password"
    )
    add_client_commands(commands)
    team = commands.add_parser(
        "team", help="manage teams", description="Manage teams (created by `luna user add`)."
    )
    team_commands = team.add_subparsers(dest="team_command", required=True)
    quota = team_commands.add_parser(
        "quota",
        help="set a team's own quotas (an option left out means the default)",
        description="Set a team's own quotas; an option left out means the service-wide "
        "default (LUNA_QUOTA_*, LUNA_MAX_FILES, LUNA_MAX_FILE_BYTES). Sizes take a unit: "
        "500GiB, 2TiB, 10MB (plain numbers are bytes).",
    )
    quota.add_argument("team", help="the team's name")
    quota.add_argument(
        "--datasets-per-day", type=_count, metavar="N", help="datasets started per UTC day"
    )
    quota.add_argument(
        "--bytes-stored",
        type=_size,
        metavar="SIZE",
        help="bytes all the team's datasets may hold together, e.g. 2TiB",
    )
    quota.add_argument(
        "--files-per-dataset", type=_count, metavar="N", help="files one dataset may declare"
    )
    quota.add_argument(
        "--bytes-per-file", type=_size, metavar="SIZE", help="the largest file, e.g. 5GiB"
    )
    return parser


_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def _size(value: str) -> int:
    """A size in bytes from '2TiB', '500 GB' or '1048576'."""
    number, unit = value.strip(), ""
    while number and not number[-1].isdigit():
        number, unit = number[:-1], number[-1] + unit
    multiplier = _UNITS.get(unit.strip().upper())
    if not number.isascii() or not number.isdigit() or multiplier is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a size: write bytes, or a number and a unit (500GiB, 2TiB, 10MB)"
        )
    return int(number) * multiplier


def _count(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number")
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        # The team's side: needs none of the server's settings.
        return run_client_command(args)
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.command in ("serve", "worker"):
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(run_service(settings, mode=args.command))
    return _run_admin_command(settings, args)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (Linux and macOS), else asyncio's own: its
    libuv transports do a small request's socket work in about half the time, and socket
    writes were most of a status request's cost."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run_admin_command(settings: Settings, args: argparse.Namespace) -> int:
    """migrate, team quota, user add: one result line, or one line saying what stopped it."""
    from luna.errors import BackendUnavailable
    from luna.resources import ConfigurationError

    try:
        if args.command == "migrate":
            return asyncio.run(run_migrate(settings, to=args.to))
        if args.command == "team":
            return asyncio.run(run_team_quota(settings, args))
        if args.command == "user":
            return asyncio.run(run_user_add(settings, args))
    except ConfigurationError as exc:
        sys.stderr.write(f"luna: bad configuration: {exc}\n")
        return 2
    except BackendUnavailable as exc:
        sys.stderr.write(f"luna: {exc}\n")
        return 1
    return 2


def listen_problem(host: str, port: int) -> str | None:
    """Why luna could not listen on host:port (one line naming the setting to change), or
    None. Checked before anything starts, so a busy port costs no start-up and no traceback."""
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot listen on {host!r}: {exc.strerror}; set LUNA_HOST to an address of this machine"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            # As asyncio's server does, so a port left in TIME_WAIT counts as free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                return _bind_problem(exc, host=host, port=port)
    return None


def _bind_problem(exc: OSError, *, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is in use (another luna, or another program); set LUNA_PORT to a "
            f"free one, e.g. LUNA_PORT={port + 1}"
        )
    if exc.errno == errno.EACCES:
        return f"port {port} needs privileges this user lacks; set LUNA_PORT above 1023"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}); set LUNA_HOST or LUNA_PORT"


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
    if not password:
        sys.stderr.write("luna: the password is empty\n")
        raise SystemExit(2)
    if len(password) < constants.MIN_PASSWORD_LENGTH:
        sys.stderr.write(
            f"luna: the password is too short; use at least {constants.MIN_PASSWORD_LENGTH} "
            "characters\n"
        )
        raise SystemExit(2)
    return password


async def run_service(settings: Settings, *, mode: str) -> int:
    from aiohttp import web

    from luna.http.app import POOL, create_app
    from luna.http.keys import STATE
    from luna.http.server import GuardedAppRunner, RequestLimits
    from luna.resources import ConfigurationError

    problem = listen_problem(settings.luna_host, settings.luna_port)
    if problem is not None:
        sys.stderr.write(f"luna: {problem}\n")
        return 2
    try:
        app = create_app(settings, mode="serve" if mode == "serve" else "worker")
        runner = GuardedAppRunner(
            app,
            limits=RequestLimits.from_settings(settings),
            access_log=None,
            handle_signals=False,
        )
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
        try:
            await site.start()
        except OSError as exc:  # taken since the check above
            sys.stderr.write(
                f"luna: {_bind_problem(exc, host=settings.luna_host, port=settings.luna_port)}\n"
            )
            return 2
        port = _bound_port(runner, default=settings.luna_port)
        log.info("luna %s listening on http://%s:%s", mode, settings.luna_host, port)
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
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


async def run_user_add(settings: Settings, args: argparse.Namespace) -> int:
    """Create a user; change an existing one only as --move / --reset-password say."""
    from luna.auth import hash_password
    from luna.db import queries
    from luna.resources import open_database

    username, team, admin = args.username, args.team, args.admin
    role = "organiser" if admin else "member"
    a_role = "an organiser" if admin else "a member"
    async with open_database(settings) as database, database.pool.acquire() as conn:
        existing = await queries.fetch_user(conn, username)
        if existing is None:
            password = _read_password(from_stdin=args.password_stdin)
            password_hash = await asyncio.to_thread(hash_password, password)
            if await queries.create_user(
                conn, username, password_hash=password_hash, team=team, is_admin=admin
            ):
                print(f"created {role} {username!r} of team {team!r}")
                return 0
            existing = await queries.fetch_user(conn, username)
            assert existing is not None
        moving = existing.team_name != team or existing.is_admin != admin
        if not (args.move or args.reset_password) or (moving and not args.move):
            current = "an organiser" if existing.is_admin else "a member"
            sys.stderr.write(
                f"luna: {username!r} already exists, {current} of team "
                f"{existing.team_name!r}; nothing changed. Add --move to make them {a_role} of "
                f"team {team!r}, or --reset-password to give them a new password\n"
            )
            return 1
        new_hash: str | None = None
        if args.reset_password:
            password = _read_password(from_stdin=args.password_stdin)
            new_hash = await asyncio.to_thread(hash_password, password)
        await queries.update_user(
            conn, username, team=team if moving else None, password_hash=new_hash, is_admin=admin
        )
    changes = [f"now {a_role} of team {team!r}"] if moving else []
    changes += ["password reset"] if new_hash else []
    if not changes:
        print(f"{username!r} is already {a_role} of team {team!r}; nothing changed")
    else:
        print(f"updated {username!r}: {', '.join(changes)}; their earlier tokens no longer work")
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
