"""xcomkit.client's configuration, exceptions, models and ApiClient helpers, next to the
official ``airflow_client.client`` (no server needed).

Tests taking ``pkg`` run with both packages: same behaviour. Tests on one package pin a
deliberate difference (an official bug fixed here).
"""

from __future__ import annotations

import copy
import datetime
import importlib
import inspect
import json
import logging
import ssl
import types
from typing import Any

import airflow_client.client as official_pkg
import pydantic
import pytest
import urllib3

import xcomkit.client as client_pkg

PACKAGES = {"xcomkit": client_pkg, "official": official_pkg}

ENTRY = {
    "dag_display_name": "XCom Demo",
    "dag_id": "xcom_demo",
    "key": "k",
    "logical_date": "2025-01-01T00:00:00Z",
    "map_index": -1,
    "run_after": "2025-01-01T00:00:00+00:00",
    "run_id": "run_1",
    "task_display_name": "extract",
    "task_id": "extract",
    "timestamp": "2025-01-01T00:00:01.500000+02:00",
}


@pytest.fixture(params=list(PACKAGES))
def pkg(request: pytest.FixtureRequest) -> types.ModuleType:
    return PACKAGES[request.param]


def submodule(pkg: types.ModuleType, name: str) -> types.ModuleType:
    return importlib.import_module(f"{pkg.__name__}.{name}")


# -- the public surface -------------------------------------------------------------------

MODULES = [
    "configuration",
    "api_client",
    "api_response",
    "rest",
    "exceptions",
    "api.x_com_api",
    "models.x_com_create_body",
    "models.x_com_update_body",
    "models.x_com_response",
    "models.x_com_response_native",
    "models.x_com_response_string",
    "models.x_com_collection_response",
    "models.response_get_xcom_entry",
    "models.http_validation_error",
    "models.validation_error",
    "models.location_inner",
    "models.http_exception_response",
    "models.detail",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_paths_and_names_match_the_official_ones(module: str) -> None:
    ours = submodule(client_pkg, module)
    theirs = submodule(official_pkg, module)
    public = {
        name
        for name, value in vars(theirs).items()
        if not name.startswith("_")
        and isinstance(value, type)
        and value.__module__.startswith("airflow_client")
        and not name.endswith("AuthSetting")
        and name not in {"AuthSettings", "HostSetting", "HostSettingVariable"}
    }
    assert public <= set(vars(ours)), public - set(vars(ours))


def test_package_exports() -> None:
    for name in official_pkg.__all__:
        if name in {"XComApi", "ApiClient", "ApiResponse", "Configuration"} or (
            name.startswith("Api") or name == "OpenApiException"
        ):
            assert hasattr(client_pkg, name), name
    for name in ["ConflictException", "NotFoundException", "XComCreateBody", "Detail"]:
        assert hasattr(client_pkg, name)
    assert client_pkg.rest.ApiException is client_pkg.ApiException


XCOM_METHODS = [
    f"{op}{variant}"
    for op in [
        "create_xcom_entry",
        "get_xcom_entries",
        "get_xcom_entry",
        "update_xcom_entry",
        "delete_xcom_entry",
    ]
    for variant in ["", "_with_http_info", "_without_preload_content"]
]


@pytest.mark.parametrize("method", XCOM_METHODS)
def test_xcom_api_signatures_match(method: str) -> None:
    ours = inspect.signature(getattr(client_pkg.XComApi, method)).parameters
    theirs = inspect.signature(getattr(official_pkg.XComApi, method)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]
    assert getattr(client_pkg.XComApi, method).__doc__


# -- Configuration ------------------------------------------------------------------------


def test_configuration_defaults(pkg: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    conf = pkg.Configuration()
    assert conf.access_token is None
    assert (conf.username, conf.password) == (None, None)
    assert conf.verify_ssl is True
    assert conf.ssl_ca_cert is None and conf.cert_file is None and conf.key_file is None
    assert conf.assert_hostname is None
    assert conf.retries is None
    assert conf.proxy is None
    assert conf.connection_pool_maxsize == __import__("multiprocessing").cpu_count() * 5
    assert conf.safe_chars_for_path_param == ""
    assert conf.datetime_format == "%Y-%m-%dT%H:%M:%S.%f%z"
    assert conf.api_key == {} and conf.api_key_prefix == {}
    assert conf.auth_settings() == {}
    assert conf.debug is False


def test_default_host_is_localhost() -> None:
    assert client_pkg.Configuration().host == "http://localhost"
    assert official_pkg.Configuration().host == ""  # official bug: documented default is localhost


def test_host_and_token(pkg: types.ModuleType) -> None:
    conf = pkg.Configuration(host="http://a:1", access_token="tok")
    assert conf.host == "http://a:1"
    conf.host = "https://b"
    assert conf.host == "https://b"
    bearer = {"type": "bearer", "in": "header", "key": "Authorization", "value": "Bearer tok"}
    assert conf.auth_settings() == {
        "HTTPBearer": bearer,
        "OAuth2PasswordBearer": {**bearer, "type": "oauth2"},
    }


def test_get_default_and_set_default(pkg: types.ModuleType) -> None:
    previous = pkg.Configuration._default
    try:
        pkg.Configuration.set_default(None)
        first = pkg.Configuration.get_default()
        assert pkg.Configuration.get_default() is first
        mine = pkg.Configuration(host="http://mine")
        pkg.Configuration.set_default(mine)
        assert pkg.Configuration.get_default() is mine
        assert pkg.Configuration.get_default_copy() is mine
        assert pkg.ApiClient().configuration is mine
    finally:
        pkg.Configuration.set_default(previous)


def test_api_keys_and_basic_auth(pkg: types.ModuleType) -> None:
    conf = pkg.Configuration(api_key={"k": "secret"}, api_key_prefix={"k": "Token"})
    assert conf.get_api_key_with_prefix("k") == "Token secret"
    assert conf.get_api_key_with_prefix("other", alias="k") == "Token secret"
    assert conf.get_api_key_with_prefix("missing") is None
    conf.refresh_api_key_hook = lambda c: c.api_key.update(k="fresh")
    assert conf.get_api_key_with_prefix("k") == "Token fresh"
    conf.username, conf.password = "u", "p"
    assert conf.get_basic_auth_token() == "Basic dTpw"


def test_deepcopy_and_debug(pkg: types.ModuleType) -> None:
    conf = pkg.Configuration(host="http://a", access_token="t")
    clone = copy.deepcopy(conf)
    assert (clone.host, clone.access_token) == ("http://a", "t")
    clone.access_token = "other"
    assert conf.access_token == "t"
    try:
        conf.debug = True
        assert conf.logger["urllib3_logger"].level == logging.DEBUG
    finally:
        conf.debug = False
    assert conf.logger["urllib3_logger"].level == logging.WARNING


def test_transport_settings_reach_urllib3(pkg: types.ModuleType) -> None:
    retry = urllib3.Retry(total=7)
    conf = pkg.Configuration(host="https://example.invalid", retries=retry, verify_ssl=False)
    conf.connection_pool_maxsize = 3
    conf.proxy = None
    manager = pkg.ApiClient(conf).rest_client.pool_manager
    assert type(manager) is urllib3.PoolManager
    assert manager.connection_pool_kw["retries"] is retry
    assert manager.connection_pool_kw["maxsize"] == 3
    assert manager.connection_pool_kw["cert_reqs"] == ssl.CERT_NONE


def test_proxy_and_no_proxy(pkg: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "skip.invalid,10.0.0.0/8")
    conf = pkg.Configuration(host="https://api.invalid")
    assert conf.proxy == "http://proxy.invalid:3128"
    manager = pkg.ApiClient(conf).rest_client.pool_manager
    assert type(manager) is urllib3.ProxyManager
    for host in ("https://skip.invalid", "https://sub.skip.invalid", "https://10.1.2.3"):
        conf.host = host
        assert type(pkg.ApiClient(conf).rest_client.pool_manager) is urllib3.PoolManager
    conf.host = "http://plain.invalid"  # no HTTP_PROXY: the https proxy does not apply
    assert conf.proxy is None


# -- exceptions ---------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, data: bytes = b'{"detail":"x"}') -> None:
        self.status = status
        self.reason = "Why"
        self.data = data
        self.headers = urllib3.HTTPHeaderDict({"content-type": "application/json"})


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "BadRequestException"),
        (401, "UnauthorizedException"),
        (403, "ForbiddenException"),
        (404, "NotFoundException"),
        (409, "ConflictException"),
        (422, "UnprocessableEntityException"),
        (500, "ServiceException"),
        (599, "ServiceException"),
        (418, "ApiException"),
        (302, "ApiException"),
    ],
)
def test_from_response_raises_by_status(pkg: types.ModuleType, status: int, name: str) -> None:
    errors = submodule(pkg, "exceptions")
    with pytest.raises(errors.ApiException) as excinfo:
        errors.ApiException.from_response(http_resp=FakeResponse(status), body=None, data=None)
    exc = excinfo.value
    assert type(exc) is getattr(errors, name)
    assert (exc.status, exc.reason, exc.body, exc.data) == (status, "Why", '{"detail":"x"}', None)
    assert exc.headers["content-type"] == "application/json"


def test_exception_str(pkg: types.ModuleType) -> None:
    errors = submodule(pkg, "exceptions")
    assert str(errors.ApiException(status=0, reason="boom")) == "(0)\nReason: boom\n"
    exc = errors.NotFoundException(http_resp=FakeResponse(404), data={"a": 1})
    assert str(exc) == (
        "(404)\nReason: Why\n"
        "HTTP response headers: HTTPHeaderDict({'content-type': 'application/json'})\n"
        'HTTP response body: {"detail":"x"}\n'
        "HTTP response data: {'a': 1}\n"
    )
    undecodable = errors.ApiException(http_resp=FakeResponse(500, data=b"\xff"))
    assert undecodable.body is None


def test_exception_hierarchy_and_paths(pkg: types.ModuleType) -> None:
    errors = submodule(pkg, "exceptions")
    assert issubclass(errors.ApiTypeError, TypeError)
    assert issubclass(errors.ApiValueError, ValueError)
    assert issubclass(errors.ApiKeyError, KeyError)
    assert issubclass(errors.ApiAttributeError, AttributeError)
    for name in ("ApiTypeError", "ApiValueError", "ApiKeyError", "ApiAttributeError"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.OpenApiException)
        exc = cls("bad", path_to_item=["a", 0, "b"])
        assert exc.path_to_item == ["a", 0, "b"]
        assert "bad at ['a'][0]['b']" in str(exc)
    type_error = errors.ApiTypeError("t", valid_classes=(int,), key_type=True)
    assert (type_error.valid_classes, type_error.key_type) == ((int,), True)


# -- models ------------------------------------------------------------------------------

MODEL_SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("XComCreateBody", {"key": "k", "value": {"a": [1, None]}, "map_index": 2}),
    ("XComCreateBody", {"key": "k", "value": None}),
    ("XComCreateBody", {"key": "k", "value": 1, "map_index": None}),
    ("XComUpdateBody", {"value": [1, "x"], "map_index": 0}),
    ("XComUpdateBody", {"value": None}),
    ("XComResponse", ENTRY),
    ("XComResponse", {**ENTRY, "logical_date": None}),
    ("XComResponseNative", {**ENTRY, "value": {"a": [1.5, None, True]}}),
    ("XComResponseNative", {**ENTRY, "value": None}),
    ("XComResponseString", {**ENTRY, "value": "{'a': 1}"}),
    ("XComResponseString", {**ENTRY, "value": None}),
    ("XComCollectionResponse", {"total_entries": 2, "xcom_entries": [ENTRY, ENTRY]}),
    ("XComCollectionResponse", {"total_entries": 0, "xcom_entries": []}),
    ("HTTPExceptionResponse", {"detail": "Not found"}),
    ("HTTPExceptionResponse", {"detail": {"reason": "x", "statement": None}}),
    ("HTTPValidationError", {"detail": [{"type": "missing", "loc": ["body", 0], "msg": "m"}]}),
    (
        "HTTPValidationError",
        {
            "detail": [
                {"type": "t", "loc": ["query", "x"], "msg": "m", "input": None, "ctx": {"a": 1}}
            ]
        },
    ),
    ("HTTPValidationError", {}),
    ("ResponseGetXcomEntry", {**ENTRY, "value": "123"}),
]


@pytest.mark.parametrize(("name", "sample"), MODEL_SAMPLES)
def test_models_convert_like_the_official_ones(name: str, sample: dict[str, Any]) -> None:
    ours = getattr(client_pkg, name).from_dict(sample)
    theirs = getattr(official_pkg, name).from_dict(sample)
    assert ours.to_dict() == theirs.to_dict()
    assert json.loads(ours.to_json()) == json.loads(theirs.to_json())
    again = getattr(client_pkg, name).from_json(ours.to_json())
    assert again.to_dict() == ours.to_dict()
    if name != "ResponseGetXcomEntry":
        assert getattr(client_pkg, name).from_dict(None) is None
    assert ours.to_str()


def test_body_models(pkg: types.ModuleType) -> None:
    body = pkg.XComCreateBody(key="k", value=None)
    assert body.map_index == -1
    assert body.to_dict() == {"key": "k", "map_index": -1, "value": None}
    assert pkg.XComCreateBody.from_dict({"key": "k", "map_index": None}).map_index == -1
    with pytest.raises(pydantic.ValidationError):
        pkg.XComCreateBody(key="k")  # value is required, even if None
    with pytest.raises(pydantic.ValidationError):
        pkg.XComCreateBody(key=1, value=1)  # StrictStr
    with pytest.raises(pydantic.ValidationError):
        pkg.XComUpdateBody(value=1, map_index="1")  # StrictInt
    update = pkg.XComUpdateBody(value=1)
    update.value = {"x": 1}  # validate_assignment
    assert update.to_dict() == {"map_index": -1, "value": {"x": 1}}


def test_response_models(pkg: types.ModuleType) -> None:
    native = pkg.XComResponseNative.from_dict({**ENTRY, "value": [1]})
    assert native.timestamp == datetime.datetime(
        2025, 1, 1, 0, 0, 1, 500000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert native.to_dict()["timestamp"] == native.timestamp
    assert (
        "logical_date" not in pkg.XComResponse.from_dict({**ENTRY, "logical_date": None}).to_dict()
    )
    with pytest.raises(pydantic.ValidationError):
        pkg.XComResponseString.from_dict({**ENTRY, "value": 1})
    with pytest.raises(pydantic.ValidationError):
        pkg.XComResponse.from_dict({**ENTRY, "map_index": "1"})


def test_any_of_wrappers(pkg: types.ModuleType) -> None:
    assert pkg.Detail("x").actual_instance == "x"
    assert pkg.Detail(actual_instance={"a": 1}).to_dict() == {"a": 1}
    assert pkg.Detail.from_json('"x"').to_json() == '"x"'
    location_inner = submodule(pkg, "models.location_inner").LocationInner
    assert location_inner(3).to_dict() == 3
    assert location_inner("body").to_dict() == "body"
    for bad in (pkg.Detail, location_inner):
        with pytest.raises(ValueError):
            bad(1.5)
        with pytest.raises(ValueError):
            bad("a", "b")
    wrapped = pkg.ResponseGetXcomEntry.from_dict({**ENTRY, "value": "s"})
    assert type(wrapped.actual_instance) is pkg.XComResponseNative
    assert wrapped.to_dict()["value"] == "s"
    assert pkg.ResponseGetXcomEntry().to_json() == "null"


def test_response_get_xcom_entry_extras() -> None:
    string = client_pkg.ResponseGetXcomEntry.from_dict_stringified({**ENTRY, "value": "s"})
    assert type(string.actual_instance) is client_pkg.XComResponseString
    assert (string.value, string.key) == ("s", "k")
    with pytest.raises(AttributeError):
        _ = string.no_such_field


# -- ApiClient and ApiResponse ------------------------------------------------------------


def test_api_client_headers(pkg: types.ModuleType) -> None:
    with pkg.ApiClient(pkg.Configuration(), header_name="X-A", header_value="1") as api_client:
        assert api_client.default_headers["X-A"] == "1"
        api_client.user_agent = "me/1"
        assert api_client.default_headers["User-Agent"] == "me/1"
        api_client.set_default_header("X-B", "2")
        assert api_client.default_headers["X-B"] == "2"
    assert pkg.XComApi(api_client).api_client is api_client


def test_api_client_default(pkg: types.ModuleType) -> None:
    previous = pkg.ApiClient._default
    try:
        pkg.ApiClient.set_default(None)
        default = pkg.ApiClient.get_default()
        assert pkg.XComApi().api_client is default
    finally:
        pkg.ApiClient.set_default(previous)


def test_param_serialize_matches(pkg: types.ModuleType) -> None:
    conf = pkg.Configuration(host="http://h:1", access_token="t")
    api_client = pkg.ApiClient(conf, cookie="c=1")
    api_client.user_agent = "ua"
    method, url, headers, body, post = api_client.param_serialize(
        method="POST",
        resource_path="/a/{x}/b",
        path_params={"x": "s p/ä"},
        query_params=[("q", True), ("n", 2), ("l", ["a", "b"]), ("d", {"k": 1})],
        header_params={"Accept": "application/json"},
        body=pkg.XComCreateBody(key="k", value={"when": datetime.date(2025, 1, 2)}),
        auth_settings=["HTTPBearer"],
        collection_formats={"l": "multi"},
    )
    assert method == "POST"
    assert url == ("http://h:1/a/s%20p%2F%C3%A4/b?q=true&n=2&l=a&l=b&d=%7B%22k%22%3A%201%7D")
    assert headers == {
        "Accept": "application/json",
        "User-Agent": "ua",
        "Cookie": "c=1",
        "Authorization": "Bearer t",
    }
    assert body == {"key": "k", "map_index": -1, "value": {"when": "2025-01-02"}}
    assert not post


def test_serialization_helpers_match() -> None:
    ours, theirs = client_pkg.ApiClient(), official_pkg.ApiClient()
    value = {
        "d": datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
        "t": (1, "a"),
        "n": None,
        "m": client_pkg.XComUpdateBody(value=1),
    }
    official_value = {**value, "m": official_pkg.XComUpdateBody(value=1)}
    assert ours.sanitize_for_serialization(value) == theirs.sanitize_for_serialization(
        official_value
    )
    params = [("a", "x y"), ("b", [1, 2]), ("c", False)]
    for fmt in ("csv", "ssv", "tsv", "pipes", "multi"):
        formats = {"b": fmt}
        assert ours.parameters_to_url_query(params, formats) == theirs.parameters_to_url_query(
            params, formats
        )
        assert ours.parameters_to_tuples(params, formats) == theirs.parameters_to_tuples(
            params, formats
        )
    for accepts in ([], ["text/plain"], ["text/plain", "application/json"]):
        assert ours.select_header_accept(accepts) == theirs.select_header_accept(accepts)
        assert ours.select_header_content_type(accepts) == theirs.select_header_content_type(
            accepts
        )


def test_api_response_fields(pkg: types.ModuleType) -> None:
    response = pkg.ApiResponse(status_code=200, headers={"a": "b"}, data=1, raw_data=b"x")
    assert (response.status_code, response.headers, response.data, response.raw_data) == (
        200,
        {"a": "b"},
        1,
        b"x",
    )
