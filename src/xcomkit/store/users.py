"""Queries on users and on the small key-value table that keeps generated secrets."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from xcomkit.store.schema import kv, user


def get_user(conn: Connection, username: str) -> Row[Any] | None:
    """The user row (username, password_hash, role, created_at), or None."""
    return conn.execute(select(user).where(user.c.username == username)).first()


def list_users(conn: Connection) -> list[Row[Any]]:
    """All users, by username."""
    return list(conn.execute(select(user).order_by(user.c.username)).all())


def upsert_user(conn: Connection, username: str, password_hash: str, role: str) -> bool:
    """Create a user or replace its password hash and role; True when created."""
    if get_user(conn, username) is None:
        conn.execute(
            insert(user).values(
                username=username,
                password_hash=password_hash,
                role=role,
                created_at=datetime.now(timezone.utc),
            )
        )
        return True
    conn.execute(
        update(user)
        .where(user.c.username == username)
        .values(password_hash=password_hash, role=role)
    )
    return False


def delete_user(conn: Connection, username: str) -> bool:
    """Delete a user; True when there was one. Tokens already issued stay valid until
    they expire (as in Airflow: tokens are not revoked)."""
    return conn.execute(delete(user).where(user.c.username == username)).rowcount > 0


def set_password_hash(conn: Connection, username: str, password_hash: str) -> None:
    """Store a re-computed hash (after the hasher's parameters changed)."""
    conn.execute(
        update(user).where(user.c.username == username).values(password_hash=password_hash)
    )


def get_or_create_setting(conn: Connection, name: str, make: Any) -> str:
    """The stored value of setting ``name``; if absent, store ``make()`` and return it.

    Safe when several workers race: the first insert wins and all read it back.
    """
    row = conn.execute(select(kv.c.value).where(kv.c.name == name)).first()
    if row is not None:
        return str(row[0])
    try:
        with conn.begin_nested():
            conn.execute(insert(kv).values(name=name, value=make()))
    except IntegrityError:
        pass
    return str(conn.execute(select(kv.c.value).where(kv.c.name == name)).scalar_one())
