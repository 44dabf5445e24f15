"""What the sync and async XCom clients share: URLs, tokens, retry rules, error mapping.

No I/O here. :class:`~xcomkit.modern.AsyncXComClient` (``_async.py``, written by hand)
and :class:`~xcomkit.modern.XComClient` (``_sync.py``, generated from it by
``scripts/unasync_client.py``) run the same request loop over their own wire (see ``_wire``)
and ask this module what to send, whether to retry and what to raise.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from xcomkit.exact_json import loads as load_json

from ._wire import Response, WireError
from .errors import XComAuthError, XComConnectionError, XComError, error_class_for
from .models import XComEntry, XComPage

# Statuses worth another try: the server (or a proxy) says "not now", not "no".
RETRY_STATUSES = frozenset({429, 502, 503, 504})

# A token is treated as expired this many seconds before its ``exp``, so that it does
# not run out while the request is in flight.
TOKEN_EXPIRY_LEEWAY = 10.0

JSON_HEADERS = {"Content-Type": "application/json"}

_ORJSON_OPTS = orjson.OPT_NON_STR_KEYS

# -- the two flavours ------------------------------------------------------------------
# What the asyncio client uses and the blocking client uses in its place, in pairs whose
# names differ only as scripts/unasync_client.py renames tokens (AsyncLock -> SyncLock, ...), so
# that _sync.py is _async.py with tokens renamed and ``async``/``await`` removed.

#: The lock that makes concurrent logins wait for one another (tasks; threads).
AsyncLock = asyncio.Lock
SyncLock = threading.Lock

#: What waits between retries, given seconds (the ``sleep=`` argument's type).
AsyncSleep = Callable[[float], Awaitable[None]]
SyncSleep = Callable[[float], None]

#: The default of ``sleep=``.
async_sleep = asyncio.sleep
sync_sleep = time.sleep


def dump_json(body: Any) -> bytes:
    """Encode a request body as JSON bytes (non-str dict keys become strings).

    orjson first; Python's encoder where orjson refuses what JSON can carry (integers
    beyond 64 bits, nesting past 255 levels), so every value the server accepts can be
    pushed exactly.

    Raises:
        TypeError: the body holds a value JSON cannot represent (e.g. a ``set``).
    """
    try:
        return orjson.dumps(body, option=_ORJSON_OPTS)
    except orjson.JSONEncodeError as exc:
        try:
            return json.dumps(body, separators=(",", ":")).encode()
        except (TypeError, ValueError, RecursionError):
            raise TypeError(f"XCom value is not JSON serialisable: {exc}") from exc


def quote_id(value: str) -> str:
    """Percent-encode a dag_id, dag_run_id or task_id as one path segment (``~`` stays)."""
    return quote(value, safe="~")


def quote_key(key: str) -> str:
    """Percent-encode an XCom key for the ``{xcom_key:path}`` route.

    ``/`` is kept (Airflow's route takes the rest of the path as the key); every other
    reserved character, ``%``, spaces and non-ASCII are encoded as UTF-8 escapes. A segment
    that is ``.`` or ``..`` is encoded (``%2E``) so no URL normalisation removes it.
    """
    quoted = quote(key, safe="/~")
    if "." in quoted:
        segments = quoted.split("/")
        if any(s in (".", "..") for s in segments):
            quoted = "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in segments)
    return quoted


def query_value(value: Any) -> str:
    """Render one query parameter value the way Airflow's FastAPI parameters read it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware datetime")
        return value.isoformat()
    return str(value)


def query_string(params: Mapping[str, Any]) -> str:
    """``?a=1&b=2`` for the params that are not ``None`` (sequences repeat the name), or ``""``."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((name, query_value(v)) for v in value)
        else:
            pairs.append((name, query_value(value)))
    return "?" + urlencode(pairs, quote_via=quote) if pairs else ""


def list_params(
    key: str | None,
    map_index: int | None,
    limit: int | None,
    offset: int,
    order_by: str | Sequence[str] | None,
    filters: Mapping[str, Any],
) -> dict[str, Any]:
    """The query parameters of ``GET .../xcomEntries`` (see ``XComClient.list``)."""
    params: dict[str, Any] = {
        "xcom_key": key,
        "map_index": map_index,
        "limit": limit,
        "offset": offset or None,
        "order_by": order_by,
    }
    for name, value in filters.items():
        if name in params:
            raise TypeError(f"list() got {name!r} twice")
        params[name] = value
    return params


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, read without verifying it.

    The signature is the server's business; the client only wants to know when to fetch a
    new token. Returns ``None`` when the token is not a JWT or has no numeric ``exp``.
    """
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = orjson.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        return float(exp)
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    Returns ``None`` for a missing or unreadable header; never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryPolicy:
    """When and how long to wait before sending a request again.

    Exponential backoff with full jitter: before retry ``n`` (0-based) wait a uniform
    random time in ``[0, min(max_backoff, backoff * 2**n)]`` seconds; a ``Retry-After``
    header on a 429/503 replaces that with the server's number. A ``Retry-After`` longer
    than ``max_backoff`` is not waited for: the error is raised at once.
    """

    __slots__ = ("backoff", "max_backoff", "random", "retries")

    def __init__(
        self,
        retries: int,
        backoff: float,
        max_backoff: float,
        rng: random.Random | None = None,
    ) -> None:
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must be >= 0")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.random = rng or random.Random()

    def backoff_delay(self, attempt: int) -> float:
        """Jittered exponential delay (seconds) before retry number ``attempt`` (0-based)."""
        return self.random.uniform(0.0, min(self.max_backoff, self.backoff * (2**attempt)))

    def delay_for_status(
        self, attempt: int, response: Response, idempotent: bool = True
    ) -> float | None:
        """Seconds to wait before retrying ``response``, or ``None`` not to retry.

        A request that is not idempotent is resent only after a 503 with ``Retry-After``:
        the server refused it without acting on it (xcomkit changes nothing before that
        answer; a balancer with no instance up never forwarded the request). A 502 or
        504 says a gateway lost the server mid-request, so the outcome is unknown.
        """
        if attempt >= self.retries or response.status_code not in RETRY_STATUSES:
            return None
        if not idempotent and not (
            response.status_code == 503 and response.headers.get("retry-after") is not None
        ):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            return self.backoff_delay(attempt)
        if retry_after > self.max_backoff:
            return None
        return retry_after

    def delay_for_transport_error(
        self, attempt: int, exc: WireError, idempotent: bool
    ) -> float | None:
        """Seconds to wait before resending after ``exc``, or ``None`` not to retry.

        Idempotent requests are resent after any transport error; others only when the
        request never reached the server (the connection could not be made).
        """
        if attempt >= self.retries:
            return None
        if not idempotent and exc.sent:
            return None
        return self.backoff_delay(attempt)


def response_detail(response: Response) -> Any:
    """Airflow's ``detail`` of an error response, or the body text if it has none."""
    content = response.content
    if not content:
        return None
    try:
        body = load_json(content)
    except ValueError:
        return response.text
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body


def is_token_problem(response: Response) -> bool:
    """True for answers a fresh token could cure: 401, or 403 ``"Invalid JWT token"``.

    Airflow answers an expired token with 403 ``"Invalid JWT token"``; a 403
    ``"Forbidden"`` (the role may not do this) is not a token problem.
    """
    status = response.status_code
    if status == 401:
        return True
    return status == 403 and response_detail(response) == "Invalid JWT token"


def error_for(response: Response) -> XComError:
    """The typed exception for an error ``response`` (status >= 400)."""
    status = response.status_code
    detail = response_detail(response)
    method = response.method
    url = response.url
    message = f"{method} {url} -> {status}: {detail}"
    return error_class_for(status)(message, status=status, detail=detail, method=method, url=url)


def entry_from(response: Response) -> XComEntry:
    """The :class:`XComEntry` of a 200/201 answer.

    Raises:
        XComError: the body is not an XCom entry (not JSON, or fields missing).
    """
    try:
        return XComEntry.from_json(load_json(response.content))
    except (KeyError, TypeError, ValueError) as exc:
        raise _unexpected(response, exc) from exc


def page_from(response: Response, offset: int) -> XComPage:
    """The :class:`XComPage` of a 200 list answer.

    Raises:
        XComError: the body is not an XCom collection.
    """
    try:
        return XComPage.from_json(load_json(response.content), offset)
    except (KeyError, TypeError, ValueError) as exc:
        raise _unexpected(response, exc) from exc


def _unexpected(response: Response, exc: Exception) -> XComError:
    return XComError(
        f"{response.method} {response.url} -> {response.status_code}: unexpected body "
        f"({type(exc).__name__}: {exc}): {response.text[:200]!r}",
        status=response.status_code,
        detail=response.text,
        method=response.method,
        url=response.url,
    )


def connection_error(method: str, url: str, exc: WireError) -> XComError:
    """An :class:`XComConnectionError` for a request that got no answer."""
    return XComConnectionError(f"{method} {url} failed: {exc}", method=method, url=url)


class Endpoints:
    """Request targets (path and query, without the origin) under ``base_url``'s path.

    ``prefix`` is the path part of ``base_url`` (``""`` for ``http://host:8080``), so
    ``xcom_entries`` gives ``{prefix}/api/v2/dags/.../xcomEntries`` and ``token`` gives
    ``{prefix}/auth/token``.
    """

    __slots__ = ("api", "token")

    def __init__(self, prefix: str) -> None:
        self.api = prefix + "/api/v2"
        self.token = prefix + "/auth/token"

    def xcom_entries(self, dag_id: str, dag_run_id: str, task_id: str) -> str:
        """Target of the collection ``.../taskInstances/{task_id}/xcomEntries``."""
        return (
            f"{self.api}/dags/{quote_id(dag_id)}/dagRuns/{quote_id(dag_run_id)}"
            f"/taskInstances/{quote_id(task_id)}/xcomEntries"
        )

    def xcom_entry(self, dag_id: str, dag_run_id: str, task_id: str, key: str) -> str:
        """Target of one entry ``.../xcomEntries/{key}`` (``/`` in the key kept).

        Raises:
            ValueError: ``key`` is empty.
        """
        if not key:
            raise ValueError("key must be a non-empty string")
        return f"{self.xcom_entries(dag_id, dag_run_id, task_id)}/{quote_key(key)}"


def login_body(username: str, password: str) -> bytes:
    """The JSON body of ``POST /auth/token``."""
    return orjson.dumps({"username": username, "password": password})


def token_from_login(response: Response) -> str:
    """The ``access_token`` of a ``POST /auth/token`` answer.

    Raises:
        XComAuthError: the answer carried no token.
    """
    try:
        token = orjson.loads(response.content)["access_token"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise XComAuthError(
            "login answer carried no access_token",
            status=response.status_code,
            detail=response.text,
            method="POST",
            url=response.url,
        )
    return token


def default_headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    """Headers sent with every request: JSON accept, a user agent, then the caller's."""
    from xcomkit import __version__

    headers = {"Accept": "application/json", "User-Agent": f"xcomkit/{__version__}"}
    if extra:
        headers.update(extra)
    return headers


class TokenState:
    """The bearer token and when it runs out, plus how to get a new one.

    ``static`` tokens are never refreshed; with ``username``/``password`` the token is
    fetched on first use, again when its ``exp`` passes and once after a 401/403
    ``"Invalid JWT token"``.
    """

    __slots__ = ("clock", "expires_at", "password", "token", "username")

    def __init__(self, username: str | None, password: str | None, token: str | None) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if token is not None and username is not None:
            raise ValueError("give either token or username/password, not both")
        self.username = username
        self.password = password
        # Wall clock, seconds since the epoch (JWT ``exp`` is wall-clock time).
        self.clock: Callable[[], float] = time.time
        self.token: str | None = None
        self.expires_at: float | None = None
        if token is not None:
            self.set(token)

    @property
    def can_login(self) -> bool:
        """Whether a new token can be fetched (username and password were given)."""
        return self.username is not None

    def set(self, token: str) -> str:
        """Store ``token`` and its expiry; return the ``Authorization`` header value."""
        self.token = token
        self.expires_at = jwt_expiry(token)
        return "Bearer " + token

    def needs_login(self) -> bool:
        """True when a token must be fetched before the next request."""
        if not self.can_login:
            return False
        if self.token is None:
            return True
        exp = self.expires_at
        return exp is not None and self.clock() >= exp - TOKEN_EXPIRY_LEEWAY
