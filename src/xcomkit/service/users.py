"""Login rules: password checks with limits on failed attempts.

A login is four steps, each in its own lane (``server/routes/auth.py``): a read
(:func:`check_login`: limits, then the user's hash), a write counting the attempt as a
failure (:func:`count_login`, atomic, so that racing logins cannot pass a limit
together), the password check (Argon2, in the hash lane, no database), and on success a
write taking the count back (:func:`forget_login`).
"""

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


@dataclass(frozen=True)
class LoginAttempt:
    """What a login needs once its limits are checked: the user's stored hash and role
    (None for both when there is no such user) and the failure buckets it counts in
    (``{"user:<name>": limit, "client:<address>": limit}``)."""

    username: str
    password_hash: str | None
    role: str | None
    buckets: dict[str, int]


def check_login(
    db: Database, username: str, *, client: str | None = None, limits: LoginLimits | None = None
) -> LoginAttempt:
    """The first step of a login, one read: refuse a user name or client at its limit of
    failures, else look the user up. The password is checked next, in the hash lane
    (:func:`check_password`), never with a connection held.

    Failures are counted per user name and per ``client`` address in the database, shared
    by every worker and host; ``limits`` None counts nothing.

    Raises:
        TooManyAttempts: the user or the client is at its limit; ``client_blocked`` says
            until when (seconds since the epoch) the client itself is refused, if it is.
    """
    buckets: dict[str, int] = {}
    if limits is not None:
        if limits.per_user:
            buckets[f"user:{username}"] = limits.per_user
        if limits.per_client and client:
            buckets[f"client:{client}"] = limits.per_client
    now = time.time()
    with db.reading() as conn:
        if buckets and limits is not None:
            waits = logins.blocked_buckets(conn, buckets, window=limits.window, now=now)
            if waits:
                client_wait = waits.get(f"client:{client}")
                raise TooManyAttempts(
                    "Too many failed logins; retry later.",
                    retry_after=max(1, math.ceil(max(waits.values()))),
                    client_blocked=None if client_wait is None else now + client_wait,
                )
        row = user_store.get_user(conn, username)
    return LoginAttempt(
        username,
        row.password_hash if row else None,
        str(row.role) if row else None,
        buckets,
    )


def check_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """The third step, in the hash lane (no database): ``(ok, new_hash)`` as
    :func:`xcomkit.server.auth.passwords.verify_password`, against a dummy hash when there
    is no such user (``password_hash`` None), so that both cost the same time."""
    # Imported on first use: Argon2's bindings cost a server's start for nothing.
    from xcomkit.server.auth.passwords import verify_password

    return verify_password(password_hash, password)


def count_login(db: Database, attempt: LoginAttempt, limits: LoginLimits) -> None:
    """The second step, one write: count the login as a failure before its password is
    checked (:func:`forget_login` takes it back if it succeeds), atomically, so that
    logins racing in any number of workers cannot pass a limit together.

    Raises:
        TooManyAttempts: this login is past a limit (as in :func:`check_login`).
    """
    if not attempt.buckets:
        return
    now = time.time()
    with db.writing() as conn:
        counted = logins.record_failure(conn, attempt.buckets, window=limits.window, now=now)
    waits = {
        bucket: start + limits.window - now
        for bucket, (failures, start) in counted.items()
        if failures > attempt.buckets[bucket]
    }
    if waits:
        client_wait = next((w for b, w in waits.items() if b.startswith("client:")), None)
        raise TooManyAttempts(
            "Too many failed logins; retry later.",
            retry_after=max(1, math.ceil(max(waits.values()))),
            client_blocked=None if client_wait is None else now + client_wait,
        )


def forget_login(db: Database, attempt: LoginAttempt) -> None:
    """Take back what :func:`count_login` counted: the password was right, or was never
    checked (the server was busy)."""
    if attempt.buckets:
        with db.writing() as conn:
            logins.forget_failure(conn, attempt.buckets)


def upgrade_password_hash(db: Database, username: str, new_hash: str) -> None:
    """Keep ``new_hash`` (the same password under the hasher's current parameters)."""
    with db.writing() as conn:
        user_store.set_password_hash(conn, username, new_hash)
