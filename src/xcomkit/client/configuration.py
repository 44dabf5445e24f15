"""Client settings, attribute-compatible with ``airflow_client.client.Configuration``.

Users set attributes on a :class:`Configuration` (``host``, ``access_token``, TLS and proxy
options, ``retries`` ...) and hand it to :class:`xcomkit.client.ApiClient`. The transport
(:mod:`xcomkit.client.rest`) reads the TLS, proxy, retry and pool settings once, when the
``ApiClient`` is created, as the official client does; ``host``, ``access_token`` and the
API keys are read on every request.
"""

from __future__ import annotations

import copy
import http.client
import logging
import multiprocessing
import ssl
import sys
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlparse
from urllib.request import getproxies

import urllib3

DEFAULT_HOST = "http://localhost"

JSON_SCHEMA_VALIDATION_KEYWORDS = {
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
}


class Configuration:
    """Settings of one API client.

    :param host: base URL of the server, e.g. ``"http://127.0.0.1:8080"`` (default
        ``"http://localhost"``; requests go to ``host + "/api/v2/..."``).
    :param access_token: a JWT from ``POST /auth/token``; sent as
        ``Authorization: Bearer <token>`` (Airflow's ``OAuth2PasswordBearer``/``HTTPBearer``).
    :param api_key, api_key_prefix: dicts keyed by security-scheme name, kept for
        compatibility (the XCom endpoints only use bearer tokens).
    :param username, password: kept for compatibility; Airflow 3 does not accept HTTP basic
        auth, so they are not sent (:meth:`get_basic_auth_token` builds the header value).
    :param verify_ssl: verify the server certificate (default True).
    :param ssl_ca_cert: path of a PEM bundle of CA certificates; ``ca_cert_data``: the same
        as PEM str or DER bytes.
    :param cert_file, key_file: client certificate and key paths for mTLS.
    :param assert_hostname: False disables the hostname check (None: urllib3's default).
    :param tls_server_name: SNI name to send.
    :param retries: ``int`` or ``urllib3.util.retry.Retry``; None uses urllib3's default
        (3 retries, no retry on read errors of non-idempotent methods).
    :param connection_pool_maxsize: keep-alive connections kept per host
        (default ``cpu_count() * 5``, as the official client).
    :param proxy: proxy URL (``http://``, ``https://`` or ``socks5://`` etc.); default from the
        environment (``HTTP(S)_PROXY``/``ALL_PROXY``); ``no_proxy``: comma-separated hosts
        that bypass it (default ``NO_PROXY``); ``proxy_headers``; ``proxy_ssl_context``.
    :param safe_chars_for_path_param: characters not percent-encoded in path parameters
        (default none, so a ``/`` in an XCom key is sent as ``%2F``).
    :param socket_options: passed to urllib3's connections.
    :param datetime_format: ``strftime`` format for datetime query parameters
        (default ``"%Y-%m-%dT%H:%M:%S.%f%z"``).
    """

    _default: ClassVar[Configuration | None] = None

    def __init__(
        self,
        host: str | None = None,
        api_key: dict[str, str] | None = None,
        api_key_prefix: dict[str, str] | None = None,
        username: str | None = None,
        password: str | None = None,
        access_token: str | None = None,
        server_index: int | None = None,
        server_variables: dict[str, str] | None = None,
        server_operation_index: dict[int, int] | None = None,
        server_operation_variables: dict[int, dict[str, str]] | None = None,
        ignore_operation_servers: bool = False,
        ssl_ca_cert: str | None = None,
        retries: int | urllib3.util.retry.Retry | None = None,
        ca_cert_data: str | bytes | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        verify_ssl: bool = True,
        assert_hostname: bool | None = None,
        tls_server_name: str | None = None,
        connection_pool_maxsize: int | None = None,
        proxy: str | None = None,
        no_proxy: str | None = None,
        proxy_headers: Any | None = None,
        proxy_ssl_context: ssl.SSLContext | None = None,
        safe_chars_for_path_param: str = "",
        client_side_validation: bool = True,
        socket_options: Any | None = None,
        datetime_format: str = "%Y-%m-%dT%H:%M:%S.%f%z",
        date_format: str = "%Y-%m-%d",
        *,
        debug: bool | None = None,
    ) -> None:
        self._base_path = DEFAULT_HOST if host is None else host
        self.server_index = 0 if server_index is None and host is None else server_index
        self.server_operation_index = server_operation_index or {}
        self.server_variables = server_variables or {}
        self.server_operation_variables = server_operation_variables or {}
        self.ignore_operation_servers = ignore_operation_servers
        self.temp_folder_path: str | None = None

        self.api_key: dict[str, str] = api_key or {}
        self.api_key_prefix: dict[str, str] = api_key_prefix or {}
        self.refresh_api_key_hook: Callable[[Configuration], None] | None = None
        self.username = username
        self.password = password
        self.access_token = access_token

        self.logger = {
            "package_logger": logging.getLogger("xcomkit.client"),
            "urllib3_logger": logging.getLogger("urllib3"),
        }
        self.logger_format = "%(asctime)s %(levelname)s %(message)s"
        self.logger_stream_handler: logging.Handler | None = None
        self.logger_file_handler: logging.FileHandler | None = None
        self.logger_file = None
        if debug is not None:
            self.debug = debug
        else:
            self.__debug = False

        self.verify_ssl = verify_ssl
        self.ssl_ca_cert = ssl_ca_cert
        self.ca_cert_data = ca_cert_data
        self.cert_file = cert_file
        self.key_file = key_file
        self.assert_hostname = assert_hostname
        self.tls_server_name = tls_server_name
        self.connection_pool_maxsize = (
            connection_pool_maxsize
            if connection_pool_maxsize is not None
            else multiprocessing.cpu_count() * 5
        )

        # urllib3 ignores proxy environment variables, so they are resolved here; a proxy
        # from the environment is re-resolved when ``host`` changes (its scheme picks it).
        self._proxy_from_env = proxy is None
        if proxy is None or no_proxy is None:
            env = getproxies()
            if proxy is None:
                proxy = self._env_proxy(env, self.host)
            if no_proxy is None:
                no_proxy = env.get("no")
        self._proxy = proxy
        self.no_proxy = no_proxy
        self.proxy_headers = proxy_headers
        self.proxy_ssl_context = proxy_ssl_context
        self.safe_chars_for_path_param = safe_chars_for_path_param
        self.retries = retries
        self.client_side_validation = client_side_validation
        self.socket_options = socket_options
        self.datetime_format = datetime_format
        self.date_format = date_format

    def __deepcopy__(self, memo: dict[int, Any]) -> Configuration:
        result = self.__class__.__new__(self.__class__)
        memo[id(self)] = result
        for name, value in self.__dict__.items():
            if name in ("logger", "logger_file_handler"):
                continue
            if name == "proxy_ssl_context":  # SSLContext cannot be copied
                setattr(result, name, value)
                continue
            setattr(result, name, copy.deepcopy(value, memo))
        result.logger = copy.copy(self.logger)
        result.logger_file = self.logger_file
        return result

    # -- the process-wide default --------------------------------------------------------

    @classmethod
    def set_default(cls, default: Configuration | None) -> None:
        """Make ``default`` the configuration :meth:`get_default` returns."""
        cls._default = default

    @classmethod
    def get_default(cls) -> Configuration:
        """The default configuration (created with default settings on first use)."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    @classmethod
    def get_default_copy(cls) -> Configuration:
        """Deprecated alias of :meth:`get_default` (kept for compatibility)."""
        return cls.get_default()

    # -- logging ---------------------------------------------------------------------------

    @property
    def logger_file(self) -> str | None:
        """Path of a log file; setting it attaches a file handler to the client loggers."""
        return self.__logger_file

    @logger_file.setter
    def logger_file(self, value: str | None) -> None:
        self.__logger_file = value
        if value:
            self.logger_file_handler = logging.FileHandler(value)
            self.logger_file_handler.setFormatter(self.logger_formatter)
            for logger in self.logger.values():
                logger.addHandler(self.logger_file_handler)

    @property
    def debug(self) -> bool:
        """True turns on DEBUG logging and ``http.client`` wire logging."""
        return self.__debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self.__debug = value
        level = logging.DEBUG if value else logging.WARNING
        for logger in self.logger.values():
            logger.setLevel(level)
        http.client.HTTPConnection.debuglevel = 1 if value else 0

    @property
    def logger_format(self) -> str:
        """Format string of the log handlers (updates ``logger_formatter``)."""
        return self.__logger_format

    @logger_format.setter
    def logger_format(self, value: str) -> None:
        self.__logger_format = value
        self.logger_formatter = logging.Formatter(value)

    # -- authentication -----------------------------------------------------------------

    def get_api_key_with_prefix(self, identifier: str, alias: str | None = None) -> str | None:
        """The API key for ``identifier`` (or ``alias``), with its prefix if one is set."""
        if self.refresh_api_key_hook is not None:
            self.refresh_api_key_hook(self)
        key = self.api_key.get(identifier, self.api_key.get(alias) if alias is not None else None)
        if not key:
            return None
        prefix = self.api_key_prefix.get(
            identifier, self.api_key_prefix.get(alias) if alias is not None else None
        )
        return f"{prefix} {key}" if prefix else key

    def get_basic_auth_token(self) -> str | None:
        """``"Basic <base64(username:password)>"`` (not sent: Airflow 3 has no basic auth)."""
        credentials = f"{self.username or ''}:{self.password or ''}"
        return urllib3.util.make_headers(basic_auth=credentials).get("authorization")

    def auth_settings(self) -> dict[str, dict[str, str]]:
        """Auth settings by security-scheme name, as the official client builds them.

        With ``access_token`` set: ``HTTPBearer`` and ``OAuth2PasswordBearer``, both putting
        ``Authorization: Bearer <access_token>`` into the headers; otherwise empty.
        """
        if self.access_token is None:
            return {}
        value = "Bearer " + self.access_token
        return {
            "HTTPBearer": {
                "type": "bearer",
                "in": "header",
                "key": "Authorization",
                "value": value,
            },
            "OAuth2PasswordBearer": {
                "type": "oauth2",
                "in": "header",
                "key": "Authorization",
                "value": value,
            },
        }

    def to_debug_report(self) -> str:
        """Platform, Python and package versions, for bug reports."""
        from xcomkit import __version__

        return (
            "Python SDK Debug Report:\n"
            f"OS: {sys.platform}\n"
            f"Python Version: {sys.version}\n"
            "Version of the API: 2\n"
            f"SDK Package Version: xcomkit {__version__} (airflow_client 3.3.2 compatible)"
        )

    # -- hosts ------------------------------------------------------------------------------

    def get_host_settings(self) -> list[dict[str, Any]]:
        """Server list of the API description: one server, ``http://localhost``."""
        return [{"url": DEFAULT_HOST, "description": "No description provided"}]

    def get_host_from_settings(
        self,
        index: int | None,
        variables: dict[str, str] | None = None,
        servers: list[dict[str, Any]] | None = None,
    ) -> str:
        """URL of server ``index`` with its ``{variables}`` filled in; None: ``host`` as set.

        :raises ValueError: ``index`` out of range, or a variable outside its enum.
        """
        if index is None:
            return self._base_path
        variables = variables or {}
        servers = self.get_host_settings() if servers is None else servers
        try:
            server = servers[index]
        except IndexError:
            raise ValueError(
                f"Invalid index {index} when selecting the host settings. "
                f"Must be less than {len(servers)}"
            ) from None
        url: str = server["url"]
        for name, variable in server.get("variables", {}).items():
            used = variables.get(name, variable["default_value"])
            allowed = variable.get("enum_values")
            if allowed and used not in allowed:
                raise ValueError(
                    f"The variable `{name}` in the host URL has invalid value {used}. "
                    f"Must be {allowed}."
                )
            url = url.replace("{" + name + "}", used)
        return url

    @property
    def host(self) -> str:
        """Base URL requests go to (default ``"http://localhost"``)."""
        return self.get_host_from_settings(self.server_index, variables=self.server_variables)

    @host.setter
    def host(self, value: str) -> None:
        self._base_path = value
        self.server_index = None
        if self._proxy_from_env:
            self._proxy = self._env_proxy(getproxies(), value)

    @staticmethod
    def _env_proxy(proxies: dict[str, str], host: str) -> str | None:
        return proxies.get(urlparse(host).scheme) or proxies.get("all")

    @property
    def proxy(self) -> str | None:
        """Proxy URL, or None for a direct connection."""
        return self._proxy

    @proxy.setter
    def proxy(self, value: str | None) -> None:
        self._proxy = value
        self._proxy_from_env = False
