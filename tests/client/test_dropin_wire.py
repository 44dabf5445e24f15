"""xcomkit.client and airflow_client.client side by side against a scripted HTTP server.

The stub server answers whatever a test scripts (any status, any body) and records each
request. Every XComApi method is called the same way through both packages; the
requests sent and the results (return value or exception: class, status, reason, body,
parsed data) must be the same. This reaches statuses a real server gives rarely or
never for a method (400 on get, 409 on update, 500 ...).

Known, deliberate differences are asserted explicitly: the ``User-Agent``, and
``get_xcom_entry(stringify=True)`` parsing as ``XComResponseString``.
"""

from __future__ import annotations

import datetime
import importlib
import json
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import airflow_client.client as official_pkg
import pytest

import xcomkit.client as client_pkg

ENTRY = {
    "dag_display_name": "XCom Demo",
    "dag_id": "xcom_demo",
    "key": "k",
    "logical_date": "2025-01-01T00:00:00Z",
    "map_index": -1,
    "run_after": "2025-01-01T00:00:00Z",
    "run_id": "run_1",
    "task_display_name": "extract",
    "task_id": "extract",
    "timestamp": "2025-01-01T00:00:01.5+00:00",
}
NATIVE = {**ENTRY, "value": {"a": [1, None]}}
STRING = {**ENTRY, "value": "{'a': [1, None]}"}
PAGE = {"total_entries": 7, "xcom_entries": [ENTRY, {**ENTRY, "key": "k2", "logical_date": None}]}
ERROR_BODIES: dict[int, Any] = {
    400: {"detail": "Ordering with 'x' is disallowed"},
    401: {"detail": "Not authenticated"},
    403: {"detail": "Forbidden"},
    404: {"detail": "XCom entry with key: `k` not found"},
    409: {"detail": {"reason": "Unique constraint violation", "statement": None}},
    422: {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["query", "map_index", 0],
                "msg": "Input should be a valid integer",
                "input": "abc",
            },
            {"type": "missing", "loc": ["body", "value"], "msg": "Field required", "input": None},
        ]
    },
    500: {"detail": "Internal Server Error"},
    503: "Service Unavailable",
}


@dataclass
class Script:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    requests: list[dict[str, Any]] = field(default_factory=list)


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.script.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": json.loads(raw) if raw else None,
            }
        )
        body = b""
        if self.script.status != 204 and self.script.body is not None:
            body = (
                self.script.body.encode()
                if isinstance(self.script.body, str)
                else json.dumps(self.script.body).encode()
            )
        self.send_response(self.script.status)
        self.send_header("Content-Type", self.script.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("Handler", (StubHandler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def run_with(pkg: types.ModuleType, base_url: str, script: Script, call: Any) -> dict[str, Any]:
    """Call through ``pkg``; describe the request sent and what came back."""
    script.requests.clear()
    configuration = pkg.Configuration(host=base_url, access_token="tok")
    with pkg.ApiClient(configuration) as api_client:
        api = pkg.XComApi(api_client)
        try:
            result: Any = call(api, pkg)
            outcome: dict[str, Any] = {"returned": describe(result)}
        except pkg.ApiException as exc:
            outcome = {
                "raised": type(exc).__name__,
                "status": exc.status,
                "reason": exc.reason,
                "body": exc.body,
                "data": describe(exc.data),
                "str_lines": [line.split(":")[0] for line in str(exc).splitlines()],
            }
    (request,) = script.requests
    request["headers"].pop("host")
    if request["headers"]["user-agent"].startswith(("xcomkit/", "OpenAPI-Generator/")):
        request["headers"].pop("user-agent")  # the one default that differs
    return {"request": request, **outcome}


def describe(value: Any) -> Any:
    """A package-neutral description: model class name and to_dict(), or the value."""
    if value is None or isinstance(value, (str, bytes, int, float, list, dict)):
        return value
    if hasattr(value, "status_code"):  # ApiResponse
        return {
            "ApiResponse": [value.status_code, describe(value.data), value.raw_data],
            "content-type": value.headers["Content-Type"],
        }
    if hasattr(value, "actual_instance"):
        return {type(value).__name__: describe(value.actual_instance)}
    if hasattr(value, "status") and hasattr(value, "data"):  # urllib3.HTTPResponse
        return {"HTTPResponse": [value.status, value.data]}
    return {type(value).__name__: value.to_dict()}


def compare(stub: tuple[str, Script], status: int, body: Any, call: Any) -> dict[str, Any]:
    base_url, script = stub
    script.status, script.body = status, body
    script.content_type = "text/plain" if isinstance(body, str) else "application/json"
    ours = run_with(client_pkg, base_url, script, call)
    theirs = run_with(official_pkg, base_url, script, call)
    assert ours == theirs
    return ours


def body_of(pkg: types.ModuleType, name: str, **fields: Any) -> Any:
    return getattr(pkg, name)(**fields)


CALLS = {
    "create": (
        201,
        NATIVE,
        lambda api, pkg: api.create_xcom_entry(
            "xcom_demo", "extract", "run_1",
            pkg.XComCreateBody(key="k", value={"a": [1, None], "t": (1, 2)}, map_index=2),
        ),
    ),
    "get": (
        200,
        NATIVE,
        lambda api, pkg: api.get_xcom_entry(
            "xcom_demo", "extract", "run_1", "a/b c?&#%", map_index=0, deserialize=True
        ),
    ),
    "list": (
        200,
        PAGE,
        lambda api, pkg: api.get_xcom_entries(
            "~", "~", "~", xcom_key="k", map_index=-1, limit=10, offset=5,
            xcom_key_pattern="a%_|b", xcom_key_prefix_pattern="v_", dag_display_name_pattern="D",
            dag_display_name_prefix_pattern="X", run_id_pattern="r", run_id_prefix_pattern="s3://",
            task_id_pattern="t", task_id_prefix_pattern="e", map_index_filter=3,
            logical_date_gte=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
            logical_date_gt=datetime.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(
                datetime.timedelta(hours=2))),
            logical_date_lte="2025-01-03T00:00:00Z",
            logical_date_lt=datetime.datetime(2025, 1, 4, tzinfo=datetime.timezone.utc),
            run_after_gte=datetime.datetime(2025, 1, 5, tzinfo=datetime.timezone.utc),
            run_after_gt=datetime.datetime(2025, 1, 6, tzinfo=datetime.timezone.utc),
            run_after_lte=datetime.datetime(2025, 1, 7, tzinfo=datetime.timezone.utc),
            run_after_lt=datetime.datetime(2025, 1, 8, tzinfo=datetime.timezone.utc),
            order_by=["-timestamp", "key"],
        ),
    ),
    "update": (
        200,
        NATIVE,
        lambda api, pkg: api.update_xcom_entry(
            "xcom_demo", "extract", "run_1", "k", pkg.XComUpdateBody(value=None)
        ),
    ),
    "delete": (
        204,
        None,
        lambda api, pkg: api.delete_xcom_entry("xcom_demo", "extract", "run_1", "k", map_index=1),
    ),
}  # fmt: skip


@pytest.mark.parametrize("operation", list(CALLS))
def test_success_is_identical(stub: tuple[str, Script], operation: str) -> None:
    status, body, call = CALLS[operation]
    outcome = compare(stub, status, body, call)
    assert "returned" in outcome
    assert outcome["request"]["headers"]["authorization"] == "Bearer tok"
    assert outcome["request"]["headers"]["accept"] == "application/json"


@pytest.mark.parametrize("status", sorted(ERROR_BODIES))
@pytest.mark.parametrize("operation", list(CALLS))
def test_error_statuses_are_identical(
    stub: tuple[str, Script], operation: str, status: int
) -> None:
    outcome = compare(stub, status, ERROR_BODIES[status], CALLS[operation][2])
    expected = {
        400: "BadRequestException",
        401: "UnauthorizedException",
        403: "ForbiddenException",
        404: "NotFoundException",
        409: "ConflictException",
        422: "UnprocessableEntityException",
        500: "ServiceException",
        503: "ServiceException",
    }[status]
    assert outcome["raised"] == expected
    assert outcome["status"] == status
    exc_class = getattr(importlib.import_module("xcomkit.client.exceptions"), expected)
    assert issubclass(exc_class, client_pkg.ApiException)


def test_error_data_is_parsed_into_the_error_models(stub: tuple[str, Script]) -> None:
    outcome = compare(stub, 422, ERROR_BODIES[422], CALLS["get"][2])
    assert outcome["data"] == {"HTTPValidationError": ERROR_BODIES[422]}
    outcome = compare(stub, 409, ERROR_BODIES[409], CALLS["create"][2])
    assert outcome["data"] == {"HTTPExceptionResponse": ERROR_BODIES[409]}
    outcome = compare(stub, 409, ERROR_BODIES[409], CALLS["update"][2])
    assert outcome["data"] is None  # 409 is not an answer the spec lists for update


@pytest.mark.parametrize("operation", list(CALLS))
@pytest.mark.parametrize("variant", ["_with_http_info", "_without_preload_content"])
def test_variants_are_identical(stub: tuple[str, Script], operation: str, variant: str) -> None:
    status, body, call = CALLS[operation]
    name = call.__code__.co_names[0] + variant

    def call_variant(api: Any, pkg: types.ModuleType) -> Any:
        recorder = _Recorder()
        call(recorder, pkg)
        return getattr(api, name)(*recorder.args, **recorder.kwargs)

    outcome = compare(stub, status, body, call_variant)
    assert "returned" in outcome


class _Recorder:
    """Stands in for an XComApi to capture the arguments a CALLS lambda passes."""

    def __getattr__(self, name: str) -> Any:
        def capture(*args: Any, **kwargs: Any) -> None:
            self.args, self.kwargs = args, kwargs

        return capture


def test_stringify_is_parsed_as_string_by_xcomkit_only(stub: tuple[str, Script]) -> None:
    base_url, script = stub
    script.status, script.body, script.content_type = 200, STRING, "application/json"

    def call(api: Any, pkg: types.ModuleType) -> Any:
        return api.get_xcom_entry("xcom_demo", "extract", "run_1", "k", stringify=True)

    ours = run_with(client_pkg, base_url, script, call)
    theirs = run_with(official_pkg, base_url, script, call)
    assert ours["request"] == theirs["request"]
    assert ours["request"]["path"].endswith("/xcomEntries/k?stringify=true")
    (inner,) = ours["returned"]["ResponseGetXcomEntry"].items()
    assert inner[0] == "XComResponseString"
    assert inner[1]["value"] == "{'a': [1, None]}"
    assert list(theirs["returned"]["ResponseGetXcomEntry"]) == ["XComResponseNative"]


def test_request_details(stub: tuple[str, Script]) -> None:
    outcome = compare(stub, *CALLS["list"][:2], CALLS["list"][2])
    path = outcome["request"]["path"]
    assert path.startswith("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries?")
    assert "xcom_key_pattern=a%25_%7Cb" in path
    assert "run_id_prefix_pattern=s3%3A//" in path
    assert "logical_date_gt=2025-01-02T03%3A04%3A05.000006%2B0200" in path
    assert "logical_date_lte=2025-01-03T00%3A00%3A00.000000%2B0000" in path
    assert path.endswith("&order_by=-timestamp&order_by=key")

    outcome = compare(stub, *CALLS["get"][:2], CALLS["get"][2])
    assert outcome["request"]["path"] == (
        "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries/"
        "a%2Fb%20c%3F%26%23%25?map_index=0&deserialize=true"
    )
    outcome = compare(stub, *CALLS["create"][:2], CALLS["create"][2])
    assert outcome["request"]["body"] == {"key": "k", "map_index": 2, "value": {
        "a": [1, None], "t": [1, 2]}}  # fmt: skip
    assert outcome["request"]["headers"]["content-type"] == "application/json"
    outcome = compare(stub, *CALLS["update"][:2], CALLS["update"][2])
    assert outcome["request"]["body"] == {"map_index": -1, "value": None}


def test_naive_datetimes_are_sent_as_utc(stub: tuple[str, Script]) -> None:
    base_url, script = stub
    script.status, script.body = 200, PAGE

    def call(api: Any, pkg: types.ModuleType) -> Any:
        return api.get_xcom_entries("~", "~", "~", run_after_lt=datetime.datetime(2025, 1, 1))

    ours = run_with(client_pkg, base_url, script, call)
    theirs = run_with(official_pkg, base_url, script, call)
    # Airflow answers 500 to the official client's naive bound.
    assert theirs["request"]["path"].endswith("run_after_lt=2025-01-01T00%3A00%3A00.000000")
    assert ours["request"]["path"].endswith("run_after_lt=2025-01-01T00%3A00%3A00.000000%2B0000")


def test_per_call_headers_override_defaults_and_auth(stub: tuple[str, Script]) -> None:
    base_url, script = stub
    script.status, script.body = 200, NATIVE
    headers = {"X-Trace": "1", "User-Agent": "mine", "Authorization": "Bearer other"}

    def call(api: Any, pkg: types.ModuleType) -> Any:
        return api.get_xcom_entry("d", "t", "r", "k", _headers=headers)

    ours = run_with(client_pkg, base_url, script, call)
    assert headers == {"X-Trace": "1", "User-Agent": "mine", "Authorization": "Bearer other"}
    assert ours["request"]["headers"]["x-trace"] == "1"
    assert ours["request"]["headers"]["authorization"] == "Bearer other"
    assert ours["request"]["headers"]["user-agent"] == "mine"
    theirs = run_with(official_pkg, base_url, script, call)
    # The official client lets default headers and the configured token override _headers.
    assert theirs["request"]["headers"]["authorization"] == "Bearer tok"
    assert "user-agent" not in theirs["request"]["headers"]  # its default one was sent


def test_request_auth_replaces_the_configured_token(stub: tuple[str, Script]) -> None:
    def call(api: Any, pkg: types.ModuleType) -> Any:
        auth = {"in": "header", "type": "bearer", "key": "Authorization", "value": "Bearer x"}
        return api.get_xcom_entry("d", "t", "r", "k", _request_auth=auth)

    outcome = compare(stub, 200, NATIVE, call)
    assert outcome["request"]["headers"]["authorization"] == "Bearer x"


def test_non_json_success_body_raises_status_0(stub: tuple[str, Script]) -> None:
    base_url, script = stub
    script.status, script.body, script.content_type = 200, "<html>", "application/xml"

    def call(api: Any, pkg: types.ModuleType) -> Any:
        return api.get_xcom_entry("d", "t", "r", "k")

    for pkg in (client_pkg, official_pkg):
        outcome = run_with(pkg, base_url, script, call)
        assert (outcome["raised"], outcome["status"], outcome["reason"]) == (
            "ApiException", 0, "Unsupported content type: application/xml")  # fmt: skip


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


# Values as the server may answer them (any size of integer, lone-surrogate escapes, any
# depth it accepts: 254), each of which a parser can lose: orjson reads integers beyond
# 64 bits as floats, pydantic's JSON parser stops at 200-odd levels and refuses lone
# surrogates.
EXACT_VALUES = {
    "integers beyond 64 bits": [2**64, -(2**63) - 1, 1180591620717411303424],
    "integers beyond 64 bits, deep": _nest([2**64, -(2**70)], 253),
    "lone surrogates": ["\ud800", {"\udc00": "x\udfff"}],
    "lone surrogates, deep": _nest(["\ud800"], 253),
    "floats": [0.1, -0.0, 1.0, 5e-324, 1.7976931348623157e308],
}


def _value_of(described: Any) -> Any:
    """The ``value`` inside a :func:`describe` result (a model, maybe wrapped)."""
    while "value" not in described:
        (described,) = described.values()
    return described["value"]


@pytest.mark.parametrize("operation", ["create", "get", "update"])
@pytest.mark.parametrize("name", list(EXACT_VALUES))
def test_values_are_parsed_exactly(stub: tuple[str, Script], operation: str, name: str) -> None:
    """Compared by ``repr``: ``==`` takes 2**64 and 1.8446744073709552e+19 as equal."""
    base_url, script = stub
    status, _, call = CALLS[operation]
    value = EXACT_VALUES[name]
    script.status, script.body = status, {**ENTRY, "value": value}
    script.content_type = "application/json"
    for pkg in (official_pkg, client_pkg):
        got = _value_of(run_with(pkg, base_url, script, call)["returned"])
        assert repr(got) == repr(value), pkg.__name__
