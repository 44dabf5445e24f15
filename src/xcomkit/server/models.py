"""Request bodies and response schemas of the HTTP API (pydantic v2, as Airflow's).

Request bodies refuse unknown fields (Airflow's ``StrictBaseModel``), so FastAPI answers
malformed bodies with the same 422 bodies Airflow gives. Response schemas document the
OpenAPI contract; the XCom routes encode their bodies directly (see ``encoding``).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from enum import Enum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    field_validator,
    model_validator,
)

from xcomkit import values
from xcomkit.server.patterns import MAX_PATTERN_LENGTH


class StrictModel(BaseModel):
    """Base for request bodies: unknown fields are refused with 422, and so are strings
    holding lone UTF-16 surrogates (``"\\ud800"``), which no database can store, and
    JSON fields (``value``, ``conf``) nested beyond :data:`xcomkit.values.MAX_JSON_DEPTH`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        bad = values.find_lone_surrogate(data)
        if bad is not None:
            raise ValueError(
                f"{bad.encode('utf-8', 'backslashreplace').decode()!r} holds a lone UTF-16 "
                "surrogate, which is not valid Unicode text"
            )
        if isinstance(data, dict):
            for name in _JSON_FIELDS.intersection(data):
                field = data[name]
                text = values.json_text(field) if isinstance(field, (dict, list)) else None
                if values.too_deep(field, text=text):
                    raise ValueError(values.depth_error(name))
            # Fields stored in their own columns (not JSON values, where NUL is escaped).
            for name, field in data.items():
                if name not in _JSON_FIELDS and isinstance(field, str) and "\x00" in field:
                    raise ValueError(f"{name} must not contain NUL (\\x00) characters")
        return data


_JSON_FIELDS = frozenset({"value", "conf"})


def _no_nul(value: Any) -> Any:
    # SQLite cuts text at NUL (a pattern "%\x00x" would match everything) and PostgreSQL
    # refuses it: no query parameter may carry one.
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(t, str) and "\x00" in t for t in texts):
        raise ValueError("must not contain NUL (\\x00) characters")
    return value


def _in_utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC. Converting an edge date (0001-01-01T00:00+01:00)
    # leaves the datetime range: that is the client's input, so a 422, never a 500.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("date is out of range once converted to UTC") from None


#: A timezone-aware datetime, converted to UTC (422 when it cannot be).
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
#: A datetime taken as UTC when naive, converted to UTC (422 when it cannot be).
LenientUtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


def addressable_key(key: str) -> str:
    """``key`` if a URL path can address it (a pydantic validator).

    Raises:
        ValueError: a line feed in the key (422).
    """
    # The {xcom_key:path} route matches any character but the line feed, so a key with
    # one could be created and never read, updated or deleted again.
    if "\n" in key:
        raise ValueError("key must not contain a line feed (\\n): no URL path could address it")
    return key


def checked_value(value: Any) -> Any:
    """``value`` once :func:`xcomkit.values.check_value` accepts it (a pydantic
    validator).

    Raises:
        ValueError: reserved serialization keys or too deep a nesting (Airflow's 422).
    """
    # A ValueError from a validator becomes Airflow's 422 "value_error" entry.
    try:
        return values.check_value(value)
    except values.XComValueError as exc:
        raise ValueError(str(exc)) from None


class XComCreateBody(StrictModel):
    """Body of ``POST .../xcomEntries``.

    Beyond Airflow (which answers 500 for these): ``key`` must be 1 to 512 characters
    and ``map_index`` from -1 to 2**31 - 1.
    """

    key: Annotated[
        str, Field(min_length=1, max_length=values.MAX_KEY_LENGTH), AfterValidator(addressable_key)
    ]
    value: Any
    map_index: int = Field(default=-1, ge=-1, le=values.MAX_MAP_INDEX)

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: Any) -> Any:
        return checked_value(value)


class XComUpdateBody(StrictModel):
    """Body of ``PATCH .../xcomEntries/{xcom_key}``: the new ``value`` and the map_index.

    ``map_index`` only selects the XCom (Airflow answers 404 for one below -1); beyond
    Airflow, it must fit the 32-bit column (Airflow answers 500 otherwise).
    """

    value: Any
    map_index: int = Field(default=-1, ge=values.MIN_MAP_INDEX, le=values.MAX_MAP_INDEX)

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: Any) -> Any:
        return checked_value(value)


#: Airflow's default order of an XCom list.
DEFAULT_XCOM_ORDER = ("dag_id", "task_id", "run_id", "map_index", "key")

_Pattern = Annotated[str | None, Field(max_length=MAX_PATTERN_LENGTH)]
_MapIndexFilter = Annotated[int | None, Field(ge=values.MIN_MAP_INDEX, le=values.MAX_MAP_INDEX)]


class XComListQuery(BaseModel):
    """Query parameters of ``GET .../xcomEntries``, declared as Airflow declares them
    (same names, types, defaults and bounds, so malformed values get the same 422s).

    Unknown parameters are ignored, as Airflow ignores them. Beyond Airflow: patterns
    are at most 4096 characters, map indexes fit the 32-bit column.
    """

    limit: NonNegativeInt = 50
    offset: NonNegativeInt = 0
    xcom_key_pattern: _Pattern = None
    xcom_key_prefix_pattern: _Pattern = None
    dag_display_name_pattern: _Pattern = None
    dag_display_name_prefix_pattern: _Pattern = None
    run_id_pattern: _Pattern = None
    run_id_prefix_pattern: _Pattern = None
    task_id_pattern: _Pattern = None
    task_id_prefix_pattern: _Pattern = None
    map_index_filter: _MapIndexFilter = None
    logical_date_gte: UtcDatetime | None = None
    logical_date_gt: UtcDatetime | None = None
    logical_date_lte: UtcDatetime | None = None
    logical_date_lt: UtcDatetime | None = None
    run_after_gte: UtcDatetime | None = None
    run_after_gt: UtcDatetime | None = None
    run_after_lte: UtcDatetime | None = None
    run_after_lt: UtcDatetime | None = None
    order_by: list[str] = Field(default_factory=lambda: list(DEFAULT_XCOM_ORDER))
    xcom_key: str | None = None
    map_index: Annotated[int | None, Field(ge=-1, le=values.MAX_MAP_INDEX)] = None

    _text_has_no_nul = field_validator(
        "xcom_key_pattern",
        "xcom_key_prefix_pattern",
        "dag_display_name_pattern",
        "dag_display_name_prefix_pattern",
        "run_id_pattern",
        "run_id_prefix_pattern",
        "task_id_pattern",
        "task_id_prefix_pattern",
        "order_by",
        "xcom_key",
    )(_no_nul)


class XComGetQuery(BaseModel):
    """Query parameters of ``GET .../xcomEntries/{xcom_key}`` (as Airflow declares them;
    beyond Airflow, ``map_index`` must fit the 32-bit column)."""

    map_index: Annotated[int, Field(ge=-1, le=values.MAX_MAP_INDEX)] = -1
    deserialize: bool = False
    stringify: bool = False


class XComResponse(BaseModel):
    """An XCom without its value (the list endpoint's entries)."""

    key: str
    timestamp: datetime
    logical_date: datetime | None
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    dag_display_name: str
    task_display_name: str
    run_after: datetime


class XComResponseNative(XComResponse):
    """An XCom with its value as JSON."""

    value: Any


class XComResponseString(XComResponse):
    """An XCom with its value as Python's ``str()`` of it (``stringify=true``)."""

    value: str | None


class XComCollectionResponse(BaseModel):
    """A page of XComs and the number of all that match."""

    xcom_entries: list[XComResponse]
    total_entries: int


class TriggerDAGRunPostBody(StrictModel):
    """Body of ``POST /api/v2/dags/{dag_id}/dagRuns`` (Airflow's trigger body).

    ``logical_date`` must be present (it may be null); datetimes must carry a timezone,
    except ``run_after``, which is taken as UTC when naive. All are converted to UTC.
    """

    dag_run_id: str | None = Field(default=None, max_length=values.MAX_ID_LENGTH)
    data_interval_start: UtcDatetime | None = None
    data_interval_end: UtcDatetime | None = None
    logical_date: UtcDatetime | None
    run_after: LenientUtcDatetime | None = None
    conf: dict[str, Any] | None = Field(default_factory=dict)
    note: str | None = None
    partition_key: str | None = None

    @model_validator(mode="after")
    def _both_interval_ends_or_neither(self) -> TriggerDAGRunPostBody:
        if (self.data_interval_start is None) != (self.data_interval_end is None):
            raise ValueError(
                "Either both data_interval_start and data_interval_end must be provided "
                "or both must be None"
            )
        return self


class DagRunMutableStates(str, Enum):
    """The states a DAG run may be set to (Airflow's enum: same 422 on another value)."""

    QUEUED = "queued"
    SUCCESS = "success"
    FAILED = "failed"


class DagRunPatchBody(StrictModel):
    """Body of ``PATCH /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}`` (Airflow's
    DAGRunPatchBody): a state a run may be set to, and/or a note of at most 1000 characters."""

    state: DagRunMutableStates | None = None
    note: str | None = Field(default=None, max_length=1000)


_Floatish = Annotated[float | None, Field(allow_inf_nan=False)]


class DagRunListQuery(BaseModel):
    """Query parameters of ``GET /api/v2/dags/{dag_id}/dagRuns``, every one Airflow
    3.3.2 declares, with its names, types and defaults (so malformed values get the same
    422s). ``state`` and ``run_type`` are checked by the route (Airflow's 422 ``detail``
    is a string). Beyond Airflow: datetimes must carry a time zone (Airflow answers 500
    for naive ones), patterns are at most 4096 characters, no text carries a NUL.
    """

    limit: NonNegativeInt = 50
    offset: NonNegativeInt = 0
    cursor: str | None = None
    partition_date_gte: date | None = None
    partition_date_lte: date | None = None
    run_after_gte: UtcDatetime | None = None
    run_after_gt: UtcDatetime | None = None
    run_after_lte: UtcDatetime | None = None
    run_after_lt: UtcDatetime | None = None
    logical_date_gte: UtcDatetime | None = None
    logical_date_gt: UtcDatetime | None = None
    logical_date_lte: UtcDatetime | None = None
    logical_date_lt: UtcDatetime | None = None
    start_date_gte: UtcDatetime | None = None
    start_date_gt: UtcDatetime | None = None
    start_date_lte: UtcDatetime | None = None
    start_date_lt: UtcDatetime | None = None
    end_date_gte: UtcDatetime | None = None
    end_date_gt: UtcDatetime | None = None
    end_date_lte: UtcDatetime | None = None
    end_date_lt: UtcDatetime | None = None
    duration_gte: _Floatish = None
    duration_gt: _Floatish = None
    duration_lte: _Floatish = None
    duration_lt: _Floatish = None
    updated_at_gte: UtcDatetime | None = None
    updated_at_gt: UtcDatetime | None = None
    updated_at_lte: UtcDatetime | None = None
    updated_at_lt: UtcDatetime | None = None
    conf_contains: str | None = None
    run_type: list[str] = Field(default_factory=list)
    state: list[str] = Field(default_factory=list)
    dag_version: list[int] = Field(default_factory=list)
    bundle_version: str | None = None
    order_by: list[str] = Field(default_factory=lambda: ["id"])
    run_id_pattern: _Pattern = None
    run_id_prefix_pattern: _Pattern = None
    triggering_user_name_pattern: _Pattern = None
    triggering_user_name_prefix_pattern: _Pattern = None
    dag_id_pattern: _Pattern = None
    dag_id_prefix_pattern: _Pattern = None
    partition_key_pattern: _Pattern = None
    partition_key_prefix_pattern: _Pattern = None
    consuming_asset_pattern: _Pattern = None

    _text_has_no_nul = field_validator(
        "cursor",
        "conf_contains",
        "run_type",
        "state",
        "bundle_version",
        "order_by",
        "run_id_pattern",
        "run_id_prefix_pattern",
        "triggering_user_name_pattern",
        "triggering_user_name_prefix_pattern",
        "dag_id_pattern",
        "dag_id_prefix_pattern",
        "partition_key_pattern",
        "partition_key_prefix_pattern",
        "consuming_asset_pattern",
    )(_no_nul)


class LoginBody(StrictModel):
    """Body of ``POST /auth/token`` and ``/auth/token/cli``."""

    username: str
    password: str


class LoginResponse(BaseModel):
    """Answer of ``POST /auth/token`` and ``/auth/token/cli``: a fresh access token."""

    access_token: str


class VersionInfo(BaseModel):
    """Answer of ``GET /api/v2/version``."""

    version: str
    git_version: str | None


class DagVersionResponse(BaseModel):
    """A DAG version, as Airflow lists them in a run's ``dag_versions`` (xcomkit keeps
    none, so that list is always empty; the shape is declared for the contract)."""

    id: str
    version_number: int
    dag_id: str
    bundle_name: str | None
    bundle_version: str | None
    created_at: datetime
    dag_display_name: str
    bundle_url: str | None


class DAGRunResponse(BaseModel):
    """One DAG run (Airflow's ``DAGRunResponse``, fields in its order); ``duration`` is
    seconds between start and end, null unless both are set."""

    dag_run_id: str
    dag_id: str
    logical_date: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    last_scheduling_decision: datetime | None
    run_type: str
    state: str
    triggered_by: str | None
    triggering_user_name: str | None
    conf: dict[str, Any] | None
    note: str | None
    dag_versions: list[DagVersionResponse]
    bundle_version: str | None
    dag_display_name: str
    partition_key: str | None
    partition_date: datetime | None


class DAGRunCollectionResponse(BaseModel):
    """A page of DAG runs. With ``offset`` paging, ``total_entries`` is exact and the
    cursor fields are null; with ``cursor`` paging, ``total_entries`` is capped at
    ``total_entries_limit`` and the cursors point to the neighbouring pages (or are null)."""

    dag_runs: list[DAGRunResponse]
    total_entries: int | None
    total_entries_limit: int | None
    next_cursor: str | None
    previous_cursor: str | None


class StatusInfo(BaseModel):
    """A component's health: ``healthy``, ``unhealthy``, or null where not run."""

    status: str | None


class SchedulerInfo(StatusInfo):
    """The scheduler's health (xcomkit runs none: always ``unhealthy``)."""

    latest_scheduler_heartbeat: datetime | None


class TriggererInfo(StatusInfo):
    """The triggerer's health (xcomkit runs none: null)."""

    latest_triggerer_heartbeat: datetime | None


class DagProcessorInfo(StatusInfo):
    """The DAG processor's health (xcomkit runs none: null)."""

    latest_dag_processor_heartbeat: datetime | None


class HealthInfoResponse(BaseModel):
    """Answer of ``GET /api/v2/monitor/health``."""

    metadatabase: StatusInfo
    scheduler: SchedulerInfo
    triggerer: TriggererInfo
    dag_processor: DagProcessorInfo


class HTTPExceptionResponse(BaseModel):
    """The body of every error but a validation error: Airflow's ``{"detail": ...}``, a
    sentence (or, for a few of Airflow's errors, an object)."""

    detail: str | dict[str, Any]


class ValidationErrorEntry(BaseModel):
    """One entry of a 422's ``detail`` list (pydantic's error, as FastAPI reports it):
    where (``loc``), what (``msg``), its ``type``, the ``input`` refused and ``ctx``."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ValidationErrorResponse(BaseModel):
    """A 422: a list of validation errors (FastAPI's ``HTTPValidationError``), or, where
    Airflow answers so (the login body, an unknown DAG-run ``state``), a sentence."""

    detail: list[ValidationErrorEntry] | str
