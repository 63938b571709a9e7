"""`/liveness` latency while both cores validate: luna for real, idle and under load.

Starts everything it needs and removes it at the end: a scratch PostgreSQL database, a moto
S3 server in its own process, a unique RabbitMQ queue, and `python -m luna serve` with
LUNA_VALIDATORS=2 (after `luna migrate` and `luna user add`). A separate prober process sends
GET /liveness one after another, each on a fresh connection as the kubelet does:
  idle:   N probes before any dataset exists;
  loaded: probes while datasets of 4096 x 4096 images (16-bit PNG, DICOM DX, JPEG) validate.
          Only probes sent while two jobs ran at once count (from the jobs' started_at and
          completed_at), so the figures are about both validators being busy.
Prints p50/p95/p99/max for both, the loaded/idle ratio, the CPU luna used during the loaded
window, and whether the loaded p99 is under 50 ms.

Run: python bench/liveness.py [--datasets 12] [--jpegs 8] [--probes 400]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

PG_ADMIN_URL = os.environ.get("LUNA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("LUNA_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
SIDE_PX = 4096
GOAL_P99_S = 0.050
# Pause between probes: many samples, yet the prober never becomes the load itself.
PROBE_PAUSE_S = 0.010
PROBE_TIMEOUT_S = 5.0
UPLOADS_IN_FLIGHT = 4
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
# Validation of all datasets must end within this, or the run is reported as failed.
VALIDATION_TIMEOUT_S = 180.0
CPU_SAMPLE_INTERVAL_S = 0.2
BENCH_USER = "bench"
# Loaded probes of luna needed for a p99 worth printing.
MIN_LOADED_PROBES = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the prober and the control server (each its own process) ---------------------------------

Sample = tuple[float, float, int, int]  # wall-clock start, latency s, HTTP status (0: none), target


async def probe(urls: list[str], *, count: int) -> list[Sample]:
    """Sequential GETs taking `urls` in turn; `count` 0 means until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    samples: list[Sample] = []
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
    # A fresh connection per probe, as the kubelet makes: the accept is part of the answer.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        while not stop.is_set() and (count == 0 or len(samples) < count):
            target = len(samples) % len(urls)
            wall, started = time.time(), time.perf_counter()
            try:
                async with session.get(urls[target]) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            samples.append((wall, time.perf_counter() - started, status, target))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_PAUSE_S)
    return samples


async def start_prober(urls: list[str], *, count: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", *urls, "--count", str(count),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def prober_samples(process: asyncio.subprocess.Process, *, stop: bool) -> list[Sample]:
    if stop:
        process.send_signal(signal.SIGTERM)
    out, _ = await process.communicate()
    return [(float(w), float(lat), int(st), int(t)) for w, lat, st, t in json.loads(out)]


def run_control_server(port: int) -> None:
    """A bare aiohttp app answering /liveness as luna does, with nothing else to do: what the
    machine itself allows under the same load."""
    from aiohttp import web

    async def liveness(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    app = web.Application()
    app.router.add_get("/liveness", liveness)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- the services luna runs on ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_database(run_id: str) -> AsyncIterator[str]:
    import asyncpg

    name = f"luna_bench_{run_id}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def rabbitmq_queues(run_id: str) -> AsyncIterator[str]:
    """A queue name for this run; its jobs, retry and dead-letter queues are deleted after."""
    import aio_pika

    name = f"luna.bench.{run_id}"
    try:
        yield name
    finally:
        connection = await aio_pika.connect(AMQP_URL)
        try:
            channel = await connection.channel()
            for queue in (name, f"{name}.retry", f"{name}.dead"):
                await channel.queue_delete(queue)
        finally:
            await connection.close()


def open_for_output(log: Path | None) -> BinaryIO:
    return open(log or os.devnull, "wb")  # the child keeps its own copy of the descriptor


@contextlib.asynccontextmanager
async def child_process(
    *args: str, env: dict[str, str] | None = None, log: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A subprocess stopped with SIGTERM (killed after STOP_TIMEOUT_S) when the block ends."""
    with open_for_output(log) as out:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_answering(url: str, process: asyncio.subprocess.Process, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{what} exited with {process.returncode} while starting")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {START_TIMEOUT_S} s")


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextlib.asynccontextmanager
async def moto_s3() -> AsyncIterator[Server]:
    """moto's S3 server in its own process, so its CPU is counted apart from luna's."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = (sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port))
    async with child_process(*args) as process:
        await wait_until_answering(url, process, "moto")
        yield Server(url, process.pid)


@contextlib.asynccontextmanager
async def control_server() -> AsyncIterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/liveness"
    async with child_process(sys.executable, __file__, "--control", str(port)) as process:
        await wait_until_answering(url, process, "the control server")
        yield Server(url, process.pid)


def luna_env(
    *, database_url: str, s3_url: str, queue: str, run_id: str, port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNA_", "MINIO_", "AMQP"))}
    env.update(
        DATABASE_URL=database_url,
        MINIO_ENDPOINT=s3_url,
        MINIO_ACCESS_KEY="bench",
        MINIO_SECRET_KEY="bench-secret",
        MINIO_BUCKET=f"luna-bench-{run_id}",
        AMQP_URL=AMQP_URL,
        LUNA_QUEUE=queue,
        LUNA_HOST="127.0.0.1",
        LUNA_PORT=str(port),
        LUNA_VALIDATORS="2",
        # The benchmark's one team may send more datasets than a team may start in a day.
        LUNA_QUOTA_DATASETS_PER_DAY="100000",
        JWT_SECRET_KEY=secrets.token_urlsafe(32),
        LOG_LEVEL="WARNING",
    )
    return env


async def luna_cli(env: dict[str, str], *args: str, stdin: bytes = b"") -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "luna",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(stdin)
    if process.returncode != 0:
        raise RuntimeError(f"luna {' '.join(args)} failed:\n{out.decode(errors='replace')}")


# --- datasets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    files: dict[str, bytes]

    @property
    def size_bytes(self) -> int:
        return sum(len(data) for data in self.files.values())


def build_dataset(*, jpegs: int) -> Dataset:
    """A 16-bit PNG, a DICOM DX and `jpegs` JPEGs, all 4096 x 4096 and all different bytes
    (one picture, JPEGs at different qualities), with a manifest that makes it acceptable.
    Every submission reuses these bytes: identical files across datasets break no rule."""
    from factories import dicom, jpeg, manifest, png

    images = {
        "p000.png": png(SIDE_PX, SIDE_PX, seed=1, bits=16),
        "p001.dcm": dicom(SIDE_PX, SIDE_PX, seed=1),
    }
    for i in range(jpegs):
        images[f"p{i + 2:03d}.jpg"] = jpeg(
            SIDE_PX, SIDE_PX, seed=1, quality=95 - i, progressive=i % 2 == 0
        )
    rows = [
        {"filename": name, "patient_id": f"LUNA-{i:04d}", "label": "No Finding", "split": "train"}
        for i, name in enumerate(images)
    ]
    return Dataset({**images, "manifest.csv": manifest(rows)})


def declared(dataset: Dataset) -> list[dict[str, Any]]:
    return [
        {
            "filename": name,
            "content_type": "application/octet-stream",
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for name, data in dataset.files.items()
    ]


class Api:
    """The few API calls the benchmark makes, over one session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self.headers: dict[str, str] = {}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(
            method, self.base_url + path, headers=self.headers, **kwargs
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()

    async def login(self, username: str, password: str) -> None:
        body = await self.call(
            "POST", "/api/v1/auth/login", json={"username": username, "password": password}
        )
        self.headers = {"Authorization": f"Bearer {body['access_token']}"}

    async def upload(self, dataset: Dataset, files: list[dict[str, Any]], *, name: str) -> int:
        """Start a dataset and PUT every file; completing it is left to the caller."""
        started = await self.call(
            "POST", "/api/v1/upload/start", json={"dataset_name": name, "files": files}
        )
        for entry in started["upload_urls"]:
            data = dataset.files[entry["filename"]]
            async with self.session.put(
                entry["upload_url"], data=data, headers=entry["headers"]
            ) as put:
                if put.status != 200:
                    raise RuntimeError(f"PUT {entry['filename']}: {put.status}")
        return int(started["dataset_id"])

    @classmethod
    @contextlib.asynccontextmanager
    async def logged_in(cls, base_url: str, password: str) -> AsyncIterator[Api]:
        async with aiohttp.ClientSession() as session:
            api = cls(session, base_url)
            await api.login(BENCH_USER, password)
            yield api

    async def complete(self, dataset_id: int) -> None:
        await self.call("POST", "/api/v1/upload/complete", json={"dataset_id": dataset_id})

    async def status(self, dataset_id: int) -> dict[str, Any]:
        return await self.call("GET", f"/api/v1/validation/{dataset_id}/status")


async def upload_all(api: Api, dataset: Dataset, *, count: int) -> list[int]:
    files = declared(dataset)
    slots = asyncio.Semaphore(UPLOADS_IN_FLIGHT)

    async def one(n: int) -> int:
        async with slots:
            return await api.upload(dataset, files, name=f"liveness-bench-{n}")

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(n)) for n in range(count)]
    return [task.result() for task in tasks]


async def wait_for_jobs(api: Api, ids: list[int]) -> list[tuple[float, float]]:
    """(started, completed) wall-clock seconds of every job, once all are settled."""
    deadline = time.monotonic() + VALIDATION_TIMEOUT_S
    spans = []
    for dataset_id in ids:
        while True:
            status = await api.status(dataset_id)
            if status["status"] in ("completed", "failed"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dataset {dataset_id} still {status['status']}")
            await asyncio.sleep(0.25)
        if status["status"] != "completed" or status["validation_results"]["verdict"] != "accepted":
            raise RuntimeError(f"dataset {dataset_id} did not validate cleanly: {status}")
        spans.append(
            (
                datetime.fromisoformat(status["started_at"]).timestamp(),
                datetime.fromisoformat(status["completed_at"]).timestamp(),
            )
        )
    return spans


# --- what was measured --------------------------------------------------------------------------


def busy_windows(
    spans: list[tuple[float, float]], *, at_least: int = 2
) -> list[tuple[float, float]]:
    """The intervals during which at least `at_least` jobs ran at once."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    windows, running, opened = [], 0, 0.0
    for when, step in edges:
        before = running
        running += step
        if before < at_least <= running:
            opened = when
        elif running < at_least <= before:
            windows.append((opened, when))
    return windows


def inside(when: float, windows: list[tuple[float, float]]) -> bool:
    return any(start <= when < end for start, end in windows)


CpuSample = tuple[float, dict[str, float], float]  # wall s, CPU s per process, machine busy s


def read_cpu(pids: dict[str, int]) -> CpuSample:
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime, all threads
    with open("/proc/stat") as stat:
        cpu = [int(v) for v in stat.readline().split()[1:]]
    busy_s = (sum(cpu) - cpu[3] - cpu[4]) / ticks  # all but idle and iowait
    return time.time(), used, busy_s


async def sample_cpu(pids: dict[str, int], into: list[CpuSample], stop: asyncio.Event) -> None:
    while not stop.is_set():
        into.append(read_cpu(pids))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CPU_SAMPLE_INTERVAL_S)


def cpus_in(samples: list[CpuSample], windows: list[tuple[float, float]]) -> dict[str, float]:
    """CPUs used on average inside `windows`, per process and for the whole machine."""
    wall = 0.0
    used: dict[str, float] = {}
    for before, after in itertools.pairwise(samples):
        if inside((before[0] + after[0]) / 2, windows):
            wall += after[0] - before[0]
            for name in after[1]:
                used[name] = used.get(name, 0.0) + after[1][name] - before[1][name]
            used["machine"] = used.get("machine", 0.0) + after[2] - before[2]
    return {name: seconds / wall for name, seconds in used.items()} if wall else {}


def quantiles_ms(latencies_s: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return {
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "max": max(latencies_s) * 1000,
    }


def print_row(label: str, samples: list[Sample]) -> dict[str, float]:
    failed = sum(1 for sample in samples if sample[2] != 200)
    q = quantiles_ms([sample[1] for sample in samples])
    print(
        f"  {label:<15} {len(samples):6d} {q['p50']:8.2f} {q['p95']:8.2f} {q['p99']:8.2f}"
        f" {q['max']:8.2f}   {failed} failed"
    )
    return q


# --- the run ------------------------------------------------------------------------------------

LUNA, CONTROL = 0, 1  # prober targets


async def bench(args: argparse.Namespace) -> int:
    run_id = secrets.token_hex(4)
    started = time.perf_counter()
    dataset = build_dataset(jpegs=args.jpegs)
    print(
        f"dataset: {len(dataset.files) - 1} images of {SIDE_PX} x {SIDE_PX} px (a 16-bit PNG,"
        f" a DICOM DX, {args.jpegs} JPEGs) + manifest, {dataset.size_bytes / 1e6:.1f} MB;"
        f" built in {time.perf_counter() - started:.1f} s"
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            database_url = await stack.enter_async_context(scratch_database(run_id))
            queue = await stack.enter_async_context(rabbitmq_queues(run_id))
            s3 = await stack.enter_async_context(moto_s3())
            control = await stack.enter_async_context(control_server())
            env = luna_env(
                database_url=database_url, s3_url=s3.url, queue=queue, run_id=run_id, port=port
            )
            env["LUNA_DATA_DIR"] = tmp
            password = secrets.token_urlsafe(16)
            await luna_cli(env, "migrate")
            await luna_cli(
                env, "user", "add", BENCH_USER, "--team", "bench", "--password-stdin",
                stdin=password.encode() + b"\n",
            )  # fmt: skip
            log = Path(tmp) / "luna.log"
            luna = await stack.enter_async_context(
                child_process(sys.executable, "-m", "luna", "serve", env=env, log=log)
            )
            try:
                await wait_until_answering(base_url + "/readiness", luna, "luna serve")
                api = await stack.enter_async_context(Api.logged_in(base_url, password))
                return await measure(
                    args,
                    api=api,
                    dataset=dataset,
                    urls=[base_url + "/liveness", control.url],
                    pids={"luna": luna.pid, "moto S3": s3.pid, "control": control.pid},
                )
            except Exception:
                sys.stderr.write("luna's log, last lines:\n" + log.read_text()[-3000:] + "\n")
                raise


async def measure(
    args: argparse.Namespace, *, api: Api, dataset: Dataset, urls: list[str], pids: dict[str, int]
) -> int:
    idle = await prober_samples(await start_prober(urls, count=2 * args.probes), stop=False)
    started = time.perf_counter()
    ids = await upload_all(api, dataset, count=args.datasets)
    print(
        f"uploaded {len(ids)} datasets ({dataset.size_bytes * len(ids) / 1e9:.2f} GB) to S3"
        f" in {time.perf_counter() - started:.1f} s; validating them now"
    )
    prober = await start_prober(urls, count=0)
    # Every process of the benchmark's own is counted, so the rest is other people's load.
    pids = {**pids, "prober": prober.pid, "benchmark": os.getpid()}
    cpu: list[CpuSample] = []
    stop_sampling = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(sample_cpu(pids, cpu, stop_sampling))
        try:
            for dataset_id in ids:
                await api.complete(dataset_id)
            spans = await wait_for_jobs(api, ids)
        finally:
            stop_sampling.set()
            probes = await prober_samples(prober, stop=True)
    return report(idle, probes, spans=spans, cpu=cpu)


def report(
    idle: list[Sample],
    probes: list[Sample],
    *,
    spans: list[tuple[float, float]],
    cpu: list[CpuSample],
) -> int:
    windows = busy_windows(spans)
    loaded = [s for s in probes if inside(s[0], windows)]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    used = cpus_in(cpu, windows)
    print(
        f"validation: {len(spans)} jobs in {last - first:.1f} s; both validators busy for"
        f" {sum(end - start for start, end in windows):.1f} s, during which CPUs used:"
    )
    machine = used.pop("machine", 0.0)
    shares = ", ".join(f"{name} {value:.2f}" for name, value in used.items())
    print(f"  {shares}")
    print(
        f"  the rest (PostgreSQL, RabbitMQ, other users) {machine - sum(used.values()):.2f};"
        f" the machine {machine:.2f} of {os.cpu_count()}"
    )
    if sum(1 for s in loaded if s[3] == LUNA) < MIN_LOADED_PROBES:
        print("too few probes while both validators ran; raise --datasets")
        return 1
    print("GET /liveness, sequential, a fresh connection each, alternating luna and a bare")
    print("aiohttp server (the control: what this machine allows under the same load), ms:")
    print(f"  {'':<15} {'probes':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    figures = {}
    for phase, samples in (("idle", idle), ("loaded", loaded)):
        for target, name in ((LUNA, "luna"), (CONTROL, "control")):
            mine = [s for s in samples if s[3] == target]
            figures[name, phase] = print_row(f"{name} {phase}", mine)
    quiet, busy = figures["luna", "idle"], figures["luna", "loaded"]
    print(
        f"luna loaded / idle: p50 {busy['p50'] / quiet['p50']:.1f}x,"
        f" p99 {busy['p99'] / quiet['p99']:.1f}x"
    )
    met = busy["p99"] < GOAL_P99_S * 1000
    print(f"luna loaded p99 under {GOAL_P99_S * 1000:.0f} ms: {'yes' if met else 'NO'}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--datasets", type=int, default=12, help="datasets validated under load")
    parser.add_argument("--jpegs", type=int, default=8, help="4096 px JPEGs per dataset")
    parser.add_argument("--probes", type=int, default=300, help="idle probes of each server")
    parser.add_argument("--probe", nargs="+", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--control", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        sys.stdout.write(json.dumps(asyncio.run(probe(args.probe, count=args.count))))
    elif args.control:
        run_control_server(args.control)
    else:
        sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
