"""HTTP transport of :mod:`xcomkit.client`: urllib3, as the official Airflow client uses.

urllib3 keeps the behaviour users of ``airflow_client.client`` rely on (``retries`` as a
``urllib3.Retry``, TLS options, HTTP/SOCKS proxies, ``*_without_preload_content``
returning a ``urllib3.HTTPResponse``, the header type shown in ``str(ApiException)``) and is
lean per request. One ``PoolManager`` per ``ApiClient`` keeps connections alive and
reuses them.
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
from typing import Any
from urllib.parse import urlparse

import urllib3

from xcomkit.client.exceptions import ApiException, ApiValueError

SUPPORTED_SOCKS_PROXIES = {"socks5", "socks5h", "socks4", "socks4a"}
RESTResponseType = urllib3.HTTPResponse

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "OPTIONS", "DELETE"})
_METHODS = _BODY_METHODS | {"GET", "HEAD"}


def is_socks_proxy_url(url: str | None) -> bool:
    """True if ``url`` uses a SOCKS scheme (``socks5://``, ``socks4a://`` ...)."""
    if not url or "://" not in url:
        return False
    return url.split("://", 1)[0].lower() in SUPPORTED_SOCKS_PROXIES


def contenttype_matches(contenttype: str, maintype: str, subtype: str) -> bool:
    """True if ``contenttype`` is ``maintype/subtype`` (or ``maintype/x+subtype``), any params."""
    pattern = rf"{re.escape(maintype)}/(?:[^+;]+\+)?{re.escape(subtype)}(?:[ \t]*;.*)?"
    return re.fullmatch(pattern, contenttype, re.IGNORECASE) is not None


def should_bypass_proxies(url: str, no_proxy: str) -> bool:
    """True if ``url``'s host matches a rule of the comma-separated ``no_proxy`` list.

    Rules: ``*``; a host name (also matching its subdomains, leading dot optional);
    ``host:port``; an IP address or CIDR network.
    """
    parsed = urlparse(url)
    if not parsed.hostname:
        return True
    host = parsed.hostname.lower()
    host_and_port = parsed.netloc.lower()
    try:
        host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        host_ip = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if host_ip is not None:
            try:
                if host_ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
        entry = entry.lstrip(".")
        for candidate in (host, host_and_port):
            if candidate == entry or candidate.endswith("." + entry):
                return True
    return False


class RESTResponse:
    """One HTTP answer: ``status``, ``reason``, ``headers`` and (after :meth:`read`) ``data``.

    ``response`` is the underlying ``urllib3.HTTPResponse``.
    """

    __slots__ = ("data", "reason", "response", "status")

    def __init__(self, resp: urllib3.BaseHTTPResponse) -> None:
        self.response = resp
        self.status: int = resp.status
        self.reason: str | None = resp.reason
        self.data: bytes | None = None

    def read(self) -> bytes:
        """The whole body as bytes (read once; the connection then returns to the pool)."""
        if self.data is None:
            self.data = self.response.data
        return self.data

    @property
    def headers(self) -> urllib3.HTTPHeaderDict:
        """Response headers (case-insensitive ``urllib3.HTTPHeaderDict``)."""
        return self.response.headers

    def getheaders(self) -> urllib3.HTTPHeaderDict:
        """Response headers; prefer :attr:`headers`."""
        return self.response.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        """One response header; prefer ``headers.get()``."""
        return self.response.headers.get(name, default)


class RESTClientObject:
    """A urllib3 pool manager built from a :class:`~xcomkit.client.Configuration`.

    Reads ``verify_ssl``, ``ssl_ca_cert``, ``ca_cert_data``, ``cert_file``, ``key_file``,
    ``assert_hostname``, ``tls_server_name``, ``retries``, ``socket_options``,
    ``connection_pool_maxsize``, ``proxy``, ``no_proxy``, ``proxy_headers`` and
    ``proxy_ssl_context`` once, here.
    """

    def __init__(self, configuration: Any) -> None:
        pool_args: dict[str, Any] = {
            "cert_reqs": ssl.CERT_REQUIRED if configuration.verify_ssl else ssl.CERT_NONE,
            "ca_certs": configuration.ssl_ca_cert,
            "cert_file": configuration.cert_file,
            "key_file": configuration.key_file,
            "ca_cert_data": configuration.ca_cert_data,
        }
        if configuration.assert_hostname is not None:
            pool_args["assert_hostname"] = configuration.assert_hostname
        if configuration.retries is not None:
            pool_args["retries"] = configuration.retries
        if configuration.tls_server_name:
            pool_args["server_hostname"] = configuration.tls_server_name
        if configuration.socket_options is not None:
            pool_args["socket_options"] = configuration.socket_options
        if configuration.connection_pool_maxsize is not None:
            pool_args["maxsize"] = configuration.connection_pool_maxsize

        self.pool_manager: urllib3.PoolManager
        proxy = configuration.proxy
        if proxy and not should_bypass_proxies(configuration.host, configuration.no_proxy or ""):
            pool_args["proxy_url"] = proxy
            if is_socks_proxy_url(proxy):
                from urllib3.contrib.socks import SOCKSProxyManager

                pool_args["headers"] = configuration.proxy_headers
                self.pool_manager = SOCKSProxyManager(**pool_args)
            else:
                pool_args["proxy_headers"] = configuration.proxy_headers
                if configuration.proxy_ssl_context is not None:
                    pool_args["proxy_ssl_context"] = configuration.proxy_ssl_context
                self.pool_manager = urllib3.ProxyManager(**pool_args)
        else:
            self.pool_manager = urllib3.PoolManager(**pool_args)

    def close(self) -> None:
        """Close all pooled connections (new ones are opened if the client is used again)."""
        self.pool_manager.clear()

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: float | tuple[float, float] | None = None,
    ) -> RESTResponse:
        """Send one request; the body is not read yet (call ``read()`` on the result).

        :param body: for JSON (no ``Content-Type`` or ``application/json``): any JSON-able
            value, serialized with ``json.dumps``; for other types: ``str`` or ``bytes``.
        :param post_params: form fields for ``application/x-www-form-urlencoded`` and
            ``multipart/form-data``.
        :param _request_timeout: a number (total seconds) or ``(connect, read)`` seconds.
        :raises ApiValueError: both ``body`` and ``post_params`` given.
        :raises ApiException: status 0, on a TLS error or a body that fits no content type.
        :raises urllib3.exceptions.HTTPError: other transport failures (e.g. ``MaxRetryError``).
        """
        method = method.upper()
        if method not in _METHODS:
            raise ApiValueError(f"Unsupported HTTP method: {method}")
        if post_params and body:
            raise ApiValueError("body parameter cannot be used with post_params parameter.")
        headers = headers or {}

        timeout = None
        if _request_timeout:
            if isinstance(_request_timeout, (int, float)):
                timeout = urllib3.Timeout(total=_request_timeout)
            elif isinstance(_request_timeout, tuple) and len(_request_timeout) == 2:
                timeout = urllib3.Timeout(connect=_request_timeout[0], read=_request_timeout[1])

        pool = self.pool_manager
        try:
            if method not in _BODY_METHODS:
                resp = pool.urlopen(
                    method, url, headers=headers, timeout=timeout, preload_content=False
                )
                return RESTResponse(resp)
            content_type = headers.get("Content-Type")
            if not content_type or contenttype_matches(content_type, "application", "json"):
                data = None if body is None else json.dumps(body)
                resp = pool.urlopen(
                    method, url, body=data, headers=headers, timeout=timeout, preload_content=False
                )
            elif contenttype_matches(content_type, "application", "x-www-form-urlencoded"):
                resp = pool.request(
                    method,
                    url,
                    fields=post_params or {},
                    encode_multipart=False,
                    headers=headers,
                    timeout=timeout,
                    preload_content=False,
                )
            elif contenttype_matches(content_type, "multipart", "form-data"):
                # urllib3 writes the Content-Type with the boundary itself.
                headers = {k: v for k, v in headers.items() if k != "Content-Type"}
                fields = [
                    (k, json.dumps(v) if isinstance(v, dict) else v) for k, v in post_params or []
                ]
                resp = pool.request(
                    method,
                    url,
                    fields=fields,
                    encode_multipart=True,
                    headers=headers,
                    timeout=timeout,
                    preload_content=False,
                )
            elif isinstance(body, (str, bytes)):
                resp = pool.urlopen(
                    method, url, body=body, headers=headers, timeout=timeout, preload_content=False
                )
            elif content_type.startswith("text/") and isinstance(body, bool):
                resp = pool.urlopen(
                    method,
                    url,
                    body="true" if body else "false",
                    headers=headers,
                    timeout=timeout,
                    preload_content=False,
                )
            else:
                raise ApiException(
                    status=0,
                    reason="Cannot prepare a request message for provided arguments. "
                    "Please check that your arguments match declared content type.",
                )
        except urllib3.exceptions.SSLError as exc:
            raise ApiException(status=0, reason=f"{type(exc).__name__}\n{exc}") from exc
        return RESTResponse(resp)
