"""Status polling: latency at 20 pollers on a 1,000,000-finding, 100,000-file dataset, and
authenticated status throughput against a bare aiohttp handler serving the same body.

    python bench/status.py [--files 100000] [--findings 1000000] [--pollers 20]

Needs the machine's PostgreSQL (LUNA_BENCH_PG_URL); everything else is embedded. It makes a
scratch database, seeds one settled dataset of that size and one still processing, and starts
two `python -m luna serve` (settled bodies cached, the default, and LUNA_STATUS_CACHE_ENTRIES=0
so every poll builds the body in PostgreSQL) plus a bare aiohttp server, each its own process.

1. Latency: `--pollers` clients poll one status each as fast as answers come, for each case
   (settled from memory, settled built by PostgreSQL, processing); p50/p95/max and the body
   size. Goal: p95 under 50 ms, body under 64 KiB.
2. Throughput: a load generator process (raw keep-alive HTTP/1.1, its own core) alternates
   rounds between luna's authenticated status of the settled dataset and the bare handler
   returning the same bytes on the same event loop; prints req/s of each and luna/bare.
   Goal: 0.5 or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from liveness import (  # noqa: E402
    child_process,
    free_port,
    luna_cli,
    scratch_database,
    wait_until_answering,
)

GOAL_P95_S = 0.050
GOAL_BODY_BYTES = 64 * 1024
GOAL_RATIO = 0.5
# A large dataset's findings, spread over rules as a badly prepared upload would have them.
RULE_SHARES = {
    "image.corrupt": 0.4,
    "image.not_grayscale": 0.3,
    "upload.checksum_mismatch": 0.1,
    "manifest.unlisted_image": 0.1,
    "dataset.duplicate_image": 0.1,
}


# --- the load generator and the bare server (each its own process) -----------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending the same request as soon as each answer is whole."""

    def __init__(self, request: bytes, counts: dict[str, int], until: float) -> None:
        self.request, self.counts, self.until = request, counts, until
        self.buffer = bytearray()
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            start = head.find(b"content-length:") + len(b"content-length:")
            stop = head.find(b"\r\n", start)
            length = int(head[start : stop if stop >= 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            self.counts["ok" if head[9:12] == b"200" else "failed"] += 1
            del self.buffer[: end + 4 + length]
            if time.monotonic() >= self.until:
                self.transport.close()
                return
            self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _load(url: str, token: str, *, seconds: float, connections: int) -> dict[str, float]:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    lines = [f"GET /{path} HTTP/1.1", f"Host: {host_port}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    counts = {"ok": 0, "failed": 0}
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    protocols = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(
            lambda: _Connection(request, counts, started + seconds), host, int(port)
        )
        protocols.append(protocol)
    await asyncio.gather(*(p.done for p in protocols))
    elapsed = time.monotonic() - started
    return {"ok": counts["ok"], "failed": counts["failed"], "seconds": elapsed}


def run_load(url: str, *, seconds: float, connections: int) -> None:
    token = os.environ.get("BENCH_TOKEN", "")
    result = _run(_load(url, token, seconds=seconds, connections=connections))
    sys.stdout.write(json.dumps(result))


def run_bare_server(port: int, body_path: Path) -> None:
    from aiohttp import web

    body = body_path.read_bytes()

    async def status(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/validation/{dataset_id}/status", status)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    _run(serve())


def _run(coroutine: Any) -> Any:
    """Run on the event loop luna serves with (uvloop where installed), so only the handlers
    differ between luna and the bare server."""
    from luna.cli import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(coroutine)


# --- seeding ------------------------------------------------------------------------------------


async def seed(database_url: str, *, files: int, findings: int) -> tuple[int, int]:
    """A settled dataset and one still processing, of `files` files each; their ids."""
    import importlib.util

    # tests/status/seed.py by path: this file's own name shadows the tests' status/ folder.
    spec = importlib.util.spec_from_file_location("status_seed", ROOT / "tests/status/seed.py")
    assert spec is not None and spec.loader is not None
    seeding = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeding)
    large_settled_dataset = seeding.large_settled_dataset
    from luna.db import queries
    from luna.db.pool import database_pool

    per_rule = {rule: int(findings * share) for rule, share in RULE_SHARES.items()}
    async with database_pool(database_url, max_size=2) as db:
        user = await queries.fetch_user(db, "bench")
        assert user is not None
        settled = await large_settled_dataset(
            db, team_id=user.team_id, user_id=user.id, files=files, findings=per_rule
        )
        live = await large_settled_dataset(
            db, team_id=user.team_id, user_id=user.id, files=files, findings={}
        )
        await db.execute(
            "UPDATE validation_jobs SET status = 'processing', results = NULL, "
            "completed_at = NULL, files_done = $2 WHERE id = $1",
            live,
            files // 3,
        )
    return settled, live


# --- measuring ----------------------------------------------------------------------------------


async def poll(
    url: str, token: str, *, pollers: int, seconds: float
) -> tuple[list[float], int, int]:
    """Latencies of `pollers` clients polling `url` back to back; the body size; failures."""
    latencies: list[float] = []
    failures = 0
    size = 0
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=pollers)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def poller() -> None:
            nonlocal failures, size
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    failures += 1
                size = len(body)

        await asyncio.gather(*(poller() for _ in range(pollers)))
    return latencies, size, failures


def quantile_ms(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1000


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load_round(
    url: str, token: str, *, seconds: float, connections: int, server_pid: int
) -> tuple[float, float]:
    """req/s of one round, from a load generator process, and the server's CPU ms per
    request (which a machine busy with other work slows far less than req/s)."""
    before = cpu_s(server_pid)
    env = {**os.environ, "BENCH_TOKEN": token}
    args = ("--load", url, "--round-seconds", str(seconds), "--connections", str(connections))
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, env=env, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    out, _ = await process.communicate()
    result = json.loads(out)
    if result["failed"]:
        raise RuntimeError(f"{url}: {result['failed']} answers were not 200")
    cpu_ms = (cpu_s(server_pid) - before) * 1000 / max(result["ok"], 1)
    return float(result["ok"] / result["seconds"]), cpu_ms


async def login(base_url: str, password: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base_url}/api/v1/auth/login", json={"username": "bench", "password": password}
        ) as response:
            return str((await response.json())["access_token"])


async def bench(args: argparse.Namespace) -> int:
    run_id = secrets.token_hex(3)
    password = secrets.token_urlsafe(12)
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(scratch_database(run_id))
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="luna-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNA_", "MINIO_", "AMQP"))}
        env.update(
            DATABASE_URL=database_url,
            JWT_SECRET_KEY=secrets.token_urlsafe(32),
            LUNA_HOST="127.0.0.1",
            LUNA_VALIDATORS="0",
            LUNA_DATA_DIR=data_dir,
            LOG_LEVEL="WARNING",
        )
        await luna_cli(env, "migrate")
        await luna_cli(
            env, "user", "add", "bench", "--team", "bench", "--password-stdin",
            stdin=f"{password}\n".encode(),
        )  # fmt: skip
        started = time.perf_counter()
        settled, live = await seed(database_url, files=args.files, findings=args.findings)
        print(
            f"seeded {args.files:,} files x 2 and {args.findings:,} findings "
            f"in {time.perf_counter() - started:.1f} s"
        )
        servers: dict[str, str] = {}
        pids: dict[str, int] = {}
        for name, extra in (("cached", {}), ("uncached", {"LUNA_STATUS_CACHE_ENTRIES": "0"})):
            port = free_port()
            process = await stack.enter_async_context(
                child_process(
                    sys.executable, "-m", "luna", "serve",
                    env={**env, "LUNA_PORT": str(port), **extra},
                )
            )  # fmt: skip
            servers[name] = f"http://127.0.0.1:{port}"
            pids[name] = process.pid
            await wait_until_answering(f"{servers[name]}/liveness", process, f"luna ({name})")
        token = await login(servers["cached"], password)

        status_url = f"{servers['cached']}/api/v1/validation/{settled}/status"
        async with aiohttp.ClientSession() as session:
            async with session.get(
                status_url, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                body = await response.read()
        body_path = Path(data_dir) / "status.json"
        body_path.write_bytes(body)
        bare_port = free_port()
        bare = await stack.enter_async_context(
            child_process(sys.executable, __file__, "--bare", str(bare_port), str(body_path))
        )
        bare_url = f"http://127.0.0.1:{bare_port}/api/v1/validation/{settled}/status"
        await wait_until_answering(bare_url, bare, "the bare server")

        print(f"\n1. {args.pollers} pollers, {args.seconds:.0f} s each")
        print(f"{'case':<34}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'body B':>9}")
        ok = True
        cases = (
            ("settled, from memory", servers["cached"], settled),
            ("settled, built by PostgreSQL", servers["uncached"], settled),
            ("processing", servers["cached"], live),
            ("bare handler, same body (baseline)", f"http://127.0.0.1:{bare_port}", settled),
        )
        for label, base_url, dataset_id in cases:
            url = f"{base_url}/api/v1/validation/{dataset_id}/status"
            latencies, size, failures = await poll(
                url, token, pollers=args.pollers, seconds=args.seconds
            )
            p95 = quantile_ms(latencies, 95)
            if "baseline" in label:
                print(
                    f"{label:<34}{len(latencies) / args.seconds:>8.0f}"
                    f"{quantile_ms(latencies, 50):>9.1f}{p95:>9.1f}{max(latencies) * 1000:>9.1f}"
                    f"{size:>9,}"
                )
                continue
            ok &= p95 < GOAL_P95_S * 1000 and size < GOAL_BODY_BYTES and not failures
            print(
                f"{label:<34}{len(latencies) / args.seconds:>8.0f}{quantile_ms(latencies, 50):>9.1f}"
                f"{p95:>9.1f}{max(latencies) * 1000:>9.1f}{size:>9,}"
                + (f"  {failures} failed" if failures else "")
            )
        print(
            f"goal: p95 < {GOAL_P95_S * 1000:.0f} ms and body < {GOAL_BODY_BYTES // 1024} KiB: "
            + ("met" if ok else "NOT met")
            + " (the baseline row shows what this machine allows right now)"
        )

        print(
            f"\n2. throughput, {args.rounds} alternating rounds of {args.round_seconds:.0f} s, "
            f"{args.connections} keep-alive connections, {len(body):,}-byte body"
        )
        luna_rates, bare_rates, luna_cpu, bare_cpu = [], [], [], []
        for n in range(args.rounds):
            rate, cpu = await load_round(
                bare_url,
                "",
                seconds=args.round_seconds,
                connections=args.connections,
                server_pid=bare.pid,
            )
            bare_rates.append(rate)
            bare_cpu.append(cpu)
            rate, cpu = await load_round(
                status_url,
                token,
                seconds=args.round_seconds,
                connections=args.connections,
                server_pid=pids["cached"],
            )
            luna_rates.append(rate)
            luna_cpu.append(cpu)
            print(
                f"round {n + 1}: bare {bare_rates[-1]:>7.0f} req/s {bare_cpu[-1]:.3f} CPU ms/req"
                f"   luna {luna_rates[-1]:>7.0f} req/s {luna_cpu[-1]:.3f} CPU ms/req"
                f"   luna/bare {luna_rates[-1] / bare_rates[-1]:.2f}"
            )
        ratio = statistics.median(
            luna / bare for luna, bare in zip(luna_rates, bare_rates, strict=True)
        )
        cpu_ratio = statistics.median(bare_cpu) / statistics.median(luna_cpu)
        print(
            f"luna / bare, req/s (median of rounds): {ratio:.2f}; by CPU per request: "
            f"{cpu_ratio:.2f}  goal >= {GOAL_RATIO}: "
            + ("met" if ratio >= GOAL_RATIO else "NOT met")
        )
        return 0 if ok and ratio >= GOAL_RATIO else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0, help="polling time per case")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=2, metavar=("PORT", "BODY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        run_load(args.load, seconds=args.round_seconds, connections=args.connections)
    elif args.bare:
        run_bare_server(int(args.bare[0]), Path(args.bare[1]))
    else:
        sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
