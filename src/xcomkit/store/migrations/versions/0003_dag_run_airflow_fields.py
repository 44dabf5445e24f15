"""DAG runs: updated_at, partition_key and partition_date, as Airflow's dag_run table has them.

``updated_at`` is what the DAG-run list's ``updated_at_*`` filters and ``order_by=updated_at``
read (existing runs take their ``queued_at``, else their ``run_after``); ``partition_key``
and ``partition_date`` are what ``partition_key_*`` filters and ``order_by=partition_date``
read (always NULL: xcomkit has no partitioned DAGs).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xcomkit.store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("updated_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("partition_key", sa.String(250), nullable=True))
        batch.add_column(sa.Column("partition_date", UtcDateTime(), nullable=True))
    op.execute("UPDATE dag_run SET updated_at = COALESCE(queued_at, run_after)")
    op.create_index("ix_dag_run_updated_at", "dag_run", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_dag_run_updated_at", table_name="dag_run")
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("partition_date")
        batch.drop_column("partition_key")
        batch.drop_column("updated_at")
