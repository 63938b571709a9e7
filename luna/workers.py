"""Which luna processes are alive and how many validators each runs, for the organisers.

Every process with validators announces itself on a PostgreSQL channel every few seconds
(`announce`); each API process listens (`worker_roster`) and keeps the latest beat of each,
forgetting a process that has been silent for three beats. No table: a process that dies
simply stops beating.

    async with worker_roster(database_url) as roster:
        roster.live()     # [WorkerBeat(worker="host-123", validators=2, busy=1, ...)]
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

import asyncpg
import orjson

from luna import constants
from luna.db import queries
from luna.db.listen import listening

log = logging.getLogger("luna.workers")


@dataclass(frozen=True)
class WorkerBeat:
    worker: str  # host-pid
    mode: str  # "serve" or "worker"
    validators: int  # validator actors running
    busy: int  # of which validating a job now
    seen_at: float = 0.0  # time.monotonic() of the listener when it arrived

    def as_dict(self, *, now: float) -> dict[str, object]:
        body = asdict(self)
        del body["seen_at"]
        body["seen_s_ago"] = round(max(0.0, now - self.seen_at), 1)
        return body


async def announce(db: asyncpg.Pool, beat: WorkerBeat) -> None:
    payload = {k: v for k, v in asdict(beat).items() if k != "seen_at"}
    await queries.notify_worker_beat(db, orjson.dumps(payload).decode())


class WorkerRoster:
    def __init__(self) -> None:
        self._beats: dict[str, WorkerBeat] = {}

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            body = orjson.loads(payload)
            beat = WorkerBeat(
                worker=str(body["worker"]),
                mode=str(body["mode"]),
                validators=int(body["validators"]),
                busy=int(body["busy"]),
                seen_at=time.monotonic(),
            )
        except (ValueError, KeyError, TypeError):
            return
        self._beats[beat.worker] = beat

    def live(self) -> list[WorkerBeat]:
        """The processes heard from within three beats, by name."""
        horizon = time.monotonic() - 3 * constants.WORKER_BEAT_INTERVAL_S
        self._beats = {k: b for k, b in self._beats.items() if b.seen_at >= horizon}
        return sorted(self._beats.values(), key=lambda b: b.worker)


@asynccontextmanager
async def worker_roster(database_url: str) -> AsyncIterator[WorkerRoster]:
    roster = WorkerRoster()
    async with listening(
        database_url, queries.WORKER_BEATS_CHANNEL, roster._on_notify, name="worker roster"
    ):
        yield roster
