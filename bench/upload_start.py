"""`upload/start` and `upload/complete` for very large declarations, and the longest
transaction they hold.

Starts what it needs and removes it at the end: a scratch PostgreSQL database, a moto S3
server in its own process, a unique RabbitMQ queue and `python -m luna serve` (no validators:
only the two routes are timed). For each N it times, over HTTP as a client sees them:

  small:     N files under the multipart threshold, then `complete` (nothing uploaded);
  parts:     N files over the threshold (declared for multipart upload), then `complete`;
  opened:    `--opened` of those files got part URLs (their multipart uploads are open in
             the store) before `complete`, which then joins or drops each one.

Meanwhile a sampler polls `pg_stat_activity` every 10 ms for luna's connections and keeps the
oldest open transaction (`now() - xact_start`) and statement (`now() - query_start`) seen.
The baseline, measured in the same run on the same database, is the machine's floor for the
same rows: one plain `COPY` of N declared-file rows into a scratch table. Prints seconds,
the ratio to that floor, and whether the goals hold: 100,000 files start < 3 s, complete
< 5 s, and no transaction open longer than 2 s.

Run: python bench/upload_start.py [--sizes 10000 100000] [--opened 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from liveness import (  # the sibling benchmark's service helpers
    BENCH_USER,
    child_process,
    free_port,
    luna_cli,
    luna_env,
    moto_s3,
    rabbitmq_queues,
    scratch_database,
    wait_until_answering,
)

GOAL_START_S = 3.0
GOAL_COMPLETE_S = 5.0
GOAL_TRANSACTION_S = 2.0
SAMPLE_EVERY_S = 0.010
SMALL_BYTES = 1024
LARGE_BYTES = 100 * 1024 * 1024  # over the 64 MiB multipart threshold
REQUEST_TIMEOUT_S = 600.0

OLDEST_SQL = """
SELECT coalesce(extract(epoch FROM max(now() - xact_start)), 0)::float8,
       coalesce(extract(epoch FROM max(now() - query_start) FILTER (WHERE state = 'active')),
                0)::float8
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


class Sampler:
    """The oldest transaction and statement of luna's connections, polled until stopped."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.longest_transaction_s = 0.0
        self.longest_statement_s = 0.0
        self.samples = 0

    def reset(self) -> None:
        self.longest_transaction_s = self.longest_statement_s = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.database_url)
        try:
            while not stop.is_set():
                transaction_s, statement_s = await conn.fetchrow(OLDEST_SQL)
                self.longest_transaction_s = max(self.longest_transaction_s, transaction_s)
                self.longest_statement_s = max(self.longest_statement_s, statement_s)
                self.samples += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def sampling(database_url: str) -> AsyncIterator[Sampler]:
    sampler, stop = Sampler(database_url), asyncio.Event()
    task = asyncio.create_task(sampler.run(stop))
    try:
        yield sampler
    finally:
        stop.set()
        await task


async def copy_floor(database_url: str, files: list[dict[str, Any]]) -> float:
    """Seconds for one COPY of the same rows into a scratch table: the database's floor."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE floor (dataset_id bigint, filename text, content_type text, "
            "size_bytes bigint, s3_key text)"
        )
        records = [
            (1, f["filename"], f["content_type"], f["size_bytes"], "datasets/1/" + f["filename"])
            for f in files
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table("floor", records=records)
        return time.perf_counter() - started
    finally:
        await conn.close()


def declare(count: int, *, size_bytes: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "filename": f"{tag}/img{n:06d}.dcm",
            "content_type": "application/dicom",
            "size_bytes": size_bytes,
        }
        for n in range(count)
    ]


@dataclass
class Timing:
    what: str
    files: int
    start_s: float
    complete_s: float
    transaction_s: float
    statement_s: float
    floor_s: float


class Api:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session, self.base_url = session, base_url
        self.headers: dict[str, str] = {}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(
            method, self.base_url + path, headers=self.headers, **kwargs
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()


async def one_run(
    api: Api, sampler: Sampler, files: list[dict[str, Any]], *, what: str, opened: int, floor: float
) -> Timing:
    sampler.reset()
    began = time.perf_counter()
    started = await api.call(
        "POST", "/api/v1/upload/start", json={"dataset_name": what, "files": files}
    )
    start_s = time.perf_counter() - began
    dataset_id = started["dataset_id"]
    large = [e for e in started["upload_urls"] if e.get("multipart")]
    for entry in large[:opened]:
        await api.call(
            "POST",
            "/api/v1/upload/parts",
            json={"dataset_id": dataset_id, "file_id": entry["file_id"], "part_numbers": [1]},
        )
    began = time.perf_counter()
    await api.call("POST", "/api/v1/upload/complete", json={"dataset_id": dataset_id})
    complete_s = time.perf_counter() - began
    return Timing(
        what,
        len(files),
        start_s,
        complete_s,
        sampler.longest_transaction_s,
        sampler.longest_statement_s,
        floor,
    )


def report(timings: list[Timing], *, sampled: int) -> bool:
    print(f"\n{'case':<24}{'files':>8}{'start s':>9}{'/floor':>8}{'complete s':>12}"
          f"{'longest tx s':>14}{'stmt s':>8}")  # fmt: skip
    ok = True
    for t in timings:
        print(
            f"{t.what:<24}{t.files:>8}{t.start_s:>9.2f}{t.start_s / t.floor_s:>8.1f}"
            f"{t.complete_s:>12.2f}{t.transaction_s:>14.2f}{t.statement_s:>8.2f}"
        )
        if t.transaction_s > GOAL_TRANSACTION_S:
            ok = False
        if t.files >= 100_000 and (t.start_s > GOAL_START_S or t.complete_s > GOAL_COMPLETE_S):
            ok = False
    print(
        f"\nfloor: one COPY of the same rows into a scratch table "
        f"({', '.join(f'{t.files}: {t.floor_s:.2f} s' for t in timings if t.what.startswith('small'))}); "
        f"pg_stat_activity sampled {sampled} times"
    )
    print(
        f"goals: 100,000 files start < {GOAL_START_S:g} s and complete < {GOAL_COMPLETE_S:g} s; "
        f"no transaction open > {GOAL_TRANSACTION_S:g} s: {'hold' if ok else 'NOT MET'}"
    )
    return ok


async def main(sizes: list[int], opened: int) -> int:
    run_id = secrets.token_hex(4)
    async with (
        scratch_database(run_id) as database_url,
        rabbitmq_queues(run_id) as queue,
        moto_s3() as s3,
    ):
        port = free_port()
        env = luna_env(
            database_url=database_url, s3_url=s3.url, queue=queue, run_id=run_id, port=port
        )
        env.update(
            LUNA_VALIDATORS="0",
            LUNA_QUOTA_BYTES_STORED=str(1 << 62),
            LUNA_MAX_FILES=str(max(sizes)),
        )
        await luna_cli(env, "migrate")
        password = secrets.token_urlsafe(16)
        await luna_cli(env, "user", "add", BENCH_USER, "--team", "bench", "--password-stdin",
                       stdin=password.encode())  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        log = Path(os.environ.get("LUNA_BENCH_LOG", os.devnull))
        async with child_process(sys.executable, "-m", "luna", "serve", env=env, log=log) as serve:
            await wait_until_answering(base_url + "/liveness", serve, "luna serve")
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                api = Api(session, base_url)
                token = await api.call(
                    "POST",
                    "/api/v1/auth/login",
                    json={"username": BENCH_USER, "password": password},
                )
                api.headers = {"Authorization": f"Bearer {token['access_token']}"}
                timings = []
                async with sampling(database_url) as sampler:
                    for n in sizes:
                        small = declare(n, size_bytes=SMALL_BYTES, tag="small")
                        floor = await copy_floor(database_url, small)
                        for what, files, open_count in (
                            (f"small {n}", small, 0),
                            (f"parts {n}", declare(n, size_bytes=LARGE_BYTES, tag="parts"), 0),
                        ):
                            timings.append(
                                await one_run(
                                    api, sampler, files, what=what, opened=open_count, floor=floor
                                )
                            )
                            print(f"  {what}: done", flush=True)
                    if opened:
                        files = declare(opened, size_bytes=LARGE_BYTES, tag="opened")
                        floor = await copy_floor(database_url, files)
                        run = await one_run(
                            api, sampler, files, what=f"opened {opened}", opened=opened, floor=floor
                        )
                        timings.append(run)
                    sampled = sampler.samples
        return 0 if report(timings, sampled=sampled) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--opened", type=int, default=200, help="multipart uploads opened")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.sizes, args.opened)))
