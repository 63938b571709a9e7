"""Who a token's bearer is now: the user's current row, not what the token said when issued.

A token carries the user's id and token version. Each request checks them against the user's
row, cached per process for a few seconds and dropped at once when PostgreSQL announces a
change to that user (sql/0008: a trigger NOTIFYs on every update and delete). A deleted user,
or one moved, demoted or given a new password since the token was issued, gets 401.

    async with identities(database_url, pool) as directory:
        who = await directory.principal(claims)     # raises Unauthorized
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from luna import constants
from luna.auth import Principal
from luna.db import queries
from luna.db.listen import listening
from luna.errors import Unauthorized

log = logging.getLogger("luna.identity")


class Identities:
    """The current identity of each user a token names, cached and kept fresh by NOTIFY."""

    def __init__(self, pool: asyncpg.Pool, *, cache_s: float = constants.IDENTITY_CACHE_S) -> None:
        self._pool = pool
        self._cache_s = cache_s
        # user id -> (valid until, the row or None for a deleted user)
        self._cache: dict[int, tuple[float, asyncpg.Record | None]] = {}

    async def principal(self, claims: dict[str, Any]) -> Principal:
        """The caller as the database knows them now; Unauthorized when the token no longer
        stands for anyone (deleted user, changed user, or a token that never expires)."""
        if "exp" not in claims:
            raise Unauthorized("the token has no expiry; log in again for a new one")
        try:
            user_id = int(claims["sub"])
            version = int(claims.get("ver", 0))
        except (KeyError, TypeError, ValueError):
            raise Unauthorized("the token does not carry a luna identity; log in again") from None
        row = await self._current(user_id)
        if row is None:
            raise Unauthorized("this account no longer exists; ask the organisers")
        if row["token_version"] != version:
            raise Unauthorized(
                "your account changed (team, role or password) since this token was issued; "
                "log in again"
            )
        return Principal(
            user_id=user_id,
            username=row["username"],
            team_id=row["team_id"],
            is_admin=row["is_admin"],
        )

    async def _current(self, user_id: int) -> asyncpg.Record | None:
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await queries.fetch_identity(self._pool, user_id)
        if len(self._cache) >= constants.IDENTITY_CACHE_ENTRIES:
            self._cache.clear()
        self._cache[user_id] = (now + self._cache_s, row)
        return row

    def forget(self, user_id: int | None = None) -> None:
        """Drop one user's cached identity, or every one."""
        if user_id is None:
            self._cache.clear()
        else:
            self._cache.pop(user_id, None)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.forget(int(payload))
        except ValueError:
            self.forget()


@asynccontextmanager
async def identities(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[Identities]:
    directory = Identities(pool)
    # While the listener is down, cached identities still expire after `cache_s`; on each
    # (re)connection every one is dropped, since anything may have changed meanwhile.
    async with listening(
        database_url,
        queries.USER_CHANGES_CHANNEL,
        directory._on_notify,
        name="user-change listener",
        on_connected=directory.forget,
    ):
        yield directory
