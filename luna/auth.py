"""Passwords (scrypt, memory-hard) and access tokens (HS256 JWTs).

stored = hash_password("s3cret")
verify_password("s3cret", stored)           # True
token = issue_token(user, secret=..., expires_in_s=3600)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from luna import constants
from luna.db.queries import User

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
        "iat": now,
        "exp": now + expires_in_s,
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)
