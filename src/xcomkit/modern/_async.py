"""The XCom clients, written once: ``AsyncXComClient`` in ``_async.py``, written by hand,
and ``XComClient`` in ``_sync.py``, generated from it.

``scripts/unasync_client.py`` writes ``_sync.py`` from ``_async.py`` by removing
``async`` and ``await`` and renaming tokens (``AsyncXComClient`` -> ``XComClient``,
``aiter_entries`` -> ``iter_entries``, ``AsyncLock`` -> ``SyncLock``, ...); ``make lint``
fails when ``_sync.py`` differs from what it would write. Edit ``_async.py``, then run
``make unasync``. What differs by more than a name lives in ``_base`` (the sans-I/O
rules; the lock and sleep of each flavour) and ``_wire`` (the wires).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from ._base import (
    JSON_HEADERS,
    AsyncLock,
    AsyncSleep,
    Endpoints,
    RetryPolicy,
    TokenState,
    async_sleep,
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
from ._wire import Response, WireError, open_async_wire
from .errors import XComConflict
from .models import XComEntry, XComPage

__all__ = ["AsyncXComClient"]

_PAGE_MAX = 100


class AsyncXComClient:
    """Client for the XCom endpoints of an Airflow 3.3 (or xcomkit) API server.

    ``XComClient`` blocks; ``AsyncXComClient`` has the same methods as coroutines, with
    ``aiter_entries`` (for ``async for``) in place of ``iter_entries``.

    One connection pool per instance: use ``with XComClient(...)`` /
    ``async with AsyncXComClient(...)``, or call ``close()``. ``XComClient`` speaks
    HTTP/1.1 keep-alive over :mod:`http.client` (over an :class:`httpx.Client` when
    ``transport`` is given) and is safe to share between threads; ``AsyncXComClient``
    uses an :class:`httpx.AsyncClient` and is safe to share between the tasks of one
    event loop.

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
        transport: an httpx transport (``httpx.BaseTransport`` for ``XComClient``,
            ``httpx.AsyncBaseTransport`` for ``AsyncXComClient``), e.g.
            :class:`httpx.MockTransport` in tests or an ``HTTPTransport(proxy=...)``.
        verify: TLS verification, as httpx takes it (bool, CA path or SSLContext).
        headers: extra headers sent with every request.
        sleep: what waits between retries, given seconds: :func:`time.sleep` by default,
            and for ``AsyncXComClient`` a coroutine function, :func:`asyncio.sleep` by
            default. Tests pass a fake.

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
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
        headers: Mapping[str, str] | None = None,
        sleep: AsyncSleep | None = None,
    ) -> None:
        wire_headers = default_headers(headers)
        self._wire = open_async_wire(
            base_url, timeout=timeout, verify=verify, headers=wire_headers, transport=transport
        )
        self._urls = Endpoints(self._wire.prefix)
        self._tokens = TokenState(username, password, token)
        self._retry = RetryPolicy(retries, backoff, max_backoff)
        self._sleep = sleep if sleep is not None else async_sleep
        self._lock = AsyncLock()
        self._plain_headers: dict[str, str] = {}
        self._json_headers: dict[str, str] = dict(JSON_HEADERS)
        if self._tokens.token is not None:
            self._use_token(self._tokens.token)

    # -- lifecycle -------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        await self._wire.close()

    async def __aenter__(self) -> AsyncXComClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the XCom calls --------------------------------------------------------------

    async def push(
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
            response = await self._send("POST", url, body, idempotent=overwrite)
        except XComConflict:
            if not overwrite:
                raise
            return await self.update(dag_id, dag_run_id, task_id, key, value, map_index=map_index)
        return entry_from(response)

    async def pull(
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
        response = await self._send("GET", url)
        return entry_from(response)

    async def update(
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
        response = await self._send("PATCH", url, body)
        return entry_from(response)

    async def delete(
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
        await self._send("DELETE", url)

    async def list(
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
        response = await self._send("GET", url)
        return page_from(response, offset)

    async def aiter_entries(
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
    ) -> AsyncIterator[XComEntry]:
        """Every matching entry, fetching pages of ``page_size`` (max 100) as it goes.

        Same filters as :meth:`list` (``AsyncXComClient``: ``async for entry in
        client.aiter_entries(...)``).

        Entries written or deleted while iterating may be seen twice or missed (offset
        paging), as with any paged listing.
        """
        while True:
            page = await self.list(
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
            # An async generator cannot ``yield from``; _sync.py keeps this loop too.
            for entry in page.entries:
                yield entry
            nxt = page.next_offset
            if nxt is None:
                return
            offset = nxt

    # -- plumbing --------------------------------------------------------------------

    def _use_token(self, token: str) -> None:
        auth = self._tokens.set(token)
        self._plain_headers = {"Authorization": auth}
        self._json_headers = {**JSON_HEADERS, "Authorization": auth}

    async def _login(self, stale: str | None) -> None:
        """Fetch a new token unless another caller (task or thread) already replaced
        ``stale``."""
        tokens = self._tokens
        async with self._lock:
            if tokens.token is not None and tokens.token != stale and not tokens.needs_login():
                return
            body = login_body(tokens.username or "", tokens.password or "")
            response = await self._send(
                "POST", self._urls.token, body, idempotent=True, authenticated=False
            )
            self._use_token(token_from_login(response))

    async def _send(
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
                    await self._login(tokens.token)
                headers = self._plain_headers if content is None else self._json_headers
            else:
                headers = JSON_HEADERS
            sent_token = tokens.token
            try:
                response = await self._wire.request(method, url, content, headers)
            except WireError as exc:
                delay = retry.delay_for_transport_error(attempt, exc, idempotent)
                if delay is None:
                    raise connection_error(method, self._wire.origin + url, exc) from exc
                await self._sleep(delay)
                attempt += 1
                continue
            status = response.status_code
            if status < 400:
                return response
            if not relogged and is_token_problem(response):
                relogged = True
                await self._login(sent_token)
                continue
            delay = retry.delay_for_status(attempt, response, idempotent)
            if delay is not None:
                await self._sleep(delay)
                attempt += 1
                continue
            raise error_for(response)
