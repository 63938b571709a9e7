"""POST /api/v1/auth/login: username and password for an access token."""

from __future__ import annotations

from aiohttp import web

from luna import constants
from luna.auth import issue_token
from luna.db import queries
from luna.errors import TooManyRequests, Unauthorized
from luna.http.keys import DB, LIMITER, PASSWORDS, SETTINGS
from luna.http.models import LoginRequest
from luna.http.requests import parse, read_form_or_json
from luna.http.responses import json_response
from luna.resources import jwt_secret


async def login(request: web.Request) -> web.Response:
    creds = parse(LoginRequest, await read_form_or_json(request))
    settings = request.app[SETTINGS]
    limiter = request.app[LIMITER]
    checks = request.app[PASSWORDS]
    limits = {
        f"user:{creds.username.lower()}": constants.LOGIN_FAILURES_PER_USER_PER_MINUTE,
        f"addr:{request.remote}": constants.LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE,
    }
    user = await queries.fetch_user(request.app[DB], creds.username)
    # The attempt is counted before the password is checked (atomically for every key) and
    # given back if it succeeds, so parallel guesses meet the limit as sequential ones do.
    # Counting only once a check's turn has come keeps a burst of honest logins from one
    # address (a team's NAT) from counting against it while they wait.
    async with checks.turn():
        attempt = await limiter.reserve(limits)
        if isinstance(attempt, int):
            raise TooManyRequests(
                f"too many failed logins; try again in {attempt} s",
                headers={"Retry-After": str(attempt)},
            )
        # scrypt is deliberately slow: keep it off the event loop.
        verified = await checks.verify_login(creds.password, user)
    if not verified:
        raise Unauthorized("wrong username or password")
    await limiter.release(attempt)
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
