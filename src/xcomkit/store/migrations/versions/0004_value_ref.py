"""XCom values in object storage: ``xcom.value_ref`` names the object holding a value.

NULL for every existing row (their values stay in ``value``); indexed for the garbage
collector's look-up of the objects rows point at.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("xcom") as batch:
        batch.add_column(sa.Column("value_ref", sa.String(64), nullable=True))
    op.create_index("ix_xcom_value_ref", "xcom", ["value_ref"])


def downgrade() -> None:
    op.drop_index("ix_xcom_value_ref", table_name="xcom")
    with op.batch_alter_table("xcom") as batch:
        batch.drop_column("value_ref")
