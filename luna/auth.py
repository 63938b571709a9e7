"""Passwords (scrypt, memory-hard) and access tokens (HS256 JWTs).

stored = hash_password("s3cret")
verify_password("s3cret", stored)           # True
token = issue_token(user, secret=..., expires_in_s=3600)
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import jwt

from luna import constants
from luna.db.queries import User
from luna.errors import BackendUnavailable

_SCHEME = "scrypt"
JWT_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(
        password, salt, n=constants.SCRYPT_N, r=constants.SCRYPT_R, p=constants.SCRYPT_P
    )
    parts = [
        _SCHEME,
        str(constants.SCRYPT_N),
        str(constants.SCRYPT_R),
        str(constants.SCRYPT_P),
        _b64(salt),
        _b64(digest),
    ]
    return "$".join(parts)


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    # Checked when the user does not exist, so login time does not tell whether it does.
    return hash_password(secrets.token_hex(8))


def verify_login(password: str, user: User | None) -> bool:
    if user is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, user.password_hash)


class PasswordChecks:
    """Password checks (scrypt) off the event loop: at most `concurrency` at once, in threads
    of their own (so they never queue behind, or starve, other work sent to threads); a check
    waiting longer than `wait_s` for its turn fails with `BackendUnavailable` (503).

        async with password_checks(concurrency=2, wait_s=30) as checks:
            async with checks.turn():
                ok = await checks.verify_login(password, user)
    """

    def __init__(self, executor: ThreadPoolExecutor, *, concurrency: int, wait_s: float) -> None:
        self._executor = executor
        self._turns = asyncio.Semaphore(concurrency)
        self._wait_s = wait_s

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait (bounded) for a free slot and hold it for the block."""
        try:
            async with asyncio.timeout(self._wait_s):
                await self._turns.acquire()
        except TimeoutError:
            raise BackendUnavailable(
                "login", f"too many logins at once; none started within {self._wait_s:g} s"
            ) from None
        try:
            yield
        finally:
            self._turns.release()

    async def verify_login(self, password: str, user: User | None) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, verify_login, password, user)


@asynccontextmanager
async def password_checks(*, concurrency: int, wait_s: float) -> AsyncIterator[PasswordChecks]:
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="luna-kdf")
    try:
        yield PasswordChecks(executor, concurrency=concurrency, wait_s=wait_s)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    user_id: int
    username: str
    team_id: int
    is_admin: bool

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            user_id=int(claims["sub"]),
            username=str(claims["username"]),
            team_id=int(claims["team_id"]),
            is_admin=bool(claims.get("admin", False)),
        )


def issue_token(user: User, *, secret: str, expires_in_s: int) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "username": user.username,
        "team_id": user.team_id,
        "team": user.team_name,
        "admin": user.is_admin,
        # Checked on every request against the user's row (luna.identity).
        "ver": user.token_version,
        "iat": now,
        "exp": now + expires_in_s,
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)
