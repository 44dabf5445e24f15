"""Exceptions raised by :class:`~xcomkit.XComClient` and :class:`~xcomkit.AsyncXComClient`.

One small hierarchy, rooted at :class:`XComError`. Every error the server answered carries
the HTTP ``status`` and the ``detail`` of Airflow's error body (``{"detail": ...}``): a
string for most errors, a list of pydantic error objects for 422.

    XComError
    ├── XComBadRequest        400
    ├── XComAuthError         401, 403 (no/invalid/expired token, or not allowed)
    ├── XComNotFound          404
    ├── XComConflict          409 (create of a key that exists)
    ├── XComValidationError   422 (``errors``: the list of validation errors)
    ├── XComServerError       5xx
    └── XComConnectionError   no HTTP answer (refused, reset, timed out); status is None

Any other status (e.g. 429 once retries are used up) raises plain :class:`XComError`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "XComAuthError",
    "XComBadRequest",
    "XComConflict",
    "XComConnectionError",
    "XComError",
    "XComNotFound",
    "XComServerError",
    "XComValidationError",
]


class XComError(Exception):
    """Base class of every error the XCom clients raise.

    Attributes:
        status: the HTTP status code the server answered, or ``None`` when there was no
            answer (:class:`XComConnectionError`).
        detail: Airflow's ``detail`` field: usually a ``str``; for 422 a ``list`` of
            ``{"type", "loc", "msg", "input", ...}`` dicts; the raw body text when the body
            was not Airflow's JSON error shape; ``None`` when there was no body.
        method: the HTTP method of the failed request (``"GET"``, ``"POST"``, ...).
        url: the URL of the failed request (no credentials in it).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.method = method
        self.url = url


class XComBadRequest(XComError):
    """400: the server could not act on the request (e.g. a value it cannot serialise)."""


class XComAuthError(XComError):
    """401 or 403: not authenticated, an invalid or expired token, or a role not allowed.

    Airflow answers 401 ``"Not authenticated"`` without a token, 403 ``"Invalid JWT token"``
    for a malformed, forged or expired one and 403 ``"Forbidden"`` when the user's role may
    not do this. Also raised when ``POST /auth/token`` refuses the username and password.
    """


class XComNotFound(XComError):
    """404: no such XCom entry, DAG, DAG run or task."""


class XComConflict(XComError):
    """409: an XCom entry with this key already exists for the task instance."""


class XComValidationError(XComError):
    """422: the request did not validate (FastAPI/pydantic error list).

    Attributes:
        errors: the list of validation errors, each a dict with at least ``"type"``,
            ``"loc"`` and ``"msg"``; the same object as ``detail`` when it is a list.
    """

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The validation errors (``detail`` when it is a list, else ``[]``)."""
        return self.detail if isinstance(self.detail, list) else []


class XComServerError(XComError):
    """5xx: the server failed (after retries, for the statuses that are retried)."""


class XComConnectionError(XComError):
    """No HTTP answer: the connection was refused, reset or timed out (after retries)."""


_BY_STATUS: dict[int, type[XComError]] = {
    400: XComBadRequest,
    401: XComAuthError,
    403: XComAuthError,
    404: XComNotFound,
    409: XComConflict,
    422: XComValidationError,
}


def error_class_for(status: int) -> type[XComError]:
    """The exception class for an HTTP error ``status`` (>= 400)."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return XComServerError
    return XComError
