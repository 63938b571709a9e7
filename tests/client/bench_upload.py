"""Benchmark: hashing and one streamed PUT of a large file, client side only.

    .venv/bin/python tests/client/bench_upload.py [SIZE_MIB]

A local aiohttp server counts and discards the body, so the figures are the client's own
cost (disk reads, thread hops, progress), and the peak memory shows the file is streamed.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from luna.client.api import UploadTarget
from luna.client.local_files import hash_files, scan_directory
from luna.client.transfer import SinglePut


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_random_file(path: Path, *, size_mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(1 << 20))


async def main(size_mib: int) -> None:
    received = 0

    async def sink(request: web.Request) -> web.Response:
        nonlocal received
        async for chunk in request.content.iter_chunked(1 << 20):
            received += len(chunk)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_put("/{key:.*}", sink)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    with tempfile.TemporaryDirectory() as folder:
        await asyncio.to_thread(write_random_file, Path(folder, "big.dcm"), size_mib=size_mib)
        before_mib = peak_rss_mib()
        [file] = scan_directory(Path(folder))
        started = time.perf_counter()
        [file] = await hash_files([file])
        hash_s = time.perf_counter() - started
        target = UploadTarget(
            file_id=1,
            filename=file.filename,
            url=f"http://127.0.0.1:{port}/bucket/big.dcm?sig=x",
            method="PUT",
            headers={"Content-Type": file.content_type, "Content-Length": str(file.size_bytes)},
            s3_key="big.dcm",
        )
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            await SinglePut().send(session, file, target, progress=lambda n: None)
            put_s = time.perf_counter() - started
    await runner.cleanup()
    assert received == size_mib << 20, received
    print(f"file: {size_mib} MiB")
    print(f"hash: {size_mib / hash_s:.0f} MiB/s")
    print(f"PUT (client and sink on one machine): {size_mib / put_s:.0f} MiB/s")
    print(f"peak RSS: {before_mib:.0f} MiB before, {peak_rss_mib():.0f} MiB after")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 512))
