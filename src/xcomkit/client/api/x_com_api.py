"""``XComApi``: the five XCom endpoints of Airflow 3.3.2's REST API.

Same methods, parameter names and order, defaults and return types as
``airflow_client.client.XComApi`` 3.3.2; each has a ``*_with_http_info`` variant
(returns :class:`~xcomkit.client.ApiResponse`) and a ``*_without_preload_content``
variant (returns the unread ``urllib3.HTTPResponse``). Every method also takes the
keyword options ``_request_timeout`` (seconds, or ``(connect, read)``), ``_request_auth``
(an auth setting dict replacing the configured credentials for this call),
``_content_type``, ``_headers`` (extra headers for this call, overriding the others) and
``_host_index`` (0 only).

Errors: an answer outside 2xx raises the :class:`~xcomkit.client.ApiException` subclass
for its status (400 ``BadRequestException``, 401 ``UnauthorizedException``, 403
``ForbiddenException``, 404 ``NotFoundException``, 409 ``ConflictException``, 422
``UnprocessableEntityException``, 5xx ``ServiceException``) with ``data`` the parsed
``HTTPExceptionResponse`` / ``HTTPValidationError``; arguments of the wrong type raise
``pydantic.ValidationError`` before anything is sent.
"""

# No ``from __future__ import annotations``: the argument validator reads these
# annotations as objects (see _validation.validated).

from datetime import datetime, timezone
from typing import Annotated, Any

import urllib3
from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from xcomkit.client.api._validation import (
    is_str,
    opt_bool,
    opt_datetime,
    opt_int,
    opt_map_index,
    opt_non_negative,
    opt_str,
    opt_str_list,
    request_options_ok,
    validated,
)
from xcomkit.client.api_client import ApiClient
from xcomkit.client.api_response import ApiResponse
from xcomkit.client.models.response_get_xcom_entry import ResponseGetXcomEntry
from xcomkit.client.models.x_com_collection_response import XComCollectionResponse
from xcomkit.client.models.x_com_create_body import XComCreateBody
from xcomkit.client.models.x_com_response_native import XComResponseNative
from xcomkit.client.models.x_com_update_body import XComUpdateBody

_PositiveFloat = Annotated[StrictFloat, Field(gt=0)]
RequestTimeout = None | _PositiveFloat | tuple[_PositiveFloat, _PositiveFloat]
MapIndex = Annotated[int, Field(strict=True, ge=-1)] | None
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)] | None
HostIndex = Annotated[StrictInt, Field(ge=0, le=0)]

_ENTRIES_PATH = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"
_ENTRY_PATH = _ENTRIES_PATH + "/{xcom_key}"
_AUTH_SETTINGS = ["OAuth2PasswordBearer", "HTTPBearer"]
_JSON = "application/json"

# What a call returns: the parsed model, the ApiResponse, or the unread urllib3 response.
_DATA, _INFO, _RAW = "data", "info", "raw"

_ERRORS = {
    "400": "HTTPExceptionResponse",
    "401": "HTTPExceptionResponse",
    "403": "HTTPExceptionResponse",
    "404": "HTTPExceptionResponse",
    "422": "HTTPValidationError",
}
_CREATE_TYPES = {"201": "XComResponseNative", **_ERRORS, "409": "HTTPExceptionResponse"}
_DELETE_TYPES = {"204": None, **_ERRORS}
_LIST_TYPES = {"200": "XComCollectionResponse", **_ERRORS}
_GET_TYPES = {"200": "ResponseGetXcomEntry", **_ERRORS}
_UPDATE_TYPES = {"200": "XComResponseNative", **_ERRORS}


class _StringifiedEntry:
    """Response type of ``get_xcom_entry(stringify=True)``: an ``XComResponseString``
    inside ``ResponseGetXcomEntry`` (the official client parses it as native)."""

    from_dict = staticmethod(ResponseGetXcomEntry.from_dict_stringified)
    _from_json_bytes = staticmethod(ResponseGetXcomEntry._from_json_bytes_stringified)


_GET_STRING_TYPES = {**_GET_TYPES, "200": _StringifiedEntry}

# The list filters after ``offset``, in the official order: (name, fast check).
_LIST_FILTERS: tuple[tuple[str, Any], ...] = (
    ("xcom_key_pattern", opt_str),
    ("xcom_key_prefix_pattern", opt_str),
    ("dag_display_name_pattern", opt_str),
    ("dag_display_name_prefix_pattern", opt_str),
    ("run_id_pattern", opt_str),
    ("run_id_prefix_pattern", opt_str),
    ("task_id_pattern", opt_str),
    ("task_id_prefix_pattern", opt_str),
    ("map_index_filter", opt_int),
    ("logical_date_gte", opt_datetime),
    ("logical_date_gt", opt_datetime),
    ("logical_date_lte", opt_datetime),
    ("logical_date_lt", opt_datetime),
    ("run_after_gte", opt_datetime),
    ("run_after_gt", opt_datetime),
    ("run_after_lte", opt_datetime),
    ("run_after_lt", opt_datetime),
    ("order_by", opt_str_list),
)
_PATTERN = Field(
    description="Case-insensitive substring match (SQL `ILIKE`); `%` any run, `_` any "
    "character, `|` OR, `~` everything."
)
_PREFIX = Field(
    description="Case-sensitive prefix match; `%`/`_` literal, trailing non-alphanumeric "
    "characters ignored, `|` OR, `~` everything."
)
_ORDER_BY = Field(
    description="Attributes to order by, multi criteria sort is supported. Prefix with `-` "
    "for descending order. Supported attributes: `key, dag_id, run_id, task_id, map_index, "
    "timestamp, run_after`"
)


def _given(filters: tuple[Any, ...]) -> dict[str, Any]:
    """The list filters that were given (not None), by name."""
    return {name: v for (name, _), v in zip(_LIST_FILTERS, filters, strict=True) if v is not None}


class XComApi:
    """The XCom endpoints under ``/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/
    {task_id}/xcomEntries``.

    :param api_client: the :class:`~xcomkit.client.ApiClient` to send with (default:
        ``ApiClient.get_default()``).
    """

    def __init__(self, api_client: ApiClient | None = None) -> None:
        if api_client is None:
            api_client = ApiClient.get_default()
        self.api_client = api_client

    # -- create ---------------------------------------------------------------------------

    def create_xcom_entry(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        x_com_create_body: XComCreateBody,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> XComResponseNative:
        """Create an XCom: ``POST .../taskInstances/{task_id}/xcomEntries`` (answer 201).

        ``x_com_create_body`` gives ``key``, ``value`` (any JSON value) and ``map_index``
        (default -1). As in Airflow 3.3.2, the DAG, the run and the task must exist (404),
        the key must be new for that task instance (409 ``ConflictException``), the
        caller needs write access (401 without a token, 403 for a viewer), and values
        using Airflow's reserved serialization keys (``__classname__``, ``__var`` ...)
        are refused (422).

        :returns: the stored XCom with its value.
        :raises ApiException: a subclass per status, see the module docstring.
        """
        return self._create(
            _DATA, XComApi.create_xcom_entry, dag_id, task_id, dag_run_id, x_com_create_body,
            _request_timeout, _request_auth, _content_type, _headers, _host_index,
        )  # fmt: skip

    def create_xcom_entry_with_http_info(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        x_com_create_body: XComCreateBody,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> ApiResponse[XComResponseNative]:
        """:meth:`create_xcom_entry`, returning the :class:`ApiResponse` (status 201,
        headers, data, raw_data)."""
        return self._create(
            _INFO, XComApi.create_xcom_entry_with_http_info, dag_id, task_id, dag_run_id,
            x_com_create_body, _request_timeout, _request_auth, _content_type, _headers,
            _host_index,
        )  # fmt: skip

    def create_xcom_entry_without_preload_content(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        x_com_create_body: XComCreateBody,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> urllib3.HTTPResponse:
        """:meth:`create_xcom_entry`, returning the unread ``urllib3.HTTPResponse``; no
        status check, no exception for error answers."""
        return self._create(
            _RAW, XComApi.create_xcom_entry_without_preload_content, dag_id, task_id,
            dag_run_id, x_com_create_body, _request_timeout, _request_auth, _content_type,
            _headers, _host_index,
        )  # fmt: skip

    def _create(
        self, mode: str, method: Any, dag_id: Any, task_id: Any, dag_run_id: Any, body: Any,
        timeout: Any, auth: Any, content_type: Any, headers: Any, host_index: Any,
    ) -> Any:  # fmt: skip
        if not (
            is_str(dag_id)
            and is_str(task_id)
            and is_str(dag_run_id)
            and type(body) is XComCreateBody
            and request_options_ok(timeout, auth, content_type, headers, host_index)
        ):
            args = validated(
                method, self, dag_id=dag_id, task_id=task_id, dag_run_id=dag_run_id,
                x_com_create_body=body, _request_timeout=timeout,
                _request_auth=auth, _content_type=content_type, _headers=headers,
                _host_index=host_index,
            )  # fmt: skip
            body, timeout = args["x_com_create_body"], args["_request_timeout"]
        return self._send(
            mode, "POST", _ENTRIES_PATH,
            {"dag_id": dag_id, "task_id": task_id, "dag_run_id": dag_run_id},
            None, body, _CREATE_TYPES, timeout, auth, content_type or _JSON, headers,
        )  # fmt: skip

    # -- delete ---------------------------------------------------------------------------

    def delete_xcom_entry(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        map_index: MapIndex = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> None:
        """Delete an XCom: ``DELETE .../xcomEntries/{xcom_key}?map_index=`` (answer 204).

        ``map_index`` (>= -1) picks the mapped task instance; left out, the server uses
        -1. As in Airflow 3.3.2: 404 if no such XCom, 401/403 without write access.

        :returns: None.
        :raises ApiException: a subclass per status, see the module docstring.
        """
        return self._delete(
            _DATA, XComApi.delete_xcom_entry, dag_id, task_id, dag_run_id, xcom_key, map_index,
            _request_timeout, _request_auth, _content_type, _headers, _host_index,
        )  # fmt: skip

    def delete_xcom_entry_with_http_info(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        map_index: MapIndex = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> ApiResponse[None]:
        """:meth:`delete_xcom_entry`, returning the :class:`ApiResponse` (status 204,
        data None)."""
        return self._delete(
            _INFO, XComApi.delete_xcom_entry_with_http_info, dag_id, task_id, dag_run_id,
            xcom_key, map_index, _request_timeout, _request_auth, _content_type, _headers,
            _host_index,
        )  # fmt: skip

    def delete_xcom_entry_without_preload_content(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        map_index: MapIndex = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> urllib3.HTTPResponse:
        """:meth:`delete_xcom_entry`, returning the unread ``urllib3.HTTPResponse``."""
        return self._delete(
            _RAW, XComApi.delete_xcom_entry_without_preload_content, dag_id, task_id,
            dag_run_id, xcom_key, map_index, _request_timeout, _request_auth, _content_type,
            _headers, _host_index,
        )  # fmt: skip

    def _delete(
        self, mode: str, method: Any, dag_id: Any, task_id: Any, dag_run_id: Any,
        xcom_key: Any, map_index: Any, timeout: Any, auth: Any, content_type: Any,
        headers: Any, host_index: Any,
    ) -> Any:  # fmt: skip
        if not (
            is_str(dag_id)
            and is_str(task_id)
            and is_str(dag_run_id)
            and is_str(xcom_key)
            and opt_map_index(map_index)
            and request_options_ok(timeout, auth, content_type, headers, host_index)
        ):
            args = validated(
                method, self, dag_id=dag_id, task_id=task_id, dag_run_id=dag_run_id,
                xcom_key=xcom_key, map_index=map_index,
                _request_timeout=timeout, _request_auth=auth, _content_type=content_type,
                _headers=headers, _host_index=host_index,
            )  # fmt: skip
            timeout = args["_request_timeout"]
        query = None if map_index is None else [("map_index", map_index)]
        return self._send(
            mode, "DELETE", _ENTRY_PATH,
            {"dag_id": dag_id, "task_id": task_id, "dag_run_id": dag_run_id,
             "xcom_key": xcom_key},
            query, None, _DELETE_TYPES, timeout, auth, None, headers,
        )  # fmt: skip

    # -- list -----------------------------------------------------------------------------

    def get_xcom_entries(
        self,
        dag_id: StrictStr,
        dag_run_id: StrictStr,
        task_id: StrictStr,
        xcom_key: StrictStr | None = None,
        map_index: MapIndex = None,
        limit: NonNegativeInt = None,
        offset: NonNegativeInt = None,
        xcom_key_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        xcom_key_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        dag_display_name_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        dag_display_name_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        run_id_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        run_id_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        task_id_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        task_id_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        map_index_filter: StrictInt | None = None,
        logical_date_gte: datetime | None = None,
        logical_date_gt: datetime | None = None,
        logical_date_lte: datetime | None = None,
        logical_date_lt: datetime | None = None,
        run_after_gte: datetime | None = None,
        run_after_gt: datetime | None = None,
        run_after_lte: datetime | None = None,
        run_after_lt: datetime | None = None,
        order_by: Annotated[list[StrictStr] | None, _ORDER_BY] = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> XComCollectionResponse:
        """List XComs: ``GET .../taskInstances/{task_id}/xcomEntries`` (answer 200).

        ``~`` as ``dag_id``, ``dag_run_id`` or ``task_id`` matches all. Filters, as in
        Airflow 3.3.2: ``xcom_key`` and ``map_index`` (exact), ``*_pattern``
        (case-insensitive substring, ``%``/``_`` wildcards, ``|`` OR, ``~`` all),
        ``*_prefix_pattern`` (case-sensitive prefix), ``map_index_filter`` (exact),
        ``logical_date_*``/``run_after_*`` bounds (datetimes, sent with
        ``Configuration.datetime_format``; naive ones are taken as UTC), ``order_by``
        (names from ``key, dag_id, run_id, task_id, map_index, timestamp, run_after``;
        ``-`` prefix descending; repeated in the query). ``limit`` defaults to 50 and is
        capped at 100 by the server; ``offset`` defaults to 0.

        :returns: ``XComCollectionResponse`` (``xcom_entries`` without values,
            ``total_entries`` across pages).
        :raises ApiException: a subclass per status, see the module docstring.
        """
        return self._list(
            _DATA, XComApi.get_xcom_entries, dag_id, dag_run_id, task_id, xcom_key, map_index,
            limit, offset,
            (xcom_key_pattern, xcom_key_prefix_pattern, dag_display_name_pattern,
             dag_display_name_prefix_pattern, run_id_pattern, run_id_prefix_pattern,
             task_id_pattern, task_id_prefix_pattern, map_index_filter, logical_date_gte,
             logical_date_gt, logical_date_lte, logical_date_lt, run_after_gte, run_after_gt,
             run_after_lte, run_after_lt, order_by),
            _request_timeout, _request_auth, _content_type, _headers, _host_index,
        )  # fmt: skip

    def get_xcom_entries_with_http_info(
        self,
        dag_id: StrictStr,
        dag_run_id: StrictStr,
        task_id: StrictStr,
        xcom_key: StrictStr | None = None,
        map_index: MapIndex = None,
        limit: NonNegativeInt = None,
        offset: NonNegativeInt = None,
        xcom_key_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        xcom_key_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        dag_display_name_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        dag_display_name_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        run_id_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        run_id_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        task_id_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        task_id_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        map_index_filter: StrictInt | None = None,
        logical_date_gte: datetime | None = None,
        logical_date_gt: datetime | None = None,
        logical_date_lte: datetime | None = None,
        logical_date_lt: datetime | None = None,
        run_after_gte: datetime | None = None,
        run_after_gt: datetime | None = None,
        run_after_lte: datetime | None = None,
        run_after_lt: datetime | None = None,
        order_by: Annotated[list[StrictStr] | None, _ORDER_BY] = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> ApiResponse[XComCollectionResponse]:
        """:meth:`get_xcom_entries`, returning the :class:`ApiResponse`."""
        return self._list(
            _INFO, XComApi.get_xcom_entries_with_http_info, dag_id, dag_run_id, task_id,
            xcom_key, map_index, limit, offset,
            (xcom_key_pattern, xcom_key_prefix_pattern, dag_display_name_pattern,
             dag_display_name_prefix_pattern, run_id_pattern, run_id_prefix_pattern,
             task_id_pattern, task_id_prefix_pattern, map_index_filter, logical_date_gte,
             logical_date_gt, logical_date_lte, logical_date_lt, run_after_gte, run_after_gt,
             run_after_lte, run_after_lt, order_by),
            _request_timeout, _request_auth, _content_type, _headers, _host_index,
        )  # fmt: skip

    def get_xcom_entries_without_preload_content(
        self,
        dag_id: StrictStr,
        dag_run_id: StrictStr,
        task_id: StrictStr,
        xcom_key: StrictStr | None = None,
        map_index: MapIndex = None,
        limit: NonNegativeInt = None,
        offset: NonNegativeInt = None,
        xcom_key_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        xcom_key_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        dag_display_name_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        dag_display_name_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        run_id_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        run_id_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        task_id_pattern: Annotated[StrictStr | None, _PATTERN] = None,
        task_id_prefix_pattern: Annotated[StrictStr | None, _PREFIX] = None,
        map_index_filter: StrictInt | None = None,
        logical_date_gte: datetime | None = None,
        logical_date_gt: datetime | None = None,
        logical_date_lte: datetime | None = None,
        logical_date_lt: datetime | None = None,
        run_after_gte: datetime | None = None,
        run_after_gt: datetime | None = None,
        run_after_lte: datetime | None = None,
        run_after_lt: datetime | None = None,
        order_by: Annotated[list[StrictStr] | None, _ORDER_BY] = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> urllib3.HTTPResponse:
        """:meth:`get_xcom_entries`, returning the unread ``urllib3.HTTPResponse``."""
        return self._list(
            _RAW, XComApi.get_xcom_entries_without_preload_content, dag_id, dag_run_id,
            task_id, xcom_key, map_index, limit, offset,
            (xcom_key_pattern, xcom_key_prefix_pattern, dag_display_name_pattern,
             dag_display_name_prefix_pattern, run_id_pattern, run_id_prefix_pattern,
             task_id_pattern, task_id_prefix_pattern, map_index_filter, logical_date_gte,
             logical_date_gt, logical_date_lte, logical_date_lt, run_after_gte, run_after_gt,
             run_after_lte, run_after_lt, order_by),
            _request_timeout, _request_auth, _content_type, _headers, _host_index,
        )  # fmt: skip

    def _list(
        self, mode: str, method: Any, dag_id: Any, dag_run_id: Any, task_id: Any,
        xcom_key: Any, map_index: Any, limit: Any, offset: Any, filters: tuple[Any, ...],
        timeout: Any, auth: Any, content_type: Any, headers: Any, host_index: Any,
    ) -> Any:  # fmt: skip
        if not (
            is_str(dag_id)
            and is_str(dag_run_id)
            and is_str(task_id)
            and opt_str(xcom_key)
            and opt_map_index(map_index)
            and opt_non_negative(limit)
            and opt_non_negative(offset)
            and (
                filters.count(None) == len(filters)
                or all(check(v) for (_, check), v in zip(_LIST_FILTERS, filters, strict=True))
            )
            and request_options_ok(timeout, auth, content_type, headers, host_index)
        ):
            args = validated(
                method, self, dag_id=dag_id, dag_run_id=dag_run_id, task_id=task_id,
                xcom_key=xcom_key,
                map_index=map_index, limit=limit, offset=offset,
                **_given(filters),
                _request_timeout=timeout, _request_auth=auth, _content_type=content_type,
                _headers=headers, _host_index=host_index,
            )  # fmt: skip
            filters = tuple(args[name] for name, _ in _LIST_FILTERS)
            timeout = args["_request_timeout"]
        query: list[tuple[str, Any]] = []
        if xcom_key is not None:
            query.append(("xcom_key", xcom_key))
        if map_index is not None:
            query.append(("map_index", map_index))
        if limit is not None:
            query.append(("limit", limit))
        if offset is not None:
            query.append(("offset", offset))
        datetime_format = None
        for (name, _), value in zip(_LIST_FILTERS, filters, strict=True):
            if value is None:
                continue
            if name == "order_by":
                query.extend(("order_by", item) for item in value)
            elif isinstance(value, datetime):
                if datetime_format is None:
                    datetime_format = self.api_client.configuration.datetime_format
                if value.tzinfo is None:
                    # Airflow compares with aware datetimes; a naive bound makes it answer
                    # 500 (the official client sends it as is). Naive means UTC, as in Airflow.
                    value = value.replace(tzinfo=timezone.utc)
                query.append((name, value.strftime(datetime_format)))
            else:
                query.append((name, value))
        return self._send(
            mode, "GET", _ENTRIES_PATH,
            {"dag_id": dag_id, "dag_run_id": dag_run_id, "task_id": task_id},
            query, None, _LIST_TYPES, timeout, auth, None, headers,
        )  # fmt: skip

    # -- get one --------------------------------------------------------------------------

    def get_xcom_entry(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        map_index: MapIndex = None,
        deserialize: StrictBool | None = None,
        stringify: StrictBool | None = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> ResponseGetXcomEntry:
        """Get one XCom: ``GET .../xcomEntries/{xcom_key}`` (answer 200).

        ``map_index`` (>= -1, server default -1). As in Airflow 3.3.2:
        ``deserialize=True`` re-parses a value stored as a JSON string (``"123"`` comes
        back as ``123``); ``stringify=True`` returns Python's ``str()`` of the value
        (``"{'a': 1}"``, ``"True"``; null stays None). 404 if no such XCom.

        :returns: ``ResponseGetXcomEntry`` whose ``actual_instance`` is an
            ``XComResponseString`` when ``stringify`` is True, else an
            ``XComResponseNative`` (the official client always gives native). The
            wrapper also answers the inner model's attributes (``.value``, ``.key`` ...).
        :raises ApiException: a subclass per status, see the module docstring.
        """
        return self._get(
            _DATA, XComApi.get_xcom_entry, dag_id, task_id, dag_run_id, xcom_key, map_index,
            deserialize, stringify, _request_timeout, _request_auth, _content_type, _headers,
            _host_index,
        )  # fmt: skip

    def get_xcom_entry_with_http_info(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        map_index: MapIndex = None,
        deserialize: StrictBool | None = None,
        stringify: StrictBool | None = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> ApiResponse[ResponseGetXcomEntry]:
        """:meth:`get_xcom_entry`, returning the :class:`ApiResponse`."""
        return self._get(
            _INFO, XComApi.get_xcom_entry_with_http_info, dag_id, task_id, dag_run_id,
            xcom_key, map_index, deserialize, stringify, _request_timeout, _request_auth,
            _content_type, _headers, _host_index,
        )  # fmt: skip

    def get_xcom_entry_without_preload_content(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        map_index: MapIndex = None,
        deserialize: StrictBool | None = None,
        stringify: StrictBool | None = None,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> urllib3.HTTPResponse:
        """:meth:`get_xcom_entry`, returning the unread ``urllib3.HTTPResponse``."""
        return self._get(
            _RAW, XComApi.get_xcom_entry_without_preload_content, dag_id, task_id, dag_run_id,
            xcom_key, map_index, deserialize, stringify, _request_timeout, _request_auth,
            _content_type, _headers, _host_index,
        )  # fmt: skip

    def _get(
        self, mode: str, method: Any, dag_id: Any, task_id: Any, dag_run_id: Any,
        xcom_key: Any, map_index: Any, deserialize: Any, stringify: Any, timeout: Any,
        auth: Any, content_type: Any, headers: Any, host_index: Any,
    ) -> Any:  # fmt: skip
        if not (
            is_str(dag_id)
            and is_str(task_id)
            and is_str(dag_run_id)
            and is_str(xcom_key)
            and opt_map_index(map_index)
            and opt_bool(deserialize)
            and opt_bool(stringify)
            and request_options_ok(timeout, auth, content_type, headers, host_index)
        ):
            args = validated(
                method, self, dag_id=dag_id, task_id=task_id, dag_run_id=dag_run_id,
                xcom_key=xcom_key, map_index=map_index,
                deserialize=deserialize, stringify=stringify, _request_timeout=timeout,
                _request_auth=auth, _content_type=content_type, _headers=headers,
                _host_index=host_index,
            )  # fmt: skip
            timeout = args["_request_timeout"]
        query: list[tuple[str, Any]] = []
        if map_index is not None:
            query.append(("map_index", map_index))
        if deserialize is not None:
            query.append(("deserialize", deserialize))
        if stringify is not None:
            query.append(("stringify", stringify))
        return self._send(
            mode, "GET", _ENTRY_PATH,
            {"dag_id": dag_id, "task_id": task_id, "dag_run_id": dag_run_id,
             "xcom_key": xcom_key},
            query, None, _GET_STRING_TYPES if stringify else _GET_TYPES, timeout, auth,
            None, headers,
        )  # fmt: skip

    # -- update ---------------------------------------------------------------------------

    def update_xcom_entry(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        x_com_update_body: XComUpdateBody,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> XComResponseNative:
        """Replace an XCom's value: ``PATCH .../xcomEntries/{xcom_key}`` (answer 200).

        ``x_com_update_body`` gives the new ``value`` and the ``map_index`` (default -1)
        of the XCom to change. As in Airflow 3.3.2: 404 if no such XCom, 401/403 without
        write access, 422 for reserved serialization keys in the value.

        :returns: the updated XCom with its value.
        :raises ApiException: a subclass per status, see the module docstring.
        """
        return self._update(
            _DATA, XComApi.update_xcom_entry, dag_id, task_id, dag_run_id, xcom_key,
            x_com_update_body, _request_timeout, _request_auth, _content_type, _headers,
            _host_index,
        )  # fmt: skip

    def update_xcom_entry_with_http_info(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        x_com_update_body: XComUpdateBody,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> ApiResponse[XComResponseNative]:
        """:meth:`update_xcom_entry`, returning the :class:`ApiResponse`."""
        return self._update(
            _INFO, XComApi.update_xcom_entry_with_http_info, dag_id, task_id, dag_run_id,
            xcom_key, x_com_update_body, _request_timeout, _request_auth, _content_type,
            _headers, _host_index,
        )  # fmt: skip

    def update_xcom_entry_without_preload_content(
        self,
        dag_id: StrictStr,
        task_id: StrictStr,
        dag_run_id: StrictStr,
        xcom_key: StrictStr,
        x_com_update_body: XComUpdateBody,
        _request_timeout: RequestTimeout = None,
        _request_auth: dict[StrictStr, Any] | None = None,
        _content_type: StrictStr | None = None,
        _headers: dict[StrictStr, Any] | None = None,
        _host_index: HostIndex = 0,
    ) -> urllib3.HTTPResponse:
        """:meth:`update_xcom_entry`, returning the unread ``urllib3.HTTPResponse``."""
        return self._update(
            _RAW, XComApi.update_xcom_entry_without_preload_content, dag_id, task_id,
            dag_run_id, xcom_key, x_com_update_body, _request_timeout, _request_auth,
            _content_type, _headers, _host_index,
        )  # fmt: skip

    def _update(
        self, mode: str, method: Any, dag_id: Any, task_id: Any, dag_run_id: Any,
        xcom_key: Any, body: Any, timeout: Any, auth: Any, content_type: Any, headers: Any,
        host_index: Any,
    ) -> Any:  # fmt: skip
        if not (
            is_str(dag_id)
            and is_str(task_id)
            and is_str(dag_run_id)
            and is_str(xcom_key)
            and type(body) is XComUpdateBody
            and request_options_ok(timeout, auth, content_type, headers, host_index)
        ):
            args = validated(
                method, self, dag_id=dag_id, task_id=task_id, dag_run_id=dag_run_id,
                xcom_key=xcom_key, x_com_update_body=body,
                _request_timeout=timeout, _request_auth=auth, _content_type=content_type,
                _headers=headers, _host_index=host_index,
            )  # fmt: skip
            body, timeout = args["x_com_update_body"], args["_request_timeout"]
        return self._send(
            mode, "PATCH", _ENTRY_PATH,
            {"dag_id": dag_id, "task_id": task_id, "dag_run_id": dag_run_id,
             "xcom_key": xcom_key},
            None, body, _UPDATE_TYPES, timeout, auth, content_type or _JSON, headers,
        )  # fmt: skip

    # -- the one place that talks to the ApiClient ------------------------------------

    def _send(
        self,
        mode: str,
        http_method: str,
        resource_path: str,
        path_params: dict[str, str],
        query: list[tuple[str, Any]] | None,
        body: Any,
        response_types: dict[str, Any],
        timeout: Any,
        request_auth: dict[str, Any] | None,
        content_type: str | None,
        headers: dict[str, Any] | None,
    ) -> Any:
        header_params = {"Accept": _JSON}
        if content_type is not None:
            header_params["Content-Type"] = content_type
        if headers:
            header_params.update(headers)
        client = self.api_client
        request = client.param_serialize(
            method=http_method,
            resource_path=resource_path,
            path_params=path_params,
            query_params=query,
            header_params=header_params,
            body=body,
            auth_settings=_AUTH_SETTINGS,
            _request_auth=request_auth,
        )
        response = client.call_api(*request, _request_timeout=timeout)
        if mode == _RAW:
            return response.response
        response.read()
        result = client.response_deserialize(
            response_data=response, response_types_map=response_types
        )
        return result if mode == _INFO else result.data
