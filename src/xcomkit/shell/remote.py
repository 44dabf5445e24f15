"""Requests to an Airflow 3 API server, and the tokens ``xcomkit login`` keeps.

Bodies are encoded and decoded with the standard :mod:`json` module, so integers of any
size and every JSON type come back exactly as the server sent them.

Tokens live in ``<config dir>/tokens/<hash of the API URL>.json`` (the config dir is
``$XDG_CONFIG_HOME/xcomkit``, by default ``~/.config/xcomkit`` on Linux; typer's (click's)
``get_app_dir`` elsewhere), each file readable by its owner only (0600), created with
that mode (never briefly wider) and replaced atomically.

A login kept with ``xcomkit login --keep-password`` also holds the password, in the same
file: a token that has expired (by its ``exp`` claim before a command starts) or that the
server refuses during one (401, or 403 ``Invalid JWT token``) is then renewed by logging
in again, and the new token kept. Without a kept password an expired token is answered
with the ``xcomkit login`` command to run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import typer

from xcomkit.private_files import write_private
from xcomkit.shell.errors import AUTH, CONFLICT, NOT_FOUND, SERVER, USAGE, CliError

# The wire (the modern client's, and httpx behind it) is imported when a command first
# talks to a server: ``xcomkit serve`` imports this module through the CLI and would
# otherwise carry httpx and the modern client in its worker (~0.1 s, ~6 MB; see
# docs/performance.md, "Start-up").
if TYPE_CHECKING:
    import httpx

    from xcomkit.modern._wire import HttpxWire, Response, StdlibWire

DEFAULT_API_URL = "http://127.0.0.1:8080"
API = "/api/v2"


def normalize_url(api_url: str) -> str:
    """``api_url`` without trailing slashes; a missing scheme is a usage error.

    Raises:
        CliError: (exit 2) the URL has no ``http://`` or ``https://``.
    """
    url = api_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--api-url {api_url!r} must start with http:// or https://", USAGE)
    return url


def config_dir() -> Path:
    """Where the CLI keeps its files (``$XDG_CONFIG_HOME/xcomkit`` on Linux)."""
    return Path(typer.get_app_dir("xcomkit"))


def token_path(api_url: str) -> Path:
    """The token file of ``api_url`` (normalized)."""
    digest = hashlib.sha256(normalize_url(api_url).encode()).hexdigest()[:24]
    return config_dir() / "tokens" / f"{digest}.json"


def save_token(api_url: str, username: str, token: str, password: str | None = None) -> Path:
    """Keep ``token`` (and, when given, ``password``, to renew it) for ``api_url``; return
    the file (mode 0600, replaced atomically: a login without a password drops a kept one).
    """
    path = token_path(api_url)
    kept = {"api_url": normalize_url(api_url), "username": username, "token": token}
    if password is not None:
        kept["password"] = password
    write_private(path, json.dumps(kept))  # 0600 from the first byte, swapped in atomically
    return path


def load_token(api_url: str) -> dict[str, str] | None:
    """The kept login of ``api_url`` (``{"api_url", "username", "token"}``, and
    ``"password"`` when it was kept), or ``None``."""
    try:
        data = json.loads(token_path(api_url).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("token"), str) else None


def forget_token(api_url: str) -> bool:
    """Delete the kept token of ``api_url``; True when there was one."""
    try:
        token_path(api_url).unlink()
    except FileNotFoundError:
        return False
    return True


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (seconds since the epoch), or ``None`` if unreadable."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    return float(exp) if isinstance(exp, (int, float)) else None


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "(no body)"


_JSON_BODY = {"Content-Type": "application/json"}


def _token_refused(response: Response) -> bool:
    """The server refused the bearer token itself, as Airflow does: 401 (missing or
    expired) or 403 ``Invalid JWT token`` (a bad signature, e.g. after the server's
    secret changed), not a 403 for a role that may not do this."""
    status = response.status_code
    return status == 401 or (status == 403 and b"JWT" in response.content)


_EXIT_BY_STATUS = {400: USAGE, 401: AUTH, 403: AUTH, 404: NOT_FOUND, 409: CONFLICT, 422: USAGE}


def exit_code_for(status: int) -> int:
    """The CLI's exit code for an HTTP error status (see :class:`Remote`)."""
    return _EXIT_BY_STATUS.get(status, SERVER if status >= 500 else USAGE)


def detail_text(detail: Any) -> str:
    """A server's ``detail`` (text, or FastAPI's list of validation errors) as one line."""
    return _detail_text(detail)


class Remote:
    """A blocking connection to one API server, with a bearer token.

    Requests go over the modern client's wire (:class:`xcomkit.modern._wire.StdlibWire`:
    pooled HTTP/1.1 keep-alive over :mod:`http.client`, safe across threads, about a
    third of httpx's client CPU per request), which matters for export and import.

    Args:
        api_url: the server root, e.g. ``http://127.0.0.1:8080`` (no ``/api/v2``; a path
            prefix such as ``https://host/airflow`` is kept).
        token: a bearer token; ``None`` sends none.
        timeout: seconds for connect, read and write, each.
        transport: an httpx transport to use instead of the network (tests).
        pool: connections kept open for reuse (one per concurrent request is best).
        renew: called for a new token when the server refuses this one (401, or 403
            ``Invalid JWT token``); it raises :class:`CliError` if it cannot. The request
            is then sent once more: a refused token is decided before the server acts,
            so a write is never done twice. Concurrent requests share one renewal; after
            a failed renewal, refusals are reported as they come.

    Every method raises :class:`CliError` for a failure: exit 1 for 404, 2 for 400/422,
    3 for 401/403, 4 for 409, 5 for a 5xx or no answer; the message names the request
    and the server's ``detail``.
    """

    #: Sends again after a connection that could not be made (never after one that was).
    RETRIES = 2

    def __init__(
        self,
        api_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        pool: int = 16,
        renew: Callable[[], str] | None = None,
    ) -> None:
        self.api_url = normalize_url(api_url)
        self._transport, self._timeout = transport, timeout
        headers = {"Accept": "application/json"}
        self._renew = renew
        self._renew_lock = threading.Lock()
        self._set_token(token)
        from xcomkit.modern._wire import HttpxWire, StdlibWire

        self._wire: StdlibWire | HttpxWire
        try:
            if transport is None:
                self._wire = StdlibWire(
                    self.api_url, timeout=timeout, headers=headers, max_idle=pool
                )
            else:
                self._wire = HttpxWire(
                    self.api_url, timeout=timeout, headers=headers, transport=transport
                )
        except ValueError as exc:
            raise CliError(f"--api-url {api_url!r}: {exc}", USAGE) from None

    def _set_token(self, token: str | None) -> None:
        self.token = token
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        # Swapped whole (never changed in place), so a request reads one consistent pair.
        self._headers = (auth, {**auth, **_JSON_BODY})

    def _renewed(self, refused: str | None) -> bool:
        """Renew the token if ``refused`` is still the current one; True when there is a
        newer token to send (renewed here or by a concurrent request)."""
        with self._renew_lock:
            if self._renew is None:
                return False
            if self.token == refused:
                renew, self._renew = self._renew, None  # one failed renewal is enough
                self._set_token(renew())
                self._renew = renew
            return True

    def close(self) -> None:
        """Close the connection pool."""
        self._wire.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content: bytes | None = None,
        allow: tuple[int, ...] = (),
        renew: bool = True,
    ) -> tuple[int, Any]:
        """Send one request; return ``(status, decoded JSON body or None)``.

        Args:
            path: the path below the API URL, e.g. ``/api/v2/version``, already quoted.
            params: query parameters; ``None`` values are left out, lists repeat the name.
            body: a JSON body (encoded with :func:`json.dumps`: big integers stay exact).
            content: a JSON body already encoded (instead of ``body``).
            allow: error statuses to return instead of raising (e.g. ``(409,)``).
            renew: renew a refused token (see the class); False answers the refusal.

        Raises:
            CliError: no answer, or an error status not in ``allow``.
        """
        from xcomkit.modern._base import query_string

        target = self._wire.prefix + path + query_string(params or {})
        if body is not None:
            content = json.dumps(body, allow_nan=False).encode()
        token = self.token
        response = self._send(method, target, content)
        if renew and _token_refused(response) and self._renewed(token):
            response = self._send(method, target, content)
        data = None
        if response.content:
            try:
                data = json.loads(response.content)
            except ValueError:
                data = None
        status = response.status_code
        if status < 400 or status in allow:
            return status, data
        raise self._error(method, path, response, data)

    def _send(self, method: str, target: str, content: bytes | None) -> Response:
        from xcomkit.modern._wire import WireError

        plain, with_body = self._headers
        headers = with_body if content is not None else plain
        attempt = 0
        while True:
            try:
                return self._wire.request(method, target, content, headers)
            except WireError as exc:
                if exc.sent or attempt >= self.RETRIES:
                    reason = str(exc.cause) or type(exc.cause).__name__
                    raise CliError(f"cannot reach {self.api_url}: {reason}", SERVER) from exc
                attempt += 1

    def _error(self, method: str, path: str, response: Response, data: Any) -> CliError:
        status = response.status_code
        if isinstance(data, dict) and "detail" in data:
            detail = _detail_text(data["detail"])
        elif isinstance(data, dict) and "error" in data:
            detail = str(data["error"])
        else:
            detail = response.text.strip()[:200] or _phrase(status)
        message = f"{method} {self._wire.prefix}{unquote(path)}: {status} {detail}"
        sent_token = self.token is not None
        if sent_token and (status == 401 or (status == 403 and "JWT" in detail)):
            message += (
                f" — the kept token is missing, invalid or expired; "
                f"run: xcomkit login --api-url {self.api_url}"
            )
        return CliError(message, exit_code_for(status))

    @contextmanager
    def stream_lines(self, path: str) -> Iterator[tuple[Mapping[str, str], Iterator[str]]]:
        """``GET path`` answered as lines (NDJSON), read as they arrive; yields the
        answer's headers and an iterator of its non-empty lines. A refused token is
        renewed as for :meth:`request`.

        Raises:
            CliError: no answer, an error status, or the connection broke mid-answer.
        """
        import httpx

        from xcomkit.modern._wire import Response

        with httpx.Client(
            base_url=self.api_url, transport=self._transport, timeout=self._timeout
        ) as client:
            for attempt in range(2):
                token = self.token
                headers = {**self._headers[0], "Accept-Encoding": "identity"}
                try:
                    with client.stream("GET", path, headers=headers) as response:
                        status = response.status_code
                        if status >= 400:
                            content = response.read()
                            refused = Response(status, response.headers, content, "GET", path)
                            if attempt == 0 and _token_refused(refused) and self._renewed(token):
                                continue
                            try:
                                data = json.loads(content)
                            except ValueError:
                                data = None
                            raise self._error("GET", path, refused, data)
                        yield response.headers, self._lines(response)
                        return
                except httpx.HTTPError as exc:
                    raise self._unreachable(exc) from exc

    def _lines(self, response: httpx.Response) -> Iterator[str]:
        import httpx

        try:
            yield from (line for line in response.iter_lines() if line)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> CliError:
        reason = str(exc) or type(exc).__name__
        return CliError(f"cannot reach {self.api_url}: {reason}", SERVER)

    # -- paths --------------------------------------------------------------------------

    @staticmethod
    def xcom_entries_path(dag_id: str, dag_run_id: str, task_id: str) -> str:
        """``/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries``."""
        from xcomkit.modern._base import quote_id

        return (
            f"{API}/dags/{quote_id(dag_id)}/dagRuns/{quote_id(dag_run_id)}"
            f"/taskInstances/{quote_id(task_id)}/xcomEntries"
        )

    @classmethod
    def xcom_entry_path(cls, dag_id: str, dag_run_id: str, task_id: str, key: str) -> str:
        """The path of one XCom entry (the key may contain ``/``)."""
        from xcomkit.modern._base import quote_key

        return f"{cls.xcom_entries_path(dag_id, dag_run_id, task_id)}/{quote_key(key)}"


def login(api_url: str, username: str, password: str, *, transport: Any = None) -> str:
    """``POST {api_url}/auth/token``; return the access token.

    Raises:
        CliError: exit 3 when the server refuses the credentials, 5 without an answer.
    """
    with Remote(api_url, transport=transport) as remote:
        try:
            _, data = remote.request(
                "POST", "/auth/token", body={"username": username, "password": password}
            )
        except CliError as exc:
            if exc.exit_code in (USAGE, NOT_FOUND):
                exc.exit_code = AUTH
            raise
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise CliError(f"{api_url}/auth/token answered no access_token", SERVER)
    return str(data["access_token"])


#: A kept token this close to its expiry (seconds) is renewed before a command starts.
RENEW_AHEAD_S = 60


def connect(api_url: str | None, *, transport: Any = None, pool: int = 16) -> Remote:
    """A :class:`Remote` for ``api_url`` (default :data:`DEFAULT_API_URL`) with its kept token.

    With a kept password (``xcomkit login --keep-password``) a token that has expired, or
    expires within a minute, is renewed first, and one refused later (401, or 403
    ``Invalid JWT token``) is renewed then; the new token is kept.

    Args:
        pool: connections kept open (the number of concurrent requests).

    Raises:
        CliError: (exit 3) no kept token for that URL; it has expired and no password is
            kept; or the kept password was refused.
    """
    url = normalize_url(api_url or DEFAULT_API_URL)
    kept = load_token(url)
    if kept is None:
        raise CliError(f"not logged in to {url}; run: xcomkit login --api-url {url}", AUTH)
    username, password = str(kept.get("username")), kept.get("password")
    renew = None
    if isinstance(password, str):

        def renew() -> str:
            try:
                token = login(url, username, password, transport=transport)
            except CliError as exc:
                exc.message = (
                    f"the token for {url} (user {username}) has expired and renewing it "
                    f"failed: {exc.message}; run: xcomkit login --api-url {url}"
                )
                raise
            save_token(url, username, token, password)
            return token

    token = kept["token"]
    exp = token_expiry(token)
    clock = time.time()
    if exp is not None and exp <= clock + RENEW_AHEAD_S:
        if renew is not None:
            token = renew()
        elif exp <= clock:
            raise CliError(
                f"the token for {url} (user {username}) has expired; "
                f"run: xcomkit login --api-url {url} (add --keep-password to have it renewed)",
                AUTH,
            )
    return Remote(url, token, transport=transport, pool=pool, renew=renew)
