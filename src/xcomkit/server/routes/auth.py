"""``POST /auth/token`` (JSON or form body) and ``POST /auth/token/cli`` (JSON body).

Answers as Airflow's simple auth manager: 201 ``{"access_token": ...}``; 401
``Invalid credentials``; 400 when the user name or password is empty; a body without
Content-Type is read as JSON; 415 for a Content-Type that does not start with
``application/json`` or ``application/x-www-form-urlencoded``; 422 with pydantic's
error text as a *string* ``detail`` for a body of the wrong shape (Airflow's quirk, kept
for compatibility). Where Airflow answers 500 (no body at all, or malformed JSON),
xcomkit answers 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from xcomkit.errors import TooManyAttempts
from xcomkit.server import audit, errors
from xcomkit.server.deps import Ctx, ServerContext
from xcomkit.server.encoding import json_response
from xcomkit.server.execution import LaneFull, Unavailable
from xcomkit.server.login_gate import BUSY
from xcomkit.server.models import LoginBody, LoginResponse
from xcomkit.server.routing import ResourceRouter
from xcomkit.service.users import (
    LoginLimits,
    check_login,
    check_password,
    count_login,
    forget_login,
    upgrade_password_hash,
)

router = ResourceRouter(prefix="/auth", tags=["Login"])

_LOGIN_ERRORS = errors.documented(400, 401, 408, 413, 415, 422, 429, 503)


_UNSUPPORTED = "Only application/json or application/x-www-form-urlencoded is supported"


async def _read_login_body(request: Request) -> LoginBody:
    # As Airflow: no Content-Type means JSON; otherwise the header's start decides.
    content_type = request.headers.get("content-type", "application/json")
    try:
        if content_type.startswith("application/json"):
            try:
                data: Any = await request.json()
            except ClientDisconnect:
                # The client left mid-body: nobody reads the answer; FastAPI says 400.
                raise HTTPException(400, "There was an error parsing the body") from None
            except (ValueError, RecursionError) as exc:
                raise RequestValidationError(f"Request body is not valid JSON: {exc}") from None
            return LoginBody.model_validate(data)
        if content_type.startswith("application/x-www-form-urlencoded"):
            try:
                form = await request.form()
            except ClientDisconnect:
                raise HTTPException(400, "There was an error parsing the body") from None
            return LoginBody.model_validate(
                {"username": form.get("username"), "password": form.get("password")}
            )
    except ValidationError as exc:
        raise RequestValidationError(str(exc)) from None
    raise HTTPException(415, _UNSUPPORTED)


def _credentials(body: LoginBody) -> tuple[str, str]:
    if not body.username or not body.password:
        raise HTTPException(400, "Username and password must be provided")
    return body.username, body.password


async def _issue(ctx: ServerContext, request: Request, body: LoginBody, lifetime: int) -> Response:
    audit.note(request.scope, username=body.username or "-")
    username, password = _credentials(body)
    settings = ctx.settings
    limits = LoginLimits(
        per_user=settings.login_failures_per_user,
        per_client=settings.login_failures_per_client,
        window=settings.login_window_seconds,
    )
    client = request.client.host if request.client else None
    if ctx.work.full("hash"):
        # Filled while the body arrived: refuse before any database work. (On SQLite the
        # read and the write below run inline, so nothing fills the lane before the hash.)
        raise LaneFull(BUSY)
    # The limits and the user (a read); the attempt counted (a write, atomic); the hash
    # (slow and memory-hard by design: its own bounded lane, which touches no database);
    # the count taken back on success (a write).
    try:
        attempt = await ctx.work.read(check_login, username, client=client, limits=limits)
        await ctx.work.write(count_login, attempt, limits)
    except TooManyAttempts as exc:
        if exc.client_blocked is not None and client is not None:
            # Until then, this client's logins are refused before their body is read.
            ctx.blocked_clients.block(client, exc.client_blocked)
        raise
    try:
        ok, new_hash = await ctx.work.hash(check_password, attempt.password_hash, password)
    except Unavailable:
        await ctx.work.write(forget_login, attempt)  # not checked: not a failure
        raise
    if not ok or attempt.role is None:
        raise HTTPException(401, "Invalid credentials")
    await ctx.work.write(forget_login, attempt)
    if new_hash:
        await ctx.work.write(upgrade_password_hash, username, new_hash)
    token = ctx.tokens.issue(username, attempt.role, expiration_seconds=lifetime)
    return json_response({"access_token": token}, 201)


@router.post("/token", status_code=201, response_model=LoginResponse, responses=_LOGIN_ERRORS)
async def create_token(ctx: Ctx, request: Request) -> Response:
    """Log in with user name and password; answers a signed access token."""
    body = await _read_login_body(request)
    return await _issue(ctx, request, body, ctx.settings.jwt_expiration_seconds)


_OFF = errors.documented(403)


@router.get("/token", status_code=201, responses=_OFF)
@router.get("/token/login", status_code=307, responses=_OFF)
def create_token_all_admins() -> Response:
    """Airflow's credential-less logins, which are off unless all users are admins: 403."""
    raise HTTPException(
        403, "This method is only allowed if ``[core] simple_auth_manager_all_admins`` is True"
    )


@router.post("/token/cli", status_code=201, response_model=LoginResponse, responses=_LOGIN_ERRORS)
async def create_token_cli(ctx: Ctx, request: Request, body: LoginBody) -> Response:
    """As ``/auth/token``, JSON only, with the CLI token lifetime."""
    return await _issue(ctx, request, body, ctx.settings.jwt_cli_expiration_seconds)
