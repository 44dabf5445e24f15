"""Health: whether the database answers."""

from __future__ import annotations

from sqlalchemy import text

from xcomkit.store.database import Database


def database_is_up(db: Database) -> bool:
    """True when the database answers a trivial query; any failure is False."""
    try:
        with db.reading() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any database failure means "unhealthy", never an error here
        return False
    return True
