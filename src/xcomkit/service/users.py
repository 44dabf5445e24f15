"""Login rules: password checks with limits on failed attempts."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from xcomkit.errors import TooManyAttempts
from xcomkit.store import logins
from xcomkit.store import users as user_store
from xcomkit.store.database import Database


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins a user name and a client address may make in ``window``
    seconds before logins for them answer 429 (0 turns that limit off)."""

    per_user: int = 10
    per_client: int = 50
    window: float = 60.0


def authenticate(
    db: Database,
    username: str,
    password: str,
    *,
    client: str | None = None,
    limits: LoginLimits | None = None,
) -> str | None:
    """The role of the user when ``password`` is right, else None. Slow by design.

    With ``limits``, failures are counted per user name and per ``client`` address in
    the database (shared by every worker and host), and a login for a user or client at
    its limit is refused before the password is checked.

    Raises:
        TooManyAttempts: the user or the client is at its limit of failures.
    """
    from xcomkit.server.auth.passwords import verify_password

    buckets: dict[str, int] = {}
    if limits is not None:
        if limits.per_user:
            buckets[f"user:{username}"] = limits.per_user
        if limits.per_client and client:
            buckets[f"client:{client}"] = limits.per_client
    now = time.time()
    with db.reading() as conn:
        if buckets and limits is not None:
            wait = logins.seconds_blocked(conn, buckets, window=limits.window, now=now)
            if wait is not None:
                raise TooManyAttempts(
                    "Too many failed logins; retry later.", retry_after=max(1, math.ceil(wait))
                )
        row = user_store.get_user(conn, username)
    ok, new_hash = verify_password(row.password_hash if row else None, password)
    if not ok or row is None:
        if buckets and limits is not None:
            with db.writing() as conn:
                logins.record_failure(conn, buckets, window=limits.window, now=time.time())
        return None
    if new_hash:
        with db.writing() as conn:
            user_store.set_password_hash(conn, username, new_hash)
    return str(row.role)
