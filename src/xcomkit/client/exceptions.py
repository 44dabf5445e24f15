"""Exceptions raised by :mod:`xcomkit.client`, shaped like ``airflow_client.client.exceptions``.

Hierarchy (same names, bases and attributes as the official Airflow client)::

    OpenApiException(Exception)
      ApiTypeError(TypeError)      ApiValueError(ValueError)
      ApiKeyError(KeyError)        ApiAttributeError(AttributeError)
      ApiException                 an HTTP answer outside 2xx, or a transport-level failure
        BadRequestException 400    UnauthorizedException 401    ForbiddenException 403
        NotFoundException 404      ConflictException 409        UnprocessableEntityException 422
        ServiceException 5xx

An :class:`ApiException` carries ``status`` (int; 0 for client-side failures such as an
unsupported content type or a TLS error), ``reason`` (the HTTP reason phrase),
``body`` (the response text), ``data`` (the body parsed into the operation's error model:
``HTTPExceptionResponse`` for 400/401/403/404/409, ``HTTPValidationError`` for 422, else
``None``) and ``headers`` (the response headers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, NoReturn


def render_path(path_to_item: Sequence[Any]) -> str:
    """Render a path into nested data as ``['key'][0]``: ints as indexes, others as keys."""
    return "".join(f"[{p}]" if isinstance(p, int) else f"['{p}']" for p in path_to_item)


def _with_path(msg: str, path_to_item: Sequence[Any] | None) -> str:
    return f"{msg} at {render_path(path_to_item)}" if path_to_item else msg


class OpenApiException(Exception):
    """Base of every exception this client raises on purpose."""


class ApiTypeError(OpenApiException, TypeError):
    """A value had the wrong type; ``path_to_item`` locates it in nested data."""

    def __init__(
        self,
        msg: str,
        path_to_item: Sequence[Any] | None = None,
        valid_classes: tuple[type, ...] | None = None,
        key_type: bool | None = None,
    ) -> None:
        self.path_to_item = path_to_item
        self.valid_classes = valid_classes
        self.key_type = key_type
        super().__init__(_with_path(msg, path_to_item))


class ApiValueError(OpenApiException, ValueError):
    """A value was invalid; ``path_to_item`` locates it in nested data."""

    def __init__(self, msg: str, path_to_item: Sequence[Any] | None = None) -> None:
        self.path_to_item = path_to_item
        super().__init__(_with_path(msg, path_to_item))


class ApiAttributeError(OpenApiException, AttributeError):
    """An attribute reference or assignment failed."""

    def __init__(self, msg: str, path_to_item: Sequence[Any] | None = None) -> None:
        self.path_to_item = path_to_item
        super().__init__(_with_path(msg, path_to_item))


class ApiKeyError(OpenApiException, KeyError):
    """A key was missing; ``path_to_item`` locates it in nested data."""

    def __init__(self, msg: str, path_to_item: Sequence[Any] | None = None) -> None:
        self.path_to_item = path_to_item
        super().__init__(_with_path(msg, path_to_item))


class ApiException(OpenApiException):
    """An HTTP answer outside 2xx (or a client-side failure with ``status`` 0).

    ``http_resp`` is a :class:`xcomkit.client.rest.RESTResponse` (anything with ``status``,
    ``reason``, ``data`` bytes and ``headers``); ``status``/``reason``/``body`` given
    explicitly win over what it carries.
    """

    def __init__(
        self,
        status: int | None = None,
        reason: str | None = None,
        http_resp: Any = None,
        *,
        body: str | None = None,
        data: Any | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        self.data = data
        self.headers: Any = None
        if http_resp:
            if self.status is None:
                self.status = http_resp.status
            if self.reason is None:
                self.reason = http_resp.reason
            if self.body is None:
                with contextlib.suppress(Exception):
                    self.body = http_resp.data.decode("utf-8")
            self.headers = http_resp.headers

    @classmethod
    def from_response(cls, *, http_resp: Any, body: str | None, data: Any | None) -> NoReturn:
        """Raise the subclass that matches ``http_resp.status`` (this never returns).

        400, 401, 403, 404, 409 and 422 map to their named subclasses, 500-599 to
        :class:`ServiceException`, anything else to :class:`ApiException` itself; the
        official client's ``from_response`` raises the same way.
        """
        exc_class = _BY_STATUS.get(http_resp.status)
        if exc_class is None:
            exc_class = ServiceException if 500 <= http_resp.status <= 599 else ApiException
        raise exc_class(http_resp=http_resp, body=body, data=data)

    def __str__(self) -> str:
        text = f"({self.status})\nReason: {self.reason}\n"
        if self.headers:
            text += f"HTTP response headers: {self.headers}\n"
        if self.body:
            text += f"HTTP response body: {self.body}\n"
        if self.data:
            text += f"HTTP response data: {self.data}\n"
        return text


class BadRequestException(ApiException):
    """HTTP 400."""


class NotFoundException(ApiException):
    """HTTP 404."""


class UnauthorizedException(ApiException):
    """HTTP 401: no credentials, or not a Bearer token."""


class ForbiddenException(ApiException):
    """HTTP 403: an invalid token, or a role that may not do this."""


class ServiceException(ApiException):
    """HTTP 5xx."""


class ConflictException(ApiException):
    """HTTP 409 Conflict (e.g. creating an XCom whose key already exists)."""


class UnprocessableEntityException(ApiException):
    """HTTP 422 Unprocessable Entity (request validation failed)."""


_BY_STATUS: dict[int, type[ApiException]] = {
    400: BadRequestException,
    401: UnauthorizedException,
    403: ForbiddenException,
    404: NotFoundException,
    409: ConflictException,
    422: UnprocessableEntityException,
}
