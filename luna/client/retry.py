"""Retrying one unit of transfer (a file today, a multipart part later) with exponential
backoff and jitter, but only on failures that a retry can cure.

    await retrying(put_once, is_transient=transient_transfer_error, attempts=5,
                   on_retry=lambda n, exc, delay_s: ...)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from luna.client.constants import RETRY_BASE_DELAY_S, RETRY_MAX_DELAY_S, UPLOAD_ATTEMPTS

T = TypeVar("T")

OnRetry = Callable[[int, BaseException, float], None]


class TransientHttpError(Exception):
    """A status a retry may cure: 5xx, 408 Request Timeout, 429 Too Many Requests."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}" if reason else f"HTTP {status}")
        self.status = status


def is_transient_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def transient_transfer_error(exc: BaseException) -> bool:
    """Connection refused or reset, a timeout, a broken body, or a transient status."""
    return isinstance(
        exc,
        aiohttp.ClientConnectionError
        | aiohttp.ClientPayloadError
        | TimeoutError
        | TransientHttpError,
    )


def backoff_delay_s(
    attempt: int, *, base_s: float = RETRY_BASE_DELAY_S, max_s: float = RETRY_MAX_DELAY_S
) -> float:
    """Delay after failed attempt `attempt` (1-based): doubling, capped, with jitter so that
    parallel uploads failing together do not come back together."""
    return min(max_s, base_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    is_transient: Callable[[BaseException], bool] = transient_transfer_error,
    attempts: int = UPLOAD_ATTEMPTS,
    on_retry: OnRetry | None = None,
) -> T:
    """Run `attempt` until it succeeds, a failure is not transient, or `attempts` are spent;
    the last failure is raised."""
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except Exception as exc:
            if number == attempts or not is_transient(exc):
                raise
            delay_s = backoff_delay_s(number)
            if on_retry is not None:
                on_retry(number, exc, delay_s)
            await asyncio.sleep(delay_s)
    raise AssertionError("unreachable: the last attempt returns or raises")
