"""Request dependencies: the server context, the caller (from the bearer token), roles.

Authentication answers as Airflow 3.3.2 does: no or non-Bearer credentials give
401 ``Not authenticated``; an expired token 401 ``Token Expired``; any other bad token
403 ``Invalid JWT token``; a viewer writing 403 ``Forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import Engine

from xcomkit.server.auth.roles import can_write
from xcomkit.server.auth.tokens import ExpiredToken, InvalidToken, Principal, TokenService
from xcomkit.server.execution import WorkLanes
from xcomkit.server.guard import PRINCIPAL_STATE
from xcomkit.server.login_gate import BlockedClients
from xcomkit.server.offload import ValueStorage
from xcomkit.settings import Settings


@dataclass
class ServerContext:
    """What every request needs: settings, the database engine, the token service, the
    lanes where blocking work runs (:class:`~xcomkit.server.execution.WorkLanes`) and
    where values are kept (:class:`~xcomkit.server.offload.ValueStorage`), and the client
    addresses known to be at their login limit
    (:class:`~xcomkit.server.login_gate.BlockedClients`)."""

    settings: Settings
    engine: Engine
    tokens: TokenService
    work: WorkLanes
    storage: ValueStorage = field(default_factory=ValueStorage)
    blocked_clients: BlockedClients = field(default_factory=BlockedClients)


async def get_ctx(request: Request) -> ServerContext:
    """The :class:`ServerContext` of the app serving ``request``."""
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_ctx)]

# Reads "Authorization: Bearer <token>"; also documents the password flow in OpenAPI.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

_ANONYMOUS_ADMIN = Principal("anonymous", "admin")


def verify_bearer(ctx: ServerContext, token: str | None) -> Principal:
    """The caller a bearer token speaks for (an anonymous admin under ``--no-auth``).

    Raises:
        HTTPException: 401 or 403 with Airflow's ``detail`` (see module docstring).
    """
    if not ctx.settings.auth:
        return _ANONYMOUS_ADMIN
    if not token:
        raise HTTPException(status_code=401, detail="Not authenticated")
    try:
        return ctx.tokens.verify(token)
    except ExpiredToken:
        raise HTTPException(status_code=401, detail="Token Expired") from None
    except InvalidToken:
        raise HTTPException(status_code=403, detail="Invalid JWT token") from None


def principal_from_header(ctx: ServerContext, authorization: str | None) -> Principal:
    """:func:`verify_bearer` for a raw ``Authorization`` header value (or None).

    Only the ``Bearer`` scheme (any case) carries a token, as for OAuth2PasswordBearer.
    """
    scheme, token = get_authorization_scheme_param(authorization)
    return verify_bearer(ctx, token if authorization and scheme.lower() == "bearer" else None)


@dataclass(frozen=True)
class Caller:
    """What a route that needs a caller gets from one dependency: who calls
    (``principal``) and the server's context (``ctx``)."""

    principal: Principal
    ctx: ServerContext


def _caller(request: Request, token: str | None) -> Caller:
    ctx: ServerContext = request.app.state.ctx
    state = request.scope.get("state")
    principal = state.get(PRINCIPAL_STATE) if state else None
    if principal is None:  # the request guard verifies writes before their body only
        principal = verify_bearer(ctx, token)
        request.scope.setdefault("state", {})[PRINCIPAL_STATE] = principal  # for the audit
    return Caller(principal, ctx)


async def current_user(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    """The caller of a route that reads: as the request guard verified it, or from the
    bearer token.

    Raises:
        HTTPException: 401 or 403 with Airflow's ``detail`` (see module docstring).
    """
    return _caller(request, token)


async def writer(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Caller:
    """The caller of a route that writes, who must hold a role that may write.

    Raises:
        HTTPException: 401 or 403 as :func:`current_user`; 403 ``Forbidden`` for a viewer.
    """
    caller = _caller(request, token)
    if not can_write(caller.principal.role):
        raise HTTPException(status_code=403, detail="Forbidden")
    return caller


#: A route's caller, for routes that read (one dependency; FastAPI documents the
#: OAuth2 scheme from it).
Reader = Annotated[Caller, Depends(current_user)]
#: A route's caller, for routes that write.
Writer = Annotated[Caller, Depends(writer)]
