"""SQL tables, in one place. Portable across SQLite and PostgreSQL.

Shapes follow Apache Airflow 3.3.2 where a table has an Airflow counterpart: ids are
``String(250)``, an XCom ``key`` is ``String(512)``, an XCom is unique on
(dag run, task_id, map_index, key) and carries dag_id and run_id denormalized so the
list filters need no join to find rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

ID_LEN = 250
KEY_LEN = 512
VALUE_REF_LEN = 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores fixed-width naive UTC text, which
    sorts and compares correctly. Naive datetimes are taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=timezone.utc)
        return stamp.astimezone(timezone.utc)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return sqlite_utc


def sqlite_utc(value: Any) -> datetime | None:
    """A :class:`UtcDateTime` as SQLite stores it (``"2025-01-01 00:00:00.000000"``, UTC)
    read back as an aware UTC datetime; None for NULL.

    The C ISO parser reads it far faster than SQLAlchemy's regular-expression parser, and
    with its UTC offset appended: ``datetime.replace(tzinfo=...)`` costs several times the
    parse (measured, CPython 3.11: 4.8 us against 0.5 us; a page of 50 XComs has 150).
    """
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value + "+00:00")
    except (TypeError, ValueError):  # not the naive text this type writes
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=timezone.utc)
        return stamp.astimezone(timezone.utc)  # text with its own UTC offset


def sqlite_iso(value: Any) -> str | datetime | None:
    """A :class:`UtcDateTime` as SQLite stores it, as the ISO 8601 text the API writes
    for it (``"2025-01-01T00:00:00Z"``, ``"2025-01-01T00:00:00.500000Z"``: what orjson
    writes for :func:`sqlite_utc`'s datetime with ``OPT_UTC_Z``); None for NULL.

    Text in the form this type writes (``YYYY-MM-DD HH:MM:SS.ffffff``, six fraction
    digits and no zone) is rearranged without parsing it; other text (a row written by
    another tool), text of that length with a zone too, is read as :func:`sqlite_utc`
    reads it, and returned as that datetime. A list page of 50 XComs has 150
    timestamps: parsing each and encoding the datetime cost about a third of the page's
    CPU (measured in process).
    """
    if value is None:
        return None
    if (
        type(value) is str
        and len(value) == 26
        and value[10] == " "
        and value[19] == "."
        and value[20:].isdigit()  # not "...05.12345Z" nor "...05.1-0500": a zone
        and value[13] == value[16] == ":"
    ):
        if value.endswith(".000000"):  # orjson leaves out a zero fraction
            return f"{value[:10]}T{value[11:19]}Z"
        return f"{value[:10]}T{value[11:]}Z"
    return sqlite_utc(value)


dag = Table(
    "dag",
    metadata,
    Column("dag_id", String(ID_LEN), primary_key=True),
    Column("dag_display_name", String(2000), nullable=False),
    # The manifest's xcom_retention, in seconds (NULL: XComs are kept until deleted).
    Column("xcom_retention_seconds", Integer, nullable=True),
)

task = Table(
    "task",
    metadata,
    Column("dag_id", String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"), nullable=False),
    Column("task_id", String(ID_LEN), nullable=False),
    Column("task_display_name", String(2000), nullable=False),
    PrimaryKeyConstraint("dag_id", "task_id"),
)

dag_run = Table(
    "dag_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(ID_LEN), nullable=False),
    Column("logical_date", UtcDateTime, nullable=True),
    Column("run_after", UtcDateTime, nullable=False),
    Column("data_interval_start", UtcDateTime, nullable=True),
    Column("data_interval_end", UtcDateTime, nullable=True),
    Column("queued_at", UtcDateTime, nullable=True),
    Column("start_date", UtcDateTime, nullable=True),
    Column("end_date", UtcDateTime, nullable=True),
    Column("last_scheduling_decision", UtcDateTime, nullable=True),
    Column("run_type", String(50), nullable=False),
    Column("state", String(50), nullable=False),
    Column("triggered_by", String(50), nullable=True),
    Column("triggering_user_name", String(512), nullable=True),
    Column("conf", Text, nullable=True),  # JSON text
    Column("note", Text, nullable=True),
    # How many XComs hang off the run, kept in the writes' own transactions, so that a
    # list filtered at most by dag_id and run_id counts its total without a scan.
    Column("xcom_count", Integer, nullable=False, server_default="0"),
    # As Airflow's: set on insert and on every change (the list's updated_at_* filters).
    Column("updated_at", UtcDateTime, nullable=True),
    # Always NULL (xcomkit has no partitioned DAGs); read by the partition_key_* filters.
    Column("partition_key", String(ID_LEN), nullable=True),
    Column("partition_date", UtcDateTime, nullable=True),
    UniqueConstraint("dag_id", "run_id"),
    UniqueConstraint("dag_id", "logical_date"),  # as Airflow: one run per logical date
    Index("ix_dag_run_logical_date", "logical_date"),
    Index("ix_dag_run_run_after", "run_after"),
    # Covers the sums of xcom_count (list totals) without reading the wide run rows.
    Index("ix_dag_run_xcom_count", "dag_id", "run_id", "xcom_count"),
    Index("ix_dag_run_updated_at", "updated_at"),
)

xcom = Table(
    "xcom",
    metadata,
    Column("dag_run_id", Integer, nullable=False),
    Column("task_id", String(ID_LEN), nullable=False),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("key", String(KEY_LEN), nullable=False),
    Column("dag_id", String(ID_LEN), nullable=False),
    Column("run_id", String(ID_LEN), nullable=False),
    Column("value", Text, nullable=True),  # compact JSON text, spliced into responses as is
    # Set when the value is kept in object storage (then ``value`` is NULL): the object's
    # name under the configured store (xcomkit.store.objects).
    Column("value_ref", String(VALUE_REF_LEN), nullable=True),
    Column("timestamp", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("dag_run_id", "task_id", "map_index", "key"),
    ForeignKeyConstraint(["dag_run_id"], ["dag_run.id"], ondelete="CASCADE"),
    # The default list order (with the dag run id as Airflow's final tie-breaker, so a
    # first page is an index walk, not a sort) and the dag_id/task_id/run_id filters.
    Index("ix_xcom_ti", "dag_id", "task_id", "run_id", "map_index", "key", "dag_run_id"),
    Index("ix_xcom_key", "key"),
    Index("ix_xcom_run_id", "run_id"),
    # Retention finds the oldest XComs through it (xcomkit db clean, the server's pass).
    Index("ix_xcom_timestamp", "timestamp"),
    # The garbage collector's "which objects do rows point at" (NULLs: most rows).
    Index("ix_xcom_value_ref", "value_ref"),
)

user = Table(
    "ab_user",
    metadata,
    Column("username", String(256), primary_key=True),
    Column("password_hash", String(512), nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

kv = Table(
    "xcomkit_kv",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

#: Failed logins per bucket ("user:<name>" or "client:<address>") in a fixed window, shared
#: by every worker and host on the database (see :mod:`xcomkit.store.logins`).
login_failure = Table(
    "xcomkit_login_failure",
    metadata,
    Column("bucket", String(512), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("failures", Integer, nullable=False),
)
