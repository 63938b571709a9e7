"""What the multipart tests share: files that exist only as a seed, a sender that PUTs what the
server signed and counts it, and the stores and app under test."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from luna.storage.base import ObjectStore, PresignedUpload

# ---------------------------------------------------------------- deterministic large files


@dataclass(frozen=True)
class GeneratedFile:
    """A file that exists only as a seed: part n's bytes are made on demand, the same each time,
    so a 300 MiB file never sits in memory whole."""

    seed: str
    size_bytes: int
    part_size_bytes: int

    @property
    def parts_total(self) -> int:
        return max(1, -(-self.size_bytes // self.part_size_bytes))

    def part(self, number: int) -> bytes:
        start = (number - 1) * self.part_size_bytes
        length = min(self.part_size_bytes, self.size_bytes - start)
        return random.Random(f"{self.seed}/{number}").randbytes(length)

    def chunks(self) -> Iterator[bytes]:
        for number in range(1, self.parts_total + 1):
            yield self.part(number)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


# ---------------------------------------------------------------- sending what the server signed


@dataclass
class Sender:
    """PUTs bodies exactly as a client does (the returned headers, any extras the HTTP library
    adds) and counts them. `base_url` replaces the origin of embedded-store URLs, which name
    luna's public address rather than the test server's."""

    session: aiohttp.ClientSession
    base_url: str | None = None
    puts: int = 0
    statuses: list[int] = field(default_factory=list)

    def target(self, url: str) -> str:
        if self.base_url is None:
            return url
        path = url.split("/store/", 1)[1]
        return f"{self.base_url}/store/{path}"

    async def put(
        self, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, CIMultiDict[str]]:
        # aiohttp sets Content-Length from the body; sending it twice would be a bad request.
        sent = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        self.puts += 1
        async with self.session.put(self.target(url), data=body, headers=sent) as response:
            await response.read()
            self.statuses.append(response.status)
            return response.status, CIMultiDict(response.headers)

    async def send(self, upload: PresignedUpload, body: bytes) -> tuple[int, CIMultiDict[str]]:
        return await self.put(upload.url, dict(upload.headers), body)


@dataclass
class Backend:
    name: str
    store: ObjectStore
    sender: Sender


@dataclass
class Api:
    """The app for one backend, and a sender for the URLs it hands out."""

    client: TestClient
    sender: Sender
    backend: str

    @property
    def store(self) -> ObjectStore:
        from luna.http.keys import STORE

        return self.client.app[STORE]


MiB = 1024 * 1024
MANIFEST = b"filename,patient_id,label\n"


def big_file(seed: str = "big") -> GeneratedFile:
    """A 3-part file at 5 MiB parts (with `small_parts`)."""
    return GeneratedFile(seed=seed, size_bytes=12 * MiB + 345, part_size_bytes=5 * MiB)


def entry(started: dict[str, Any], filename: str) -> dict[str, Any]:
    return next(e for e in started["upload_urls"] if e["filename"] == filename)


async def start_large_dataset(
    api: Api, headers: dict[str, str], big: GeneratedFile, *, upload_manifest: bool
) -> dict[str, Any]:
    """upload/start for `big.bin` and a manifest (PUT at once when `upload_manifest`)."""
    files = [
        {
            "filename": "big.bin",
            "content_type": "application/octet-stream",
            "size_bytes": big.size_bytes,
            "sha256": big.sha256(),
        },
        {
            "filename": "manifest.csv",
            "content_type": "text/csv",
            "size_bytes": len(MANIFEST),
            "sha256": hashlib.sha256(MANIFEST).hexdigest(),
        },
    ]
    response = await api.client.post(
        "/api/v1/upload/start", json={"dataset_name": "large", "files": files}, headers=headers
    )
    assert response.status == 200, await response.text()
    started: dict[str, Any] = await response.json()
    if upload_manifest:
        manifest = entry(started, "manifest.csv")
        status, _ = await api.sender.put(manifest["upload_url"], manifest["headers"], MANIFEST)
        assert status == 200
    return started
