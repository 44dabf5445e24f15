"""Failed-login counters for the login rate limit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xcomkit_login_failure",
        sa.Column("bucket", sa.String(512), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_xcomkit_login_failure"),
    )


def downgrade() -> None:
    op.drop_table("xcomkit_login_failure")
