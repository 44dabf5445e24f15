"""``XComClient``: a typed, retrying, blocking client for Airflow 3's XCom REST API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from ._base import (
    JSON_HEADERS,
    Endpoints,
    RetryPolicy,
    TokenState,
    connection_error,
    default_headers,
    dump_json,
    entry_from,
    error_for,
    is_token_problem,
    list_params,
    login_body,
    page_from,
    query_string,
    token_from_login,
)
from ._wire import HttpxWire, Response, StdlibWire, WireError
from .errors import XComConflict
from .models import XComEntry, XComPage

__all__ = ["XComClient"]

_PAGE_MAX = 100


class XComClient:
    """Blocking client for the XCom endpoints of an Airflow 3.3 (or xcomkit) API server.

    One connection pool per instance (HTTP/1.1 keep-alive over :mod:`http.client`, or
    an :class:`httpx.Client` when ``transport`` is given); use it as a context manager
    or call :meth:`close`. Safe to share between threads.

    Args:
        base_url: the server root, e.g. ``"http://127.0.0.1:8080"`` (no ``/api/v2``).
        username, password: credentials for ``POST {base_url}/auth/token``; the token is
            fetched on first use, again when its JWT ``exp`` passes, and once more when the
            server answers 401 or 403 ``"Invalid JWT token"`` (Airflow's answer to an
            expired token).
        token: a fixed bearer token instead (never refreshed). With neither, requests go
            without ``Authorization``.
        timeout: seconds for connect, read, write and pool waits, each.
        retries: how many times a request is sent again after a transport error or a
            429/502/503/504 answer (so at most ``retries + 1`` sends). Idempotent
            calls (GET, PATCH, DELETE, and ``push`` with ``overwrite``) are retried
            after any of these; a plain ``push`` (POST) only when the connection failed
            before sending or the answer was 503 with ``Retry-After`` (refused unread).
        backoff: base of the exponential backoff, seconds: retry ``n`` waits a random
            ``[0, min(max_backoff, backoff * 2**n)]`` seconds (full jitter), or the
            ``Retry-After`` the server sent (seconds or HTTP date; one longer than
            ``max_backoff`` is not waited for: the error is raised).
        max_backoff: the cap of one wait, seconds.
        transport: an httpx transport (e.g. :class:`httpx.MockTransport` in tests);
            given, requests go through an :class:`httpx.Client` over it.
        verify: TLS verification, as httpx takes it (bool, CA path or SSLContext).
        headers: extra headers sent with every request.
        sleep: the function that waits (default :func:`time.sleep`); tests pass a fake.

    Errors: every method raises a subclass of :class:`~xcomkit.modern.errors.XComError`:
    ``XComNotFound`` (404), ``XComConflict`` (409), ``XComAuthError`` (401/403),
    ``XComValidationError`` (422), ``XComBadRequest`` (400), ``XComServerError`` (5xx),
    ``XComConnectionError`` (no answer). ``TypeError`` for a value JSON cannot hold.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        verify: Any = True,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        wire_headers = default_headers(headers)
        self._wire: StdlibWire | HttpxWire
        if transport is None:
            self._wire = StdlibWire(base_url, timeout=timeout, verify=verify, headers=wire_headers)
        else:
            self._wire = HttpxWire(
                base_url, timeout=timeout, verify=verify, headers=wire_headers, transport=transport
            )
        self._urls = Endpoints(self._wire.prefix)
        self._tokens = TokenState(username, password, token)
        self._retry = RetryPolicy(retries, backoff, max_backoff)
        self._sleep = sleep if sleep is not None else time.sleep
        self._lock = threading.Lock()
        self._plain_headers: dict[str, str] = {}
        self._json_headers: dict[str, str] = dict(JSON_HEADERS)
        if self._tokens.token is not None:
            self._use_token(self._tokens.token)

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        self._wire.close()

    def __enter__(self) -> XComClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the XCom calls --------------------------------------------------------------

    def push(
        self,
        dag_id: str,
        dag_run_id: str,
        task_id: str,
        key: str,
        value: Any,
        *,
        map_index: int = -1,
        overwrite: bool = False,
    ) -> XComEntry:
        """Create an XCom entry (``POST .../xcomEntries``, Airflow's ``create_xcom_entry``).

        Args:
            value: any JSON value (dict, list, str, int, float, bool, None).
            map_index: the mapped task instance, -1 for an unmapped task.
            overwrite: when the key exists (409), update it instead (PATCH). This
                makes the push idempotent, so it is also resent after a failure whose
                outcome is unknown (a dropped connection, a 502/504 from a gateway).

        Returns:
            the stored entry, ``value`` as the server answers it (native JSON).

        Raises:
            XComConflict: the key exists and ``overwrite`` is False.
            XComNotFound: no such DAG, DAG run or task.
            XComValidationError: e.g. reserved serialization keys in ``value``.
        """
        body = dump_json({"key": key, "value": value, "map_index": map_index})
        url = self._urls.xcom_entries(dag_id, dag_run_id, task_id)
        try:
            # With overwrite, a resent POST that finds its own entry (409) goes on as
            # an update: the same outcome, so it is safe to resend after any failure.
            response = self._send("POST", url, body, idempotent=overwrite)
        except XComConflict:
            if not overwrite:
                raise
            return self.update(dag_id, dag_run_id, task_id, key, value, map_index=map_index)
        return entry_from(response)

    def pull(
        self,
        dag_id: str,
        dag_run_id: str,
        task_id: str,
        key: str,
        *,
        map_index: int = -1,
        deserialize: bool = False,
        stringify: bool = False,
    ) -> XComEntry:
        """Read one XCom entry (``GET .../xcomEntries/{key}``, ``get_xcom_entry``).

        Args:
            key: the XCom key; may contain ``/`` (other reserved characters are quoted).
            deserialize: let the server re-parse a stored JSON string (``"123"`` -> 123).
            stringify: have the server answer Python's ``str()`` of the value.

        Returns:
            the entry with ``value`` set.

        Raises:
            XComNotFound: no entry with this key and map_index.
        """
        url = self._urls.xcom_entry(dag_id, dag_run_id, task_id, key)
        if map_index != -1 or deserialize or stringify:
            url += query_string(
                {
                    "map_index": map_index if map_index != -1 else None,
                    "deserialize": True if deserialize else None,
                    "stringify": True if stringify else None,
                }
            )
        response = self._send("GET", url)
        return entry_from(response)

    def update(
        self,
        dag_id: str,
        dag_run_id: str,
        task_id: str,
        key: str,
        value: Any,
        *,
        map_index: int = -1,
    ) -> XComEntry:
        """Replace the value of an existing entry (``PATCH .../xcomEntries/{key}``).

        Returns:
            the updated entry.

        Raises:
            XComNotFound: no entry with this key and map_index.
            XComValidationError: e.g. reserved serialization keys in ``value``.
        """
        body = dump_json({"value": value, "map_index": map_index})
        url = self._urls.xcom_entry(dag_id, dag_run_id, task_id, key)
        response = self._send("PATCH", url, body)
        return entry_from(response)

    def delete(
        self,
        dag_id: str,
        dag_run_id: str,
        task_id: str,
        key: str,
        *,
        map_index: int = -1,
    ) -> None:
        """Delete one entry (``DELETE .../xcomEntries/{key}?map_index=``; 204).

        Raises:
            XComNotFound: no entry with this key and map_index (also when a retried
                DELETE had already succeeded on the server).
        """
        url = self._urls.xcom_entry(dag_id, dag_run_id, task_id, key)
        url += f"?map_index={int(map_index)}"
        self._send("DELETE", url)

    def list(
        self,
        dag_id: str = "~",
        dag_run_id: str = "~",
        task_id: str = "~",
        *,
        key: str | None = None,
        map_index: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        order_by: str | Sequence[str] | None = None,
        **filters: Any,
    ) -> XComPage:
        """One page of entries (``GET .../xcomEntries``, ``get_xcom_entries``).

        Args:
            dag_id, dag_run_id, task_id: ``"~"`` (the default) matches any.
            key: only entries with exactly this key (``xcom_key``).
            map_index: only entries with this map index.
            limit: page size; the server's default is 50 and its cap 100.
            offset: entries to skip.
            order_by: a field (``"key"``, ``"-timestamp"``, ...) or several.
            **filters: any other query parameter of the endpoint, e.g.
                ``xcom_key_pattern="v_%"``, ``task_id_prefix_pattern="ext"``,
                ``map_index_filter=0``, ``logical_date_gte=datetime(...)`` (aware),
                ``run_after_lt=...``. ``None`` values are left out.

        Returns:
            an :class:`XComPage` (entries without ``value``, plus ``total_entries``).
        """
        params = list_params(key, map_index, limit, offset, order_by, filters)
        url = self._urls.xcom_entries(dag_id, dag_run_id, task_id) + query_string(params)
        response = self._send("GET", url)
        return page_from(response, offset)

    def iter_entries(
        self,
        dag_id: str = "~",
        dag_run_id: str = "~",
        task_id: str = "~",
        *,
        key: str | None = None,
        map_index: int | None = None,
        page_size: int = _PAGE_MAX,
        offset: int = 0,
        order_by: str | Sequence[str] | None = None,
        **filters: Any,
    ) -> Iterator[XComEntry]:
        """Every matching entry, fetching pages of ``page_size`` (max 100) as it goes.

        Same filters as :meth:`list`.

        Entries written or deleted while iterating may be seen twice or missed (offset
        paging), as with any paged listing.
        """
        while True:
            page = self.list(
                dag_id,
                dag_run_id,
                task_id,
                key=key,
                map_index=map_index,
                limit=page_size,
                offset=offset,
                order_by=order_by,
                **filters,
            )
            yield from page.entries
            nxt = page.next_offset
            if nxt is None:
                return
            offset = nxt

    # -- plumbing --------------------------------------------------------------------

    def _use_token(self, token: str) -> None:
        auth = self._tokens.set(token)
        self._plain_headers = {"Authorization": auth}
        self._json_headers = {**JSON_HEADERS, "Authorization": auth}

    def _login(self, stale: str | None) -> None:
        """Fetch a new token unless another thread already replaced ``stale``."""
        tokens = self._tokens
        with self._lock:
            if tokens.token is not None and tokens.token != stale and not tokens.needs_login():
                return
            body = login_body(tokens.username or "", tokens.password or "")
            response = self._send(
                "POST", self._urls.token, body, idempotent=True, authenticated=False
            )
            self._use_token(token_from_login(response))

    def _send(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        *,
        idempotent: bool = True,
        authenticated: bool = True,
    ) -> Response:
        """Send one call with retries and token refresh; return the 2xx response.

        Raises:
            XComError: the typed error for the final non-2xx answer.
            XComConnectionError: no answer after the allowed retries.
        """
        tokens = self._tokens
        retry = self._retry
        attempt = 0
        relogged = not (authenticated and tokens.can_login)
        while True:
            if authenticated:
                if tokens.needs_login():
                    self._login(tokens.token)
                headers = self._plain_headers if content is None else self._json_headers
            else:
                headers = JSON_HEADERS
            sent_token = tokens.token
            try:
                response = self._wire.request(method, url, content, headers)
            except WireError as exc:
                delay = retry.delay_for_transport_error(attempt, exc, idempotent)
                if delay is None:
                    raise connection_error(method, self._wire.origin + url, exc) from exc
                self._sleep(delay)
                attempt += 1
                continue
            status = response.status_code
            if status < 400:
                return response
            if not relogged and is_token_problem(response):
                relogged = True
                self._login(sent_token)
                continue
            delay = retry.delay_for_status(attempt, response, idempotent)
            if delay is not None:
                self._sleep(delay)
                attempt += 1
                continue
            raise error_for(response)
