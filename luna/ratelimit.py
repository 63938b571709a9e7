"""Login attempts counted per key (username, client address) in fixed one-minute windows.

An attempt is reserved before its password is checked, atomically for all its keys: when any
key is at its limit nothing is counted and the caller learns when to retry. A successful login
gives its reservation back; a failed one keeps it. So parallel guesses cannot slip past a
check-then-record gap: the eleventh guess in flight is refused like the eleventh in a row.

In Redis when REDIS_URL is set (one Lua script, so every replica sees the same counts); in
memory otherwise.

    limiter = MemoryRateLimiter()
    attempt = await limiter.reserve({"user:alice": 10, "addr:10.0.0.1": 50})
    if isinstance(attempt, int): ...  # refused: retry after that many seconds
    ... await limiter.release(attempt)  # after a successful login
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from luna.errors import BackendUnavailable

WINDOW_S = 60


@dataclass(frozen=True)
class Attempt:
    """One reserved login attempt: the keys it counts against, in the window it was made."""

    keys: tuple[str, ...]
    window: int


class RateLimiter(Protocol):
    async def reserve(self, limits: dict[str, int]) -> Attempt | int:
        """Count one attempt against every key, or none when any key is at its limit; then
        the seconds until a retry may succeed."""
        ...

    async def release(self, attempt: Attempt) -> None:
        """Take back a reserved attempt that turned out well (the login succeeded)."""
        ...


def _window(now_s: float) -> tuple[int, int]:
    """The current window's number and the seconds left in it."""
    index = int(now_s // WINDOW_S)
    return index, max(1, int((index + 1) * WINDOW_S - now_s))


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def reserve(self, limits: dict[str, int]) -> Attempt | int:
        # No await between the check and the count: atomic on the event loop.
        index, left_s = _window(time.time())
        if any(self._counts.get((key, index), 0) >= limit for key, limit in limits.items()):
            return left_s
        # Forget past windows so the table does not grow without bound.
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= index}
        for key in limits:
            self._counts[(key, index)] = self._counts.get((key, index), 0) + 1
        return Attempt(tuple(limits), index)

    async def release(self, attempt: Attempt) -> None:
        for key in attempt.keys:
            count = self._counts.get((key, attempt.window), 0)
            if count > 0:
                self._counts[(key, attempt.window)] = count - 1


# KEYS: one counter per limited key; ARGV: the counters' lifetime, then each key's limit.
# Returns 0 after counting the attempt on every key, or 1 when some key is at its limit.
_RESERVE_LUA = """
for i, key in ipairs(KEYS) do
    local count = tonumber(redis.call('GET', key) or '0')
    if count >= tonumber(ARGV[i + 1]) then
        return 1
    end
end
for _, key in ipairs(KEYS) do
    redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[1])
end
return 0
"""

# Decrements each counter that is still there and above zero.
_RELEASE_LUA = """
for _, key in ipairs(KEYS) do
    local count = tonumber(redis.call('GET', key) or '0')
    if count > 0 then
        redis.call('DECR', key)
    end
end
return 0
"""


class RedisRateLimiter:
    def __init__(self, redis: Any, *, prefix: str = "luna:login:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._reserve = redis.register_script(_RESERVE_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    def _key(self, key: str, index: int) -> str:
        return f"{self.prefix}{key}:{index}"

    async def reserve(self, limits: dict[str, int]) -> Attempt | int:
        index, left_s = _window(time.time())
        keys = [self._key(key, index) for key in limits]
        refused = await self._run(self._reserve, keys=keys, args=[WINDOW_S * 2, *limits.values()])
        return left_s if int(refused) else Attempt(tuple(limits), index)

    async def release(self, attempt: Attempt) -> None:
        keys = [self._key(key, attempt.window) for key in attempt.keys]
        await self._run(self._release, keys=keys, args=[])

    async def _run(self, script: Any, *, keys: list[str], args: list[Any]) -> Any:
        import redis.exceptions

        try:
            return await script(keys=keys, args=args)
        except redis.exceptions.RedisError as exc:
            # Includes a pool with every connection busy past its wait: 503, retry later.
            raise BackendUnavailable("redis", f"login limits: {exc}") from exc
