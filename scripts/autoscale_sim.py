"""Autoscaling on one machine: the worker HPA's rule, the real queue, real worker processes.

Reads the worker HorizontalPodAutoscaler from k8s/base/autoscaling.yaml (bounds, target per
replica, stabilization windows, rate policies), shrinks its times by --time-scale, and runs it
against the ready-message count of a real RabbitMQ queue (passive declare; no management
plugin). Replicas are real `python -m luna worker` processes, started and stopped (SIGTERM, so
they drain) as the rule says, while a burst of datasets is uploaded through a real
`python -m luna serve`. Prints queue length and replicas over time, then whether every job
finished exactly once.

    .venv/bin/python scripts/autoscale_sim.py                        # 60 datasets, time x0.05
    .venv/bin/python scripts/autoscale_sim.py --datasets 120 --images 20 --time-scale 0.1
    .venv/bin/python scripts/autoscale_sim.py --worker-command "python -m luna worker"

Needs PostgreSQL and RabbitMQ (DATABASE_ADMIN_URL, AMQP_URL; this machine's by default). S3 is
a moto server it starts, unless MINIO_ENDPOINT is set. Everything it creates (database, queues,
bucket, processes) is named for this run and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
import yaml

from luna.autoscale import Autoscaler, Direction, ScalingRule
from luna.examples import write_example_dataset

REPO = Path(__file__).resolve().parents[1]

# A dataset's `status` in the API is its job's: these two mean the job has ended.
SETTLED = ("completed", "failed")
# Kubernetes' HPA controller syncs every 15 s (--horizontal-pod-autoscaler-sync-period).
HPA_SYNC_PERIOD_S = 15.0
UPLOADS_IN_FLIGHT = 4
# Workers that exit by themselves are replaced, as a ReplicaSet would; this many means a bug.
MAX_WORKER_CRASHES = 5
SIM_PASSWORD = "autoscale-sim-password"


@dataclass(frozen=True)
class Options:
    datasets: int
    images: int
    time_scale: float
    validators: int
    worker_command: list[str]
    hpa_path: Path
    timeout_s: float
    log_dir: Path | None
    admin_db_url: str
    amqp_url: str
    s3_endpoint: str | None


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--datasets", type=int, default=60, help="datasets in the burst")
    parser.add_argument("--images", type=int, default=12, help="images per dataset")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.05,
        help="factor on every HPA time (0.05: 10 min -> 30 s)",
    )
    parser.add_argument("--validators", type=int, default=2, help="LUNA_VALIDATORS per worker")
    parser.add_argument(
        "--worker-command",
        default=f"{shlex.quote(sys.executable)} -m luna worker",
        help="command that runs one worker (env carries the settings)",
    )
    parser.add_argument("--hpa", type=Path, default=REPO / "k8s" / "base" / "autoscaling.yaml")
    parser.add_argument("--timeout-s", type=float, default=600.0)
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep every process's log here (default: dropped)",
    )
    args = parser.parse_args(argv)
    return Options(
        datasets=args.datasets,
        images=args.images,
        time_scale=args.time_scale,
        validators=args.validators,
        worker_command=shlex.split(args.worker_command),
        hpa_path=args.hpa,
        timeout_s=args.timeout_s,
        log_dir=args.log_dir,
        admin_db_url=os.environ.get(
            "DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        s3_endpoint=os.environ.get("MINIO_ENDPOINT"),
    )


def describe(rule: ScalingRule) -> str:
    def direction(name: str, d: Direction) -> str:
        policies = ", ".join(f"{p.value} {p.kind} per {p.period_s:g} s" for p in d.policies)
        return f"{name} after {d.window_s:g} s window, at most {policies} ({d.select})"

    return (
        f"{rule.min_replicas}-{rule.max_replicas} workers, {rule.target_per_replica:g} waiting "
        f"jobs each; {direction('up', rule.up)}; {direction('down', rule.down)}"
    )


def load_rule(path: Path, *, time_scale: float) -> ScalingRule:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    hpas = [
        d
        for d in documents
        if d["kind"] == "HorizontalPodAutoscaler" and d["spec"]["metrics"][0]["type"] == "External"
    ]
    if len(hpas) != 1:
        raise SystemExit(f"{path}: expected one HPA on an External metric, found {len(hpas)}")
    return ScalingRule.from_hpa(hpas[0], time_scale=time_scale)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the run's own backing resources ----------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str, *, name: str) -> AsyncIterator[str]:
    """A fresh database for this run, dropped at the end."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.contextmanager
def s3_server(endpoint: str | None) -> Iterator[str]:
    """The configured S3 endpoint, or a moto server for the run."""
    if endpoint:
        yield endpoint
        return
    from moto.server import ThreadedMotoServer

    # One access-log line per request would bury the timeline.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def queue_probe(amqp_url: str, *, queue: str) -> AsyncIterator[QueueProbe]:
    """Reads the queue's counts; deletes the run's queues at the end."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        yield QueueProbe(connection, queue)
    finally:
        channel = await connection.channel()
        for name in (queue, f"{queue}.retry", f"{queue}.dead"):
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(name)
        await connection.close()


@dataclass
class QueueProbe:
    connection: aio_pika.abc.AbstractRobustConnection
    queue: str

    async def counts(self) -> tuple[int, int]:
        """(ready messages, consumers); (0, 0) while nobody has declared the queue yet."""
        channel = await self.connection.channel()
        try:
            declared = await channel.declare_queue(self.queue, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return 0, 0
        finally:
            if not channel.is_closed:
                await channel.close()
        result = declared.declaration_result
        return int(result.message_count or 0), int(result.consumer_count or 0)


# ---- luna processes ---------------------------------------------------------------------------


@dataclass
class Processes:
    """luna subprocesses of this run. Workers stop with SIGTERM and drain; `close` ends all."""

    env: dict[str, str]
    log_dir: Path
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)
    others: list[asyncio.subprocess.Process] = field(default_factory=list)
    stopping: set[asyncio.Task[int]] = field(default_factory=set)
    replicas: int = 0  # what the autoscaler set, as a Deployment's spec.replicas
    started: int = 0
    crashes: int = 0

    async def spawn(
        self, command: list[str], *, name: str, **env: str
    ) -> asyncio.subprocess.Process:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=REPO,
                env={**self.env, **env},
                stdin=asyncio.subprocess.PIPE,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.others.append(process)
        return process

    async def scale_workers(
        self, replicas: int, *, command: list[str], tasks: asyncio.TaskGroup
    ) -> None:
        """Make `replicas` workers run: the spec, which also replaces workers that exited."""
        self.replicas = replicas
        while len(self.workers) < replicas:
            self.started += 1
            process = await self.spawn(command, name=f"worker-{self.started}")
            self.others.remove(process)
            self.workers.append(process)
        while len(self.workers) > replicas:
            # The newest goes first, as a ReplicaSet prefers the youngest pod when scaling down.
            task = tasks.create_task(stop(self.workers.pop()))
            self.stopping.add(task)
            task.add_done_callback(self.stopping.discard)

    def reap(self) -> list[str]:
        """Drop workers that exited by themselves (a ReplicaSet replaces them); their logs."""
        exited = [w for w in self.workers if w.returncode is not None]
        self.workers = [w for w in self.workers if w.returncode is None]
        self.crashes += len(exited)
        return [f"worker pid {w.pid} exited with {w.returncode}" for w in exited]

    async def close(self) -> None:
        """Stop every process this run started, whatever state the run ended in."""
        everything = [*self.workers, *self.others]
        self.workers.clear()
        self.others.clear()
        await asyncio.gather(*(stop(p) for p in everything), *self.stopping, return_exceptions=True)


async def stop(process: asyncio.subprocess.Process, *, grace_s: float = 40.0) -> int:
    """SIGTERM, then SIGKILL if the drain takes longer than a Kubernetes grace period."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), grace_s)
    except TimeoutError:
        process.kill()
        return await process.wait()


async def run_once(
    processes: Processes, command: list[str], *, name: str, stdin: bytes = b""
) -> None:
    process = await processes.spawn(command, name=name)
    await process.communicate(stdin)
    processes.others.remove(process)
    if process.returncode != 0:
        log = (processes.log_dir / f"{name}.log").read_text(errors="replace")
        raise SystemExit(f"{shlex.join(command)} failed:\n{log}")


async def wait_ready(session: aiohttp.ClientSession, url: str, *, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{url}/readiness") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout_s} s")


# ---- the burst, through the public API --------------------------------------------------------


@dataclass(frozen=True)
class DatasetFiles:
    files: dict[str, bytes]

    def declared(self) -> list[dict[str, object]]:
        return [
            {
                "filename": name,
                "content_type": "application/octet-stream",
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for name, data in self.files.items()
        ]


def example_files(images: int) -> DatasetFiles:
    """One example dataset (accepted by the ruleset); every dataset of the burst uploads it."""
    with tempfile.TemporaryDirectory() as folder:
        example = write_example_dataset(Path(folder) / "dataset", images=images)
        return DatasetFiles({n: (example.directory / n).read_bytes() for n in example.files})


@dataclass(frozen=True)
class Api:
    session: aiohttp.ClientSession
    url: str
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def login(self) -> Api:
        body = {"username": "sim", "password": SIM_PASSWORD}
        async with self.session.post(f"{self.url}/api/v1/auth/login", json=body) as response:
            response.raise_for_status()
            token = (await response.json())["access_token"]
        return Api(self.session, self.url, token)

    async def upload(self, files: DatasetFiles, *, name: str) -> int:
        body = {"dataset_name": name, "files": files.declared()}
        start = f"{self.url}/api/v1/upload/start"
        async with self.session.post(start, json=body, headers=self.headers) as response:
            response.raise_for_status()
            started = await response.json()
        for entry in started["upload_urls"]:
            data = files.files[entry["filename"]]
            url, put_headers = entry["upload_url"], entry["headers"]
            async with self.session.put(url, data=data, headers=put_headers) as put:
                put.raise_for_status()
        complete = f"{self.url}/api/v1/upload/complete"
        body = {"dataset_id": started["dataset_id"]}
        async with self.session.post(complete, json=body, headers=self.headers) as response:
            response.raise_for_status()
        return int(started["dataset_id"])

    async def settled(self) -> int:
        """Datasets of the run whose validation job has ended (completed or failed)."""
        settled, cursor = 0, None
        while True:
            params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            url = f"{self.url}/api/v1/datasets"
            async with self.session.get(url, params=params, headers=self.headers) as response:
                response.raise_for_status()
                page = await response.json()
            settled += sum(1 for item in page["items"] if item["status"] in SETTLED)
            cursor = page.get("next_cursor")
            if not cursor:
                return settled

    async def status(self, dataset_id: int) -> dict[str, object]:
        url = f"{self.url}/api/v1/validation/{dataset_id}/status"
        async with self.session.get(url, headers=self.headers) as response:
            response.raise_for_status()
            return dict(await response.json())


async def burst(api: Api, *, datasets: int, images: int) -> list[int]:
    files = await asyncio.to_thread(example_files, images)
    gate = asyncio.Semaphore(UPLOADS_IN_FLIGHT)

    async def one(index: int) -> int:
        async with gate:
            return await api.upload(files, name=f"burst-{index}")

    return list(await asyncio.gather(*(one(i) for i in range(datasets))))


# ---- the autoscaler at work -------------------------------------------------------------------


@dataclass
class Timeline:
    """(seconds since start, ready jobs, consumers, replicas) at every sync."""

    rows: list[tuple[float, int, int, int]] = field(default_factory=list)

    def peak(self) -> tuple[int, float]:
        top = max(row[3] for row in self.rows)
        return top, next(row[0] for row in self.rows if row[3] == top)


def print_tick(row: tuple[float, int, int, int], *, before: int, done: int, total: int) -> None:
    at_s, queue, consumers, replicas = row
    change = f"{before:>2} -> {replicas:<2}" if replicas != before else f"{replicas:>2}      "
    print(
        f"{at_s:7.1f} s  queue {queue:4d}  consumers {consumers:3d}  replicas {change}"
        f"  done {done:4d}/{total:<4d} {'#' * replicas}",
        flush=True,
    )


async def autoscale(
    processes: Processes,
    probe: QueueProbe,
    tasks: asyncio.TaskGroup,
    *,
    rule: ScalingRule,
    options: Options,
    settled: Callable[[], Awaitable[int]],
) -> Timeline:
    """Sync like the HPA controller until every dataset is done and workers are back at min."""
    autoscaler = Autoscaler(rule)
    sync_s = max(0.5, HPA_SYNC_PERIOD_S * options.time_scale)
    timeline = Timeline()
    started_s = time.monotonic()
    while time.monotonic() - started_s < options.timeout_s:
        for line in processes.reap():
            print(f"  ! {line} (see --log-dir)", flush=True)
        if processes.crashes > MAX_WORKER_CRASHES:
            raise SystemExit(
                f"workers keep exiting: is `{shlex.join(options.worker_command)}` right?"
            )
        queue, consumers = await probe.counts()
        before = processes.replicas
        desired = autoscaler.decide(current=before, metric=queue, now_s=time.monotonic())
        await processes.scale_workers(desired, command=options.worker_command, tasks=tasks)
        done = await settled()
        row = (time.monotonic() - started_s, queue, consumers, desired)
        timeline.rows.append(row)
        print_tick(row, before=before, done=done, total=options.datasets)
        if done == options.datasets and queue == 0 and desired == rule.min_replicas:
            return timeline
        await asyncio.sleep(sync_s)
    raise SystemExit(f"not settled after {options.timeout_s} s (see --timeout-s)")


# ---- the verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    status: str
    finished: int  # "validation finished" log lines: how often a result was committed
    attempts: int


def outcome_of(status: dict[str, object]) -> JobOutcome:
    logs = status.get("validation_logs") or []
    messages = [str(entry["message"]) for entry in logs]  # type: ignore[index, union-attr]
    started = [m for m in messages if m.startswith("validation started")]
    return JobOutcome(
        status=str(status["status"]),
        finished=sum(m.startswith("validation finished") for m in messages),
        attempts=len(started),
    )


async def report(api: Api, dataset_ids: list[int], timeline: Timeline, rule: ScalingRule) -> bool:
    outcomes = [outcome_of(await api.status(i)) for i in dataset_ids]
    completed = sum(o.status == "completed" for o in outcomes)
    once = sum(o.status == "completed" and o.finished == 1 for o in outcomes)
    attempts: dict[int, int] = {}
    for outcome in outcomes:
        attempts[outcome.attempts] = attempts.get(outcome.attempts, 0) + 1
    peak, peak_at_s = timeline.peak()
    print()
    print(f"jobs completed: {completed}/{len(outcomes)}; finished exactly once: {once}")
    print(f"attempts per job: {dict(sorted(attempts.items()))}")
    print(
        f"replicas: {rule.min_replicas} -> {peak} (at {peak_at_s:.1f} s) -> {timeline.rows[-1][3]}"
    )
    print(f"total: {timeline.rows[-1][0]:.1f} s")
    return completed == once == len(outcomes)


# ---- wiring -----------------------------------------------------------------------------------


def luna_env(
    *, database_url: str, s3_endpoint: str, queue: str, run: str, options: Options, data_dir: Path
) -> dict[str, str]:
    own = ("LUNA_", "MINIO_", "AMQP_", "CELERY_", "DATABASE_", "REDIS_", "JWT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(
        DATABASE_URL=database_url,
        MINIO_ENDPOINT=s3_endpoint,
        MINIO_ACCESS_KEY=os.environ.get("MINIO_ACCESS_KEY", "autoscale-sim"),
        MINIO_SECRET_KEY=os.environ.get("MINIO_SECRET_KEY", "autoscale-sim-secret"),
        MINIO_BUCKET=f"luna-autoscale-{run}",
        AMQP_URL=options.amqp_url,
        LUNA_QUEUE=queue,
        LUNA_HOST="127.0.0.1",
        LUNA_PORT="0",
        LUNA_VALIDATORS=str(options.validators),
        LUNA_DATA_DIR=str(data_dir),
        JWT_SECRET_KEY=secrets.token_urlsafe(32),
        LOG_LEVEL="INFO",
    )
    return env


@contextlib.contextmanager
def log_folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="luna-autoscale-") as folder:
        yield Path(folder)


async def prepare(processes: Processes, session: aiohttp.ClientSession) -> Api:
    """Schema, an account and an API-only `serve` for the burst to go through."""
    luna = [sys.executable, "-m", "luna"]
    await run_once(processes, [*luna, "migrate"], name="migrate")
    user = [*luna, "user", "add", "sim", "--team", "sim", "--password-stdin"]
    await run_once(processes, user, name="user", stdin=f"{SIM_PASSWORD}\n".encode())
    port = free_port()
    await processes.spawn([*luna, "serve"], name="api", LUNA_PORT=str(port), LUNA_VALIDATORS="0")
    api = Api(session, f"http://127.0.0.1:{port}")
    await wait_ready(session, api.url)
    return await api.login()


async def simulate(options: Options) -> bool:
    rule = load_rule(options.hpa_path, time_scale=options.time_scale)
    print(f"{options.hpa_path.name}, times x{options.time_scale}: {describe(rule)}")
    run = secrets.token_hex(3)
    queue = f"luna.autoscale.{run}"
    with log_folder(options.log_dir) as logs, s3_server(options.s3_endpoint) as s3_endpoint:
        async with (
            scratch_database(options.admin_db_url, name=f"luna_autoscale_{run}") as database_url,
            queue_probe(options.amqp_url, queue=queue) as probe,
            aiohttp.ClientSession() as session,
        ):
            env = luna_env(
                database_url=database_url,
                s3_endpoint=s3_endpoint,
                queue=queue,
                run=run,
                options=options,
                data_dir=logs / "data",
            )
            processes = Processes(env, logs)
            try:
                api = await prepare(processes, session)
                async with asyncio.TaskGroup() as tasks:
                    await processes.scale_workers(
                        rule.min_replicas, command=options.worker_command, tasks=tasks
                    )
                    uploads = tasks.create_task(
                        burst(api, datasets=options.datasets, images=options.images)
                    )
                    timeline = await autoscale(
                        processes, probe, tasks, rule=rule, options=options, settled=api.settled
                    )
                return await report(api, await uploads, timeline, rule)
            finally:
                await processes.close()


async def simulate_until_stopped(options: Options) -> bool:
    """`simulate`, cancelled (so everything is cleaned up) on SIGTERM as on Ctrl-C."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await simulate(options)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        return 0 if asyncio.run(simulate_until_stopped(options)) else 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("stopped; the run's processes, database and queues are removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
