"""RSS growth of `luna serve` and `luna worker` while each validates one amplification input.

The inputs that once grew a validator by hundreds of MB (the hardening issue, item 8):
  rows:   a manifest of 1,000,000 rows (~21 MB, under the 32 MB manifest limit)
  line:   a 30 MB manifest on a single line
  rgba16: an 8192 x 8192 RGBA 16-bit PNG (512 MiB of pixels in ~0.5 MB)
each uploaded as a dataset with one small PNG beside it, validated first by `serve` (its own
validator, no worker running), then by a `worker` (serve with LUNA_VALIDATORS=0). Growth is
the process's peak RSS during the job minus its RSS before it: the peak is reset through
/proc/PID/clear_refs before each job (Linux, as root or the same user) and read from VmHWM.
A warm-up dataset first loads every decoder, so growth is what the input costs.

Uses the machine's PostgreSQL and RabbitMQ, and a moto S3 server, like bench/liveness.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from liveness import (
    BENCH_USER,
    Api,
    Dataset,
    child_process,
    declared,
    free_port,
    luna_cli,
    luna_env,
    moto_s3,
    rabbitmq_queues,
    scratch_database,
    wait_until_answering,
)

MiB = 1024 * 1024
GOAL_MIB = 64
JOB_TIMEOUT_S = 300.0


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgba16_png(side: int = 8192) -> bytes:
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    deflate = zlib.compressobj(9)
    row = bytes(1 + side * 8)
    data = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def small_png() -> bytes:
    from factories import png

    return png(300, 300, seed=7)


def inputs() -> dict[str, Dataset]:
    image = small_png()
    header = b"filename,patient_id,label\n"
    rows = (
        header
        + b"a.png,P1,No Finding\n"
        + b"".join(b"%d.png,P%d,Mass\n" % (n, n % 5000) for n in range(999_999))
    )
    line = header.rstrip(b"\n") + b"," + b"a.png," * (30 * MiB // 6)
    manifest = header + b"a.png,P1,No Finding\nbig.png,P2,No Finding\n"
    return {
        "warm-up": Dataset({"a.png": image, "manifest.csv": header + b"a.png,P1,No Finding\n"}),
        "rows": Dataset({"a.png": image, "manifest.csv": rows}),
        "line": Dataset({"a.png": image, "manifest.csv": line}),
        "rgba16": Dataset({"a.png": image, "big.png": rgba16_png(), "manifest.csv": manifest}),
    }


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


@dataclass
class Measured:
    before_mib: float
    growth_mib: float
    exact: bool
    seconds: float
    verdict: str
    rules: list[str]


async def validate(api: Api, dataset: Dataset, *, name: str, pid: int) -> Measured:
    dataset_id = await api.upload(dataset, declared(dataset), name=name)
    await asyncio.sleep(0.5)  # let the upload's buffers go before measuring
    before = rss_kib(pid)
    exact = reset_peak(pid)
    peak = before
    started = time.perf_counter()
    await api.complete(dataset_id)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        peak = max(peak, rss_kib(pid))  # also the fallback where the peak cannot be reset
        status = await api.status(dataset_id)
        if status["status"] in ("completed", "failed"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: still {status['status']} after {JOB_TIMEOUT_S} s")
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    if exact:
        peak = max(peak, rss_kib(pid, "VmHWM"))
    results = status.get("validation_results") or {}
    findings = results.get("findings") or []
    return Measured(
        before_mib=before / 1024,
        growth_mib=(peak - before) / 1024,
        exact=exact,
        seconds=seconds,
        verdict=results.get("verdict") or status["status"],
        rules=sorted({f["rule"] for f in findings}),
    )


@contextlib.asynccontextmanager
async def luna_process(
    env: dict[str, str], command: str, *, port: int, log: Path
) -> AsyncIterator[int]:
    env = {**env, "LUNA_PORT": str(port)}
    async with child_process(sys.executable, "-m", "luna", command, env=env, log=log) as process:
        await wait_until_answering(f"http://127.0.0.1:{port}/readiness", process, f"luna {command}")
        yield process.pid


async def run_mode(
    mode: str, base_env: dict[str, str], datasets: dict[str, Dataset], tmp: Path, password: str
) -> bool:
    """`serve` validating itself, or a `worker` beside a serve with no validators."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve_env = {**base_env, "LUNA_VALIDATORS": "1" if mode == "serve" else "0"}
    log = tmp / f"{mode}.log"
    ok = True
    async with contextlib.AsyncExitStack() as stack:
        serve_pid = await stack.enter_async_context(
            luna_process(serve_env, "serve", port=port, log=tmp / f"{mode}-serve.log")
        )
        pid = serve_pid
        if mode == "worker":
            worker_env = {**base_env, "LUNA_VALIDATORS": "1"}
            pid = await stack.enter_async_context(
                luna_process(worker_env, "worker", port=free_port(), log=log)
            )
        api = await stack.enter_async_context(Api.logged_in(base_url, password))
        for name, dataset in datasets.items():
            try:
                m = await validate(api, dataset, name=f"memory-{mode}-{name}", pid=pid)
            except Exception:
                text = (tmp / f"{mode}-serve.log").read_text()[-2000:]
                sys.stderr.write(f"luna's log, last lines:\n{text}\n")
                raise
            if name == "warm-up":
                continue
            good = m.growth_mib < GOAL_MIB
            ok &= good
            print(
                f"  {mode:6} {name:7} RSS {m.before_mib:6.0f} MiB, growth {m.growth_mib:6.1f} MiB"
                f"{'' if m.exact else ' (sampled)'}  goal < {GOAL_MIB} MiB: "
                f"{'ok' if good else 'MISSED'}  ({m.seconds:.1f} s, {m.verdict}: {', '.join(m.rules)})"
            )
    return ok


async def main() -> int:
    run_id = secrets.token_hex(4)
    started = time.perf_counter()
    datasets = inputs()
    sizes = ", ".join(f"{n} {d.size_bytes / MiB:.1f} MiB" for n, d in datasets.items())
    print(
        f"serve and worker RSS per input ({sizes}; built in {time.perf_counter() - started:.0f} s)"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            database_url = await stack.enter_async_context(scratch_database(run_id))
            queue = await stack.enter_async_context(rabbitmq_queues(run_id))
            s3 = await stack.enter_async_context(moto_s3())
            env = luna_env(
                database_url=database_url, s3_url=s3.url, queue=queue, run_id=run_id, port=0
            )
            env["LUNA_DATA_DIR"] = tmp
            password = secrets.token_urlsafe(16)
            await luna_cli(env, "migrate")
            await luna_cli(
                env, "user", "add", BENCH_USER, "--team", "bench", "--password-stdin",
                stdin=password.encode() + b"\n",
            )  # fmt: skip
            for mode in ("serve", "worker"):
                ok &= await run_mode(mode, env, datasets, Path(tmp), password)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    sys.exit(asyncio.run(main()))
