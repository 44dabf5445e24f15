"""Signed JWT access tokens (PyJWT), verified with a pinned algorithm and a short cache.

Claims: ``sub`` (user name), ``role``, ``iat``, ``nbf``, ``exp`` (seconds since the
epoch), ``jti``, ``iss`` and ``aud``. Only HS512 is accepted on the way in, so a token
with ``alg: none`` or any other algorithm is invalid.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS512"
ISSUER = "xcomkit"
AUDIENCE = "xcomkit-api"
_CACHE_MAX = 10_000


class InvalidToken(Exception):
    """The token is malformed, forged, not yet valid or lacks required claims."""


class ExpiredToken(InvalidToken):
    """The token's ``exp`` has passed."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for: user name and role."""

    username: str
    role: str


class TokenService:
    """Issues and verifies access tokens.

    Args:
        secret: HMAC key (at least 32 bytes recommended).
        expiration_seconds: lifetime of tokens from :meth:`issue` by default.
        cache_seconds: how long a verified token is remembered, so the signature is
            checked once per token and window rather than on every request; never
            past the token's own ``exp``.
    """

    def __init__(self, secret: str, *, expiration_seconds: int, cache_seconds: float = 10.0):
        self._secret = secret
        self.expiration_seconds = expiration_seconds
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float, float]] = {}

    def issue(self, username: str, role: str, *, expiration_seconds: int | None = None) -> str:
        """A signed token for ``username`` with ``role``, valid for the given seconds."""
        now = int(time.time())
        lifetime = self.expiration_seconds if expiration_seconds is None else expiration_seconds
        claims = {
            "sub": username,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal a token speaks for.

        Raises:
            ExpiredToken: the signature is good but ``exp`` has passed.
            InvalidToken: anything else wrong with the token.
        """
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            principal, cached_until, exp = hit
            if now < cached_until:
                return principal
            del self._cache[token]
            if now >= exp:
                raise ExpiredToken("token expired")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "role", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ExpiredToken(str(exc)) from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(str(exc)) from exc
        sub, role = claims.get("sub"), claims.get("role")
        if not isinstance(sub, str) or not isinstance(role, str):
            raise InvalidToken("sub and role must be strings")
        principal = Principal(sub, role)
        exp = float(claims["exp"])
        if self._cache_seconds > 0:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[token] = (principal, min(now + self._cache_seconds, exp), exp)
        return principal
