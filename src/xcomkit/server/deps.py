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
from xcomkit.server.offload import ValueStorage
from xcomkit.settings import Settings


@dataclass
class ServerContext:
    """What every request needs: settings, the database engine, the token service, the
    lanes where blocking work runs (:class:`~xcomkit.server.execution.WorkLanes`) and
    where values are kept (:class:`~xcomkit.server.offload.ValueStorage`)."""

    settings: Settings
    engine: Engine
    tokens: TokenService
    work: WorkLanes
    storage: ValueStorage = field(default_factory=ValueStorage)


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


async def current_user(
    request: Request, ctx: Ctx, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The caller: as the request guard verified it before the body, or from the token.

    Raises:
        HTTPException: 401 or 403 with Airflow's ``detail`` (see module docstring).
    """
    state = request.scope.get("state")
    known = state.get(PRINCIPAL_STATE) if state else None
    if known is not None:
        return known  # type: ignore[no-any-return]
    principal = verify_bearer(ctx, token)
    request.scope.setdefault("state", {})[PRINCIPAL_STATE] = principal  # for the audit log
    return principal


Reader = Annotated[Principal, Depends(current_user)]


async def writer(principal: Reader) -> Principal:
    """The caller, who must hold a role that may write.

    Raises:
        HTTPException: 403 ``Forbidden`` for a viewer.
    """
    if not can_write(principal.role):
        raise HTTPException(status_code=403, detail="Forbidden")
    return principal


Writer = Annotated[Principal, Depends(writer)]
