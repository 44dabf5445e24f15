"""``ApiClient``: request building, sending and answer parsing for the API classes.

Public surface and semantics follow ``airflow_client.client.ApiClient`` 3.3.2, so code
that subclasses it or calls ``param_serialize``/``call_api``/``response_deserialize``
directly keeps working. Differences, each a fix of the official behaviour:

- per-call ``_headers`` override ``default_headers`` and auth headers (the official
  client lets ``default_headers`` and auth win, and writes into the caller's dict);
- a trailing ``/`` on ``Configuration.host`` is ignored (the official client sends ``//api``);
- leaving the ``with`` block closes the pooled connections.
"""

from __future__ import annotations

import datetime
import decimal
import json
import mimetypes
import os
import re
import tempfile
import uuid
from enum import Enum
from typing import Any, ClassVar
from urllib.parse import quote

from dateutil.parser import parse as parse_datetime
from pydantic import SecretStr

import xcomkit.client.models
from xcomkit import __version__, exact_json
from xcomkit.client import rest
from xcomkit.client.api_response import ApiResponse
from xcomkit.client.configuration import Configuration
from xcomkit.client.exceptions import (  # noqa: F401 (also importable from here, as officially)
    ApiException,
    ApiValueError,
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    ServiceException,
    UnauthorizedException,
)

# (method, url, headers, body, post_params), as returned by ``param_serialize``.
RequestSerialized = tuple[str, str, dict[str, str], Any | None, list[Any]]

_JSON_CONTENT_TYPE = re.compile(r"^application/(json|[\w!#$&.+\-^_]+\+json)\s*(;|$)", re.I)
_TEXT_CONTENT_TYPE = re.compile(r"^text/[a-z.+-]+\s*(;|$)", re.I)
_CHARSET = re.compile(r"charset=([a-zA-Z\-\d]+)[\s;]?")
_QUERY_PRIMITIVES = (str, int, bool, float)
_DELIMITERS = {"ssv": " ", "tsv": "\t", "pipes": "|", "csv": ","}


class ApiClient:
    """Sends requests for the API classes (e.g. :class:`xcomkit.client.XComApi`).

    :param configuration: a :class:`Configuration` (default: ``Configuration.get_default()``).
    :param header_name, header_value: one header added to every request.
    :param cookie: a ``Cookie`` header value added to every request.

    Use it as a context manager to close its pooled keep-alive connections at the end.
    """

    PRIMITIVE_TYPES = (float, bool, bytes, str, int)
    NATIVE_TYPES_MAPPING: ClassVar[dict[str, Any]] = {
        "int": int,
        "long": int,
        "float": float,
        "str": str,
        "bool": bool,
        "date": datetime.date,
        "datetime": datetime.datetime,
        "decimal": decimal.Decimal,
        "UUID": uuid.UUID,
        "object": object,
    }
    _default: ClassVar[ApiClient | None] = None

    def __init__(
        self,
        configuration: Configuration | None = None,
        header_name: str | None = None,
        header_value: str | None = None,
        cookie: str | None = None,
    ) -> None:
        if configuration is None:
            configuration = Configuration.get_default()
        self.configuration = configuration
        self.rest_client = rest.RESTClientObject(configuration)
        self.default_headers: dict[str, str] = {}
        if header_name is not None:
            self.default_headers[header_name] = header_value  # type: ignore[assignment]
        self.cookie = cookie
        self.user_agent = f"xcomkit/{__version__}/python"
        self.client_side_validation = configuration.client_side_validation

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (the client stays usable and reconnects)."""
        self.rest_client.close()

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header sent with every request."""
        return self.default_headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.default_headers["User-Agent"] = value

    def set_default_header(self, header_name: str, header_value: str) -> None:
        """Send ``header_name: header_value`` with every request of this client."""
        self.default_headers[header_name] = header_value

    @classmethod
    def get_default(cls) -> ApiClient:
        """The process-wide default client (created on first use), used by API classes
        built without a client."""
        if cls._default is None:
            cls._default = ApiClient()
        return cls._default

    @classmethod
    def set_default(cls, default: ApiClient | None) -> None:
        """Make ``default`` the client :meth:`get_default` returns."""
        cls._default = default

    # -- building a request -------------------------------------------------------------

    def param_serialize(
        self,
        method: str,
        resource_path: str,
        path_params: dict[str, Any] | None = None,
        query_params: list[tuple[str, Any]] | None = None,
        header_params: dict[str, Any] | None = None,
        body: Any = None,
        post_params: list[tuple[str, Any]] | None = None,
        files: dict[str, Any] | None = None,
        auth_settings: list[str] | None = None,
        collection_formats: dict[str, str] | None = None,
        _host: str | None = None,
        _request_auth: dict[str, Any] | None = None,
    ) -> RequestSerialized:
        """Build ``(method, url, headers, body, post_params)`` for :meth:`call_api`.

        Path parameters are percent-encoded (nothing kept but
        ``Configuration.safe_chars_for_path_param``); query values are encoded as the
        official client does (bools ``true``/``false``, ``multi`` lists repeated); the body
        is made JSON-ready with :meth:`sanitize_for_serialization`. Header precedence,
        lowest first: ``default_headers``, ``cookie``, auth (``_request_auth`` or the
        configuration's ``access_token``), then ``header_params``.
        """
        config = self.configuration
        headers: dict[str, Any] = dict(self.default_headers)
        if self.cookie:
            headers["Cookie"] = self.cookie
        queries = list(query_params) if query_params else []
        if path_params:
            safe = config.safe_chars_for_path_param
            pairs: Any = path_params.items()
            if not all(type(v) is str for v in path_params.values()):
                pairs = self.parameters_to_tuples(
                    self.sanitize_for_serialization(path_params), collection_formats
                )
            for key, value in pairs:
                resource_path = resource_path.replace("{" + key + "}", quote(str(value), safe=safe))
        if post_params or files:
            post_params = self.parameters_to_tuples(
                self.sanitize_for_serialization(post_params or []), collection_formats
            )
            if files:
                post_params.extend(self.files_parameters(files))
        self.update_params_for_auth(
            headers, queries, auth_settings, resource_path, method, body, _request_auth
        )
        if header_params:
            headers.update(header_params)
        if not all(type(v) is str for v in headers.values()):
            headers = dict(
                self.parameters_to_tuples(
                    self.sanitize_for_serialization(headers), collection_formats
                )
            )
        if body:
            body = self.sanitize_for_serialization(body)
        if _host is None or config.ignore_operation_servers:
            url = config.host.rstrip("/") + resource_path
        else:
            url = _host.rstrip("/") + resource_path
        if queries:
            if not all(type(v) in _QUERY_PRIMITIVES for _, v in queries):
                queries = self.sanitize_for_serialization(queries)
            url += "?" + self.parameters_to_url_query(queries, collection_formats)
        return method, url, headers, body, post_params or []

    def call_api(
        self,
        method: str,
        url: str,
        header_params: dict[str, str] | None = None,
        body: Any = None,
        post_params: list[tuple[str, Any]] | None = None,
        _request_timeout: float | tuple[float, float] | None = None,
    ) -> rest.RESTResponse:
        """Send a request built by :meth:`param_serialize`; the body is not read yet.

        :raises ApiException: status 0 on a TLS error.
        :raises urllib3.exceptions.HTTPError: connection failures after the retries.
        """
        return self.rest_client.request(
            method,
            url,
            headers=header_params,
            body=body,
            post_params=post_params,
            _request_timeout=_request_timeout,
        )

    # -- reading an answer --------------------------------------------------------------

    def response_deserialize(
        self,
        response_data: rest.RESTResponse,
        response_types_map: dict[str, Any] | None = None,
    ) -> ApiResponse[Any]:
        """Parse a read answer by ``response_types_map`` (status -> model name or class).

        :returns: :class:`ApiResponse` for 2xx answers.
        :raises ApiException: (the subclass for the status) for any other status, with
            ``body`` the text and ``data`` the parsed error model (or None).
        """
        if response_data.data is None:
            raise AssertionError(
                "RESTResponse.read() must be called before passing it to response_deserialize()"
            )
        types = response_types_map or {}
        status = response_data.status
        response_type = types.get(str(status))
        if response_type is None and str(status) not in types:
            response_type = types.get(str(status)[0] + "XX", types.get("default"))

        response_text: str | None = None
        return_data: Any = None
        try:
            if response_type in ("bytearray", "bytes"):
                return_data = response_data.data
            elif response_type == "file":
                return_data = self._deserialize_file(response_data)
            elif (
                200 <= status <= 299
                and (fast := _fast_json_parser(response_type)) is not None
                and response_data.headers.get("content-type") == "application/json"
            ):
                return_data = fast(response_data.data)
            elif response_type is not None:
                content_type = response_data.headers.get("content-type")
                encoding = "utf-8"
                if content_type is not None:
                    match = _CHARSET.search(content_type)
                    if match:
                        encoding = match.group(1)
                response_text = response_data.data.decode(encoding)
                return_data = self.deserialize(response_text, response_type, content_type)
        finally:
            if not 200 <= status <= 299:
                ApiException.from_response(
                    http_resp=response_data, body=response_text, data=return_data
                )
        return ApiResponse.model_construct(
            status_code=status,
            data=return_data,
            headers=dict(response_data.headers),
            raw_data=response_data.data,
        )

    def deserialize(self, response_text: str, response_type: Any, content_type: str | None) -> Any:
        """Parse ``response_text`` (JSON or text, by ``content_type``) into ``response_type``.

        :raises ApiException: status 0 for a content type that is neither JSON nor text.
        """
        if content_type is None:
            try:
                data = exact_json.loads(response_text)
            except ValueError:
                data = response_text
        elif content_type.startswith("application/json") or _JSON_CONTENT_TYPE.match(content_type):
            data = "" if response_text == "" else exact_json.loads(response_text)
        elif _TEXT_CONTENT_TYPE.match(content_type):
            data = response_text
        else:
            raise ApiException(status=0, reason=f"Unsupported content type: {content_type}")
        return self._deserialize(data, response_type)

    def _deserialize(self, data: Any, klass: Any) -> Any:
        if data is None:
            return None
        if isinstance(klass, str):
            if klass.startswith("Optional["):
                return self._deserialize(data, klass[len("Optional[") : -1])
            if klass.startswith("List["):
                sub = klass[len("List[") : -1]
                return [self._deserialize(item, sub) for item in data]
            if klass.startswith("Dict["):
                sub = klass[len("Dict[") : -1].split(", ", 1)[1]
                return {k: self._deserialize(v, sub) for k, v in data.items()}
            if klass in self.NATIVE_TYPES_MAPPING:
                klass = self.NATIVE_TYPES_MAPPING[klass]
            else:
                klass = getattr(xcomkit.client.models, klass)
        if klass in self.PRIMITIVE_TYPES:
            try:
                return klass(data)
            except UnicodeEncodeError:
                return str(data)
            except TypeError:
                return data
        if klass is object:
            return data
        if klass in (datetime.date, datetime.datetime):
            try:
                parsed = parse_datetime(data)
            except ValueError:
                raise ApiException(
                    status=0, reason=f"Failed to parse `{data}` as {klass.__name__} object"
                ) from None
            return parsed.date() if klass is datetime.date else parsed
        if klass is decimal.Decimal:
            return decimal.Decimal(data)
        if klass is uuid.UUID:
            return uuid.UUID(data)
        if isinstance(klass, type) and issubclass(klass, Enum):
            try:
                return klass(data)
            except ValueError:
                raise ApiException(
                    status=0, reason=f"Failed to parse `{data}` as `{klass}`"
                ) from None
        return klass.from_dict(data)

    def _deserialize_file(self, response: rest.RESTResponse) -> str:
        """Save the body under ``Configuration.temp_folder_path``; return the file path."""
        fd, path = tempfile.mkstemp(dir=self.configuration.temp_folder_path)
        os.close(fd)
        os.remove(path)
        disposition = response.headers.get("Content-Disposition")
        if disposition:
            match = re.search(r'filename=[\'"]?([^\'"\s]+)[\'"]?', disposition)
            if match:
                filename = os.path.basename(match.group(1))
                if filename not in ("", ".", ".."):
                    path = os.path.join(os.path.dirname(path), filename)
        with open(path, "wb") as fh:
            fh.write(response.data or b"")
        return path

    # -- serialization helpers ----------------------------------------------------------

    def sanitize_for_serialization(self, obj: Any) -> Any:
        """Make ``obj`` JSON-ready: models via ``to_dict()``, datetimes/dates as ISO 8601,
        ``Decimal``/``UUID`` as strings, enums as their values, ``SecretStr`` revealed;
        lists, tuples and dicts recursively; None and primitives as they are."""
        if obj is None or isinstance(obj, self.PRIMITIVE_TYPES):
            return obj
        if isinstance(obj, Enum):
            return obj.value
        if isinstance(obj, SecretStr):
            return obj.get_secret_value()
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, list):
            return [self.sanitize_for_serialization(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.sanitize_for_serialization(item) for item in obj)
        if isinstance(obj, (datetime.datetime, datetime.date)):
            return obj.isoformat()
        if isinstance(obj, decimal.Decimal):
            return str(obj)
        if isinstance(obj, dict):
            return {key: self.sanitize_for_serialization(val) for key, val in obj.items()}
        to_dict = getattr(obj, "to_dict", None)
        return self.sanitize_for_serialization(to_dict() if callable(to_dict) else obj.__dict__)

    def parameters_to_tuples(
        self, params: Any, collection_formats: dict[str, str] | None
    ) -> list[tuple[str, Any]]:
        """``params`` (dict or pairs) as pairs: bools lowercased, collections formatted
        (``multi`` repeats the key; ``csv``/``ssv``/``tsv``/``pipes`` join)."""
        formats = collection_formats or {}
        out: list[tuple[str, Any]] = []
        for key, value in params.items() if isinstance(params, dict) else params:
            if isinstance(value, bool):
                value = str(value).lower()
            fmt = formats.get(key)
            if fmt is None:
                out.append((key, value))
            elif fmt == "multi":
                out.extend((key, _plain(item)) for item in value)
            else:
                out.append((key, _DELIMITERS.get(fmt, ",").join(str(_plain(v)) for v in value)))
        return out

    def parameters_to_url_query(
        self, params: Any, collection_formats: dict[str, str] | None
    ) -> str:
        """``params`` as a query string (values percent-encoded, ``/`` kept), e.g.
        ``a=Hello%20World&b=123``."""
        formats = collection_formats or {}
        parts: list[str] = []
        for key, value in params.items() if isinstance(params, dict) else params:
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, dict):
                value = json.dumps(value)
            fmt = formats.get(key)
            if fmt is None:
                parts.append(f"{key}={quote(str(value))}")
            elif fmt == "multi":
                parts.extend(f"{key}={quote(str(_plain(item)))}" for item in value)
            else:
                joined = _DELIMITERS.get(fmt, ",").join(quote(str(_plain(v))) for v in value)
                parts.append(f"{key}={joined}")
        return "&".join(parts)

    def files_parameters(self, files: dict[str, Any]) -> list[tuple[str, tuple[str, bytes, str]]]:
        """Multipart file fields: a path (read from disk), bytes (named after the key), a
        ``(filename, bytes)`` pair, or a list of those."""
        params: list[tuple[str, tuple[str, bytes, str]]] = []
        for key, value in files.items():
            if isinstance(value, str):
                with open(value, "rb") as fh:
                    filename, filedata = os.path.basename(fh.name), fh.read()
            elif isinstance(value, bytes):
                filename, filedata = key, value
            elif isinstance(value, tuple):
                filename, filedata = value
            elif isinstance(value, list):
                for item in value:
                    params.extend(self.files_parameters({key: item}))
                continue
            else:
                raise ValueError("Unsupported file value")
            mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            params.append((key, (filename, filedata, mimetype)))
        return params

    def select_header_accept(self, accepts: list[str]) -> str | None:
        """The first JSON type of ``accepts``, else its first entry (None if empty)."""
        if not accepts:
            return None
        return next((a for a in accepts if "json" in a.lower()), accepts[0])

    def select_header_content_type(self, content_types: list[str]) -> str | None:
        """The first JSON type of ``content_types``, else its first entry (None if empty)."""
        if not content_types:
            return None
        return next((c for c in content_types if "json" in c.lower()), content_types[0])

    def update_params_for_auth(
        self,
        headers: dict[str, Any],
        queries: list[tuple[str, Any]],
        auth_settings: list[str] | None,
        resource_path: str,
        method: str,
        body: Any,
        request_auth: dict[str, Any] | None = None,
    ) -> None:
        """Put credentials into ``headers``/``queries``: ``request_auth`` if given, else each
        of ``auth_settings`` the configuration has (e.g. the bearer ``access_token``)."""
        if not auth_settings:
            return
        if request_auth:
            self._apply_auth_params(headers, queries, resource_path, method, body, request_auth)
            return
        configured = self.configuration.auth_settings()
        for name in auth_settings:
            setting = configured.get(name)
            if setting:
                self._apply_auth_params(headers, queries, resource_path, method, body, setting)

    def _apply_auth_params(
        self,
        headers: dict[str, Any],
        queries: list[tuple[str, Any]],
        resource_path: str,
        method: str,
        body: Any,
        auth_setting: dict[str, Any],
    ) -> None:
        where = auth_setting["in"]
        if where == "cookie":
            cookie = quote(str(auth_setting["value"]), safe="!#$%&'()*+-./:<=>?@[]^_`{|}~%+/=")
            previous = headers.get("Cookie")
            pair = f"{auth_setting['key']}={cookie}"
            headers["Cookie"] = f"{previous}; {pair}" if previous else pair
        elif where == "header":
            if auth_setting["type"] != "http-signature":
                headers[auth_setting["key"]] = auth_setting["value"]
        elif where == "query":
            queries.append((auth_setting["key"], auth_setting["value"]))
        else:
            raise ApiValueError("Authentication token must be in `query` or `header`")


def _fast_json_parser(response_type: Any) -> Any:
    """``_from_json_bytes`` of a model response type (a name or a class), else None."""
    klass = (
        getattr(xcomkit.client.models, response_type, None)
        if isinstance(response_type, str)
        else response_type
    )
    return getattr(klass, "_from_json_bytes", None)


def _plain(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value
