"""The dataset on the team's disk: which files, of what type, with which SHA-256.

files = scan_directory(Path("my-dataset"))          # relative '/' names, hidden ones skipped
files = await hash_files(files, on_bytes=progress.advance)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from luna.client.constants import HASH_THREADS, READ_CHUNK_BYTES

CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".dcm": "application/dicom",
    ".csv": "text/csv",
}
FALLBACK_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class LocalFile:
    path: Path
    filename: str  # relative to the dataset directory, '/'-separated
    size_bytes: int
    content_type: str
    sha256: str | None = None

    def declaration(self) -> dict[str, Any]:
        """The file as `upload/start` declares it."""
        declared: dict[str, Any] = {
            "filename": self.filename,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
        }
        if self.sha256 is not None:
            declared["sha256"] = self.sha256
        return declared


def content_type_of(filename: str) -> str:
    """The type luna expects for the extension (ignoring case), else octet-stream."""
    return CONTENT_TYPES.get(os.path.splitext(filename)[1].lower(), FALLBACK_CONTENT_TYPE)


def scan_directory(root: Path) -> list[LocalFile]:
    """Every regular file under `root`, sorted by name. Hidden files and folders (a name
    starting with '.': .DS_Store, .git) are skipped: they are never part of a dataset."""
    files: list[LocalFile] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in names:
            path = Path(folder, name)
            if name.startswith(".") or not path.is_file():
                continue
            filename = path.relative_to(root).as_posix()
            files.append(
                LocalFile(
                    path=path,
                    filename=filename,
                    size_bytes=path.stat().st_size,
                    content_type=content_type_of(filename),
                )
            )
    files.sort(key=lambda f: f.filename)
    return files


class HashingCancelled(Exception):
    pass


def sha256_of(
    path: Path,
    *,
    on_bytes: Callable[[int], None] | None = None,
    cancelled: threading.Event | None = None,
) -> str:
    """The file's SHA-256, read in chunks (a 5 GiB file never sits in memory); stops early
    when `cancelled` is set."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(READ_CHUNK_BYTES):
            if cancelled is not None and cancelled.is_set():
                raise HashingCancelled(str(path))
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


async def hash_files(
    files: Sequence[LocalFile],
    *,
    on_bytes: Callable[[int], None] | None = None,
    threads: int = HASH_THREADS,
) -> list[LocalFile]:
    """`files` with their SHA-256, computed in worker threads; `on_bytes` is called on the
    event loop's thread as bytes are read."""
    loop = asyncio.get_running_loop()

    def report(count: int) -> None:
        if on_bytes is not None:
            loop.call_soon_threadsafe(on_bytes, count)

    cancelled = threading.Event()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="luna-hash")
    try:
        digests = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, partial(sha256_of, f.path, on_bytes=report, cancelled=cancelled)
                )
                for f in files
            )
        )
    finally:
        # On Ctrl-C or a failure, the threads stop at their next chunk instead of finishing.
        cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)
    return [replace(f, sha256=digest) for f, digest in zip(files, digests, strict=True)]
