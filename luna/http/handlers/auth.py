"""POST /api/v1/auth/login: username and password for an access token."""

from __future__ import annotations

import asyncio

from aiohttp import web

from luna import constants
from luna.auth import issue_token, verify_login
from luna.db import queries
from luna.errors import TooManyRequests, Unauthorized
from luna.http.keys import DB, LIMITER, SETTINGS
from luna.http.models import LoginRequest
from luna.http.requests import parse, read_form_or_json
from luna.http.responses import json_response
from luna.resources import jwt_secret


async def login(request: web.Request) -> web.Response:
    creds = parse(LoginRequest, await read_form_or_json(request))
    settings = request.app[SETTINGS]
    limiter = request.app[LIMITER]
    limits = {
        f"user:{creds.username.lower()}": constants.LOGIN_FAILURES_PER_USER_PER_MINUTE,
        f"addr:{request.remote}": constants.LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE,
    }
    for key, limit in limits.items():
        retry_after_s = await limiter.blocked(key, limit=limit)
        if retry_after_s is not None:
            raise TooManyRequests(
                f"too many failed logins; try again in {retry_after_s} s",
                headers={"Retry-After": str(retry_after_s)},
            )
    user = await queries.fetch_user(request.app[DB], creds.username)
    # scrypt is deliberately slow: keep it off the event loop.
    if not await asyncio.to_thread(verify_login, creds.password, user):
        for key in limits:
            await limiter.record_failure(key)
        raise Unauthorized("wrong username or password")
    assert user is not None
    token = issue_token(
        user,
        secret=jwt_secret(settings),
        expires_in_s=settings.luna_token_expires_s,
    )
    return json_response(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": settings.luna_token_expires_s,
        }
    )
