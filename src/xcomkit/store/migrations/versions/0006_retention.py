"""Retention: a DAG's XCom retention, and an index on the XCom timestamp.

``dag.xcom_retention_seconds`` holds the manifest's ``xcom_retention`` (NULL: keep XComs
forever); ``ix_xcom_timestamp`` lets ``xcomkit db clean`` and the server's retention pass
find the oldest XComs without reading the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dag", sa.Column("xcom_retention_seconds", sa.Integer(), nullable=True))
    op.create_index("ix_xcom_timestamp", "xcom", ["timestamp"])


def downgrade() -> None:
    op.drop_index("ix_xcom_timestamp", table_name="xcom")
    # Not a batch (copy-and-swap) on SQLite: dropping the old ``dag`` table would cascade
    # to every DAG run and XCom. SQLite 3.35+ drops a plain column in place.
    op.execute("ALTER TABLE dag DROP COLUMN xcom_retention_seconds")
