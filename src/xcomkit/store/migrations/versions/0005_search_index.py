"""Search index for the XCom list's ``*_pattern`` filters (see :mod:`xcomkit.store.search`).

SQLite: an FTS5 ``trigram`` table over ``xcom`` with its triggers; PostgreSQL: the
``pg_trgm`` extension (where the role may create it) and GIN trigram indexes. Existing
XComs are indexed here. Where the index cannot be built, a warning is logged and the
filters keep scanning (same answers).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

from xcomkit.store import search

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search.install(op.get_bind())


def downgrade() -> None:
    search.uninstall(op.get_bind())
