"""Failed-login counting per key (username, client address) in fixed one-minute windows.

In Redis when REDIS_URL is set, so every replica sees the same counts; in memory otherwise.

    limiter = MemoryRateLimiter()
    if retry_after_s := await limiter.blocked("user:alice", limit=10): ...  # refuse, say when
    await limiter.record_failure("user:alice")
"""

from __future__ import annotations

import time
from typing import Protocol

WINDOW_S = 60


class RateLimiter(Protocol):
    async def blocked(self, key: str, *, limit: int) -> int | None:
        """Seconds until `key` may try again, or None when it may now."""
        ...

    async def record_failure(self, key: str) -> None: ...


def _window(now_s: float) -> tuple[int, int]:
    """The current window's number and the seconds left in it."""
    index = int(now_s // WINDOW_S)
    return index, max(1, int((index + 1) * WINDOW_S - now_s))


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def blocked(self, key: str, *, limit: int) -> int | None:
        index, left_s = _window(time.time())
        return left_s if self._counts.get((key, index), 0) >= limit else None

    async def record_failure(self, key: str) -> None:
        index, _ = _window(time.time())
        # Forget past windows so the table does not grow without bound.
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= index}
        self._counts[(key, index)] = self._counts.get((key, index), 0) + 1


class RedisRateLimiter:
    def __init__(self, redis: object, *, prefix: str = "luna:login:") -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, key: str, index: int) -> str:
        return f"{self.prefix}{key}:{index}"

    async def blocked(self, key: str, *, limit: int) -> int | None:
        index, left_s = _window(time.time())
        count = await self.redis.get(self._key(key, index))  # type: ignore[attr-defined]
        return left_s if count is not None and int(count) >= limit else None

    async def record_failure(self, key: str) -> None:
        index, _ = _window(time.time())
        name = self._key(key, index)
        async with self.redis.pipeline(transaction=True) as pipe:  # type: ignore[attr-defined]
            pipe.incr(name)
            pipe.expire(name, WINDOW_S * 2)
            await pipe.execute()
