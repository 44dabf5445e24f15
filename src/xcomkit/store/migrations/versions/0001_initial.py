"""Initial schema: DAGs, tasks, DAG runs, XComs, users, settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xcomkit.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dag",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("dag_display_name", sa.String(2000), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name="pk_dag"),
    )
    op.create_table(
        "task",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("task_display_name", sa.String(2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name="fk_task_dag_id_dag", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("dag_id", "task_id", name="pk_task"),
    )
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("logical_date", UtcDateTime(), nullable=True),
        sa.Column("run_after", UtcDateTime(), nullable=False),
        sa.Column("data_interval_start", UtcDateTime(), nullable=True),
        sa.Column("data_interval_end", UtcDateTime(), nullable=True),
        sa.Column("queued_at", UtcDateTime(), nullable=True),
        sa.Column("start_date", UtcDateTime(), nullable=True),
        sa.Column("end_date", UtcDateTime(), nullable=True),
        sa.Column("last_scheduling_decision", UtcDateTime(), nullable=True),
        sa.Column("run_type", sa.String(50), nullable=False),
        sa.Column("state", sa.String(50), nullable=False),
        sa.Column("triggered_by", sa.String(50), nullable=True),
        sa.Column("triggering_user_name", sa.String(512), nullable=True),
        sa.Column("conf", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("xcom_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name="fk_dag_run_dag_id_dag", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dag_run"),
        sa.UniqueConstraint("dag_id", "run_id", name="uq_dag_run_dag_id_run_id"),
        sa.UniqueConstraint("dag_id", "logical_date", name="uq_dag_run_dag_id_logical_date"),
    )
    op.create_index("ix_dag_run_logical_date", "dag_run", ["logical_date"])
    op.create_index("ix_dag_run_run_after", "dag_run", ["run_after"])
    op.create_index("ix_dag_run_xcom_count", "dag_run", ["dag_id", "run_id", "xcom_count"])
    op.create_table(
        "xcom",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_run_id"], ["dag_run.id"], name="fk_xcom_dag_run_id_dag_run", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("dag_run_id", "task_id", "map_index", "key", name="pk_xcom"),
    )
    op.create_index(
        "ix_xcom_ti", "xcom", ["dag_id", "task_id", "run_id", "map_index", "key", "dag_run_id"]
    )
    op.create_index("ix_xcom_key", "xcom", ["key"])
    op.create_index("ix_xcom_run_id", "xcom", ["run_id"])
    op.create_table(
        "ab_user",
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_ab_user"),
    )
    op.create_table(
        "xcomkit_kv",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_xcomkit_kv"),
    )


def downgrade() -> None:
    op.drop_table("xcomkit_kv")
    op.drop_table("ab_user")
    op.drop_index("ix_xcom_run_id", table_name="xcom")
    op.drop_index("ix_xcom_key", table_name="xcom")
    op.drop_index("ix_xcom_ti", table_name="xcom")
    op.drop_table("xcom")
    op.drop_index("ix_dag_run_xcom_count", table_name="dag_run")
    op.drop_index("ix_dag_run_run_after", table_name="dag_run")
    op.drop_index("ix_dag_run_logical_date", table_name="dag_run")
    op.drop_table("dag_run")
    op.drop_table("task")
    op.drop_table("dag")
