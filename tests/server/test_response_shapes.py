"""Every body the API answers has exactly the shape its OpenAPI declares.

The routes encode their bodies themselves (``server/encoding.py``; the XCom entry from
the store's columns, a DAG run field by field), so FastAPI never checks them against the
``response_model`` the route declares. Here every route is driven through each status
it answers with a body (success, list pages, each XCom value mode, paging by offset and
by cursor, and the error bodies), and each JSON body is validated against the schema the
app's own ``/openapi.json`` declares for that route and status, made strict: an object
may carry no field its model does not declare, must carry every required one, and each
value must have the declared JSON type (datetimes in RFC 3339). A status the route does
not declare fails too.

:func:`test_the_check_catches_a_dropped_renamed_or_mistyped_field` shows the check
would catch a body whose field was dropped, renamed or given another type.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.conftest import Api, password_for
from xcomkit.server import models

XCOMS = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"
XCOM = XCOMS + "/{xcom_key}"
RUNS = "/api/v2/dags/{dag_id}/dagRuns"
RUN = RUNS + "/{dag_run_id}"
AT = {"dag_id": "xcom_demo", "dag_run_id": "run_1", "task_id": "extract"}
BIG_INT = 2**70  # beyond 64 bits: the encoder's slow path
LARGE = "x" * (64 * 1024 + 1)  # past TRANSFORM_INLINE_CHARS: transformed off the loop


def strict(schema: Any) -> Any:
    """A copy of a JSON schema in which every object that declares ``properties`` and
    says nothing of others allows no other property."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@dataclass
class Contract:
    """The app's OpenAPI, and a record of the (method, route, status) checked against it."""

    openapi: dict[str, Any]
    checked: set[tuple[str, str, int]] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def schema(self, method: str, route: str, status: int) -> dict[str, Any] | None:
        """The strict schema of the body ``method route`` declares for ``status`` (None
        for a declared status without a body).

        Raises:
            AssertionError: the route does not declare ``status``.
        """
        responses = self.openapi["paths"][route][method]["responses"]
        assert str(status) in responses, f"{method.upper()} {route}: {status} is not declared"
        content = responses[str(status)].get("content")
        if not content:
            return None
        return {
            **strict(content["application/json"]["schema"]),
            "components": strict(self.openapi["components"]),
        }

    def errors(self, body: Any, schema: dict[str, Any]) -> list[str]:
        """What is wrong with ``body`` against ``schema`` (empty: nothing)."""
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:200]}"
            for e in validator.iter_errors(body)
        ]

    def check(self, r: httpx.Response, method: str, route: str, status: int) -> Any:
        """Assert ``r`` answered ``status``, record any mismatch of its body against the
        declared schema, and return the parsed body (None for 204)."""
        assert r.status_code == status, (method, r.url, r.status_code, r.text[:500])
        self.checked.add((method, route, status))
        schema = self.schema(method, route, status)
        if schema is None:
            assert r.content == b"", (method, r.url, r.content[:200])
            return None
        assert r.headers["content-type"] == "application/json", (method, r.url)
        body = r.json()
        for problem in self.errors(body, schema):
            self.failures.append(
                f"{method.upper()} {r.url.path}?{r.url.query.decode()} {status}: {problem}"
            )
        return body


def call(
    api: Api,
    contract: Contract,
    method: str,
    route: str,
    status: int,
    role: str | None = "admin",
    path: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """Send ``method`` to ``route`` (its placeholders filled from :data:`AT` and ``path``)
    as ``role`` (None: no credentials) and check the answer against the contract."""
    url = route.format(**{**AT, "xcom_key": "k", **(path or {})})
    headers = (
        {**api.headers(role), **kwargs.pop("headers", {})} if role else kwargs.pop("headers", {})
    )
    r = api.client.request(method.upper(), url, headers=headers, **kwargs)
    return contract.check(r, method, route, status)


#: Airflow's credential-less logins: declared with their success status, as Airflow
#: declares them, but always 403 (they are off unless every user is an admin).
OFF = {("get", "/auth/token"), ("get", "/auth/token/login")}


@pytest.fixture
def contract(api: Api) -> Iterator[Contract]:
    c = Contract(api.client.get("/openapi.json").json())
    yield c


def api_operations(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (method, route) of the API (the web page's routes aside)."""
    return {
        (method, route)
        for route, methods in openapi["paths"].items()
        if route.startswith(("/api/", "/auth/"))
        for method in methods
    }


def drive_xcoms(api: Api, c: Contract) -> None:
    """Every XCom route: each success, each GET mode, list pages, and the errors."""
    for key, value in [
        ("k", {"a": [1, 2.5, None, True]}),
        ("s", '{"inner": 1}'),
        ("big", [BIG_INT, -BIG_INT]),
        ("large", LARGE),
        ("nested/key", None),
    ]:
        body = call(api, c, "post", XCOMS, 201, json={"key": key, "value": value})
        assert body["key"] == key
    call(api, c, "post", XCOMS, 201, json={"key": "k", "value": 1, "map_index": 3})
    for key in ("k", "s", "big", "large", "nested/key"):
        for params in ({}, {"stringify": "true"}, {"deserialize": "true"}):
            call(api, c, "get", XCOM, 200, path={"xcom_key": key}, params=params)
        call(
            api,
            c,
            "get",
            XCOM,
            200,
            path={"xcom_key": key},
            params={"deserialize": "true", "stringify": "true"},
        )
    call(api, c, "get", XCOM, 200, params={"map_index": "3"})
    call(api, c, "patch", XCOM, 200, json={"value": {"b": BIG_INT}})
    call(api, c, "patch", XCOM, 200, json={"value": "v", "map_index": 3})
    call(api, c, "get", XCOM, 200, role="viewer")
    # List pages: a full one, a partial one, an empty one, across every DAG and run.
    page = call(api, c, "get", XCOMS, 200)
    assert page["total_entries"] == 6
    call(api, c, "get", XCOMS, 200, params={"limit": "2", "offset": "1", "order_by": "-key"})
    call(api, c, "get", XCOMS, 200, params={"offset": "100"})
    everywhere = {"dag_id": "~", "dag_run_id": "~", "task_id": "~"}
    call(api, c, "get", XCOMS, 200, path=everywhere, params={"xcom_key_pattern": "k"})
    call(api, c, "get", XCOMS, 200, path=everywhere, params={"run_after_gte": "2000-01-01T00:00Z"})
    # Errors.
    call(api, c, "get", XCOMS, 400, params={"order_by": "no_such_field"})
    call(api, c, "get", XCOM, 401, role=None)
    call(api, c, "post", XCOMS, 401, role=None, json={"key": "x", "value": 1})
    call(api, c, "post", XCOMS, 403, role="viewer", json={"key": "x", "value": 1})
    call(api, c, "patch", XCOM, 403, role="viewer", json={"value": 1})
    call(api, c, "delete", XCOM, 403, role="viewer")
    call(api, c, "get", XCOM, 404, path={"xcom_key": "missing"})
    call(api, c, "patch", XCOM, 404, path={"xcom_key": "missing"}, json={"value": 1})
    call(api, c, "delete", XCOM, 404, path={"xcom_key": "missing"})
    call(api, c, "post", XCOMS, 404, path={"dag_run_id": "no_run"}, json={"key": "x", "value": 1})
    call(api, c, "post", XCOMS, 409, json={"key": "k", "value": 1})
    call(api, c, "post", XCOMS, 422, json={"key": "x"})
    call(api, c, "post", XCOMS, 422, json={"key": "", "value": 1, "extra": True})
    call(api, c, "patch", XCOM, 422, json={"value": 1, "map_index": "x"})
    call(api, c, "get", XCOM, 422, params={"map_index": "x"})
    call(api, c, "get", XCOMS, 422, params={"limit": "-1"})
    call(api, c, "delete", XCOM, 422, params={"map_index": "-2"})
    call(api, c, "delete", XCOM, 204)
    call(api, c, "delete", XCOM, 204, params={"map_index": "3"})


def drive_dag_runs(api: Api, c: Contract) -> None:
    """Every DAG-run route: each success, offset and cursor pages, and the errors."""
    one = {"dag_run_id": "r_one"}
    body = call(
        api,
        c,
        "post",
        RUNS,
        200,
        json={
            "dag_run_id": "r_one",
            "logical_date": "2025-03-01T00:00:00Z",
            "data_interval_start": "2025-02-28T00:00:00Z",
            "data_interval_end": "2025-03-01T00:00:00Z",
            "conf": {"n": BIG_INT, "s": "é"},
            "note": "first",
        },
    )
    assert body["dag_run_id"] == "r_one"
    call(api, c, "post", RUNS, 200, json={"logical_date": None})
    call(api, c, "get", RUN, 200, path=one)
    call(api, c, "get", RUN, 200, path={"dag_run_id": "run_1"}, role="viewer")
    call(api, c, "patch", RUN, 200, path=one, json={"state": "success"})
    call(api, c, "patch", RUN, 200, path=one, json={"note": None, "state": "failed"})
    call(api, c, "patch", RUN, 200, path=one, json={"note": "n"}, params={"update_mask": "note"})
    # Offset pages, then cursor pages both ways.
    page = call(api, c, "get", RUNS, 200)
    assert page["total_entries"] == 4
    call(api, c, "get", RUNS, 200, path={"dag_id": "~"}, params={"order_by": "-duration"})
    call(api, c, "get", RUNS, 200, params={"offset": "50"})
    first = call(api, c, "get", RUNS, 200, params={"cursor": "", "limit": "1"})
    second = call(api, c, "get", RUNS, 200, params={"cursor": first["next_cursor"], "limit": "1"})
    assert second["previous_cursor"] is not None and second["next_cursor"] is not None
    call(api, c, "get", RUNS, 200, params={"cursor": second["previous_cursor"], "limit": "1"})
    # Errors.
    call(
        api, c, "get", RUNS, 400, path={"dag_id": "~"}, params={"partition_date_gte": "2025-01-01"}
    )
    call(api, c, "get", RUNS, 400, params={"cursor": "not-a-cursor"})
    call(api, c, "get", RUNS, 400, params={"order_by": "conf_nope"})
    call(api, c, "post", RUNS, 400, json={"logical_date": None, "partition_key": "p"})
    call(api, c, "get", RUN, 401, path=one, role=None)
    call(api, c, "post", RUNS, 403, role="viewer", json={"logical_date": None})
    call(api, c, "patch", RUN, 403, path=one, role="viewer", json={"note": "x"})
    call(api, c, "delete", RUN, 403, path=one, role="viewer")
    call(api, c, "get", RUNS, 404, path={"dag_id": "no_dag"})
    call(api, c, "get", RUN, 404, path={"dag_run_id": "missing"})
    call(api, c, "patch", RUN, 404, path={"dag_run_id": "missing"}, json={"note": "x"})
    call(api, c, "delete", RUN, 404, path={"dag_run_id": "missing"})
    call(api, c, "post", RUNS, 404, path={"dag_id": "no_dag"}, json={"logical_date": None})
    call(api, c, "post", RUNS, 409, json={"dag_run_id": "r_one", "logical_date": None})
    call(api, c, "patch", RUN, 200, path=one, json={"state": "queued"})
    call(api, c, "post", RUNS, 422, json={})
    call(api, c, "get", RUNS, 422, params={"state": "sleeping"})  # Airflow's string detail
    call(api, c, "get", RUNS, 422, params={"limit": "x"})
    call(api, c, "patch", RUN, 422, path=one, json={"state": "running"})
    call(api, c, "delete", RUN, 204, path=one)


def drive_auth_and_monitor(api: Api, c: Contract) -> None:
    """The login routes and the unauthenticated monitor routes."""
    good = {"username": "op", "password": password_for("op")}
    call(api, c, "post", "/auth/token", 201, role=None, json=good)
    call(api, c, "post", "/auth/token", 201, role=None, data=good)
    call(api, c, "post", "/auth/token/cli", 201, role=None, json=good)
    call(api, c, "post", "/auth/token", 400, role=None, json={"username": "", "password": ""})
    call(api, c, "post", "/auth/token", 401, role=None, json={**good, "password": "wrong"})
    call(api, c, "post", "/auth/token/cli", 401, role=None, json={**good, "password": "no"})
    call(
        api,
        c,
        "post",
        "/auth/token",
        415,
        role=None,
        content=b"x",
        headers={"content-type": "text/plain"},
    )
    call(api, c, "post", "/auth/token", 422, role=None, json={"username": "op"})  # a string
    call(api, c, "post", "/auth/token/cli", 422, role=None, json={"username": "op"})
    call(api, c, "get", "/auth/token", 403, role=None)
    call(api, c, "get", "/auth/token/login", 403, role=None, follow_redirects=False)
    call(api, c, "get", "/api/v2/version", 200, role=None)
    call(api, c, "get", "/api/v2/monitor/health", 200, role=None)


def test_every_body_matches_its_declared_schema(api: Api, contract: Contract) -> None:
    drive_xcoms(api, contract)
    drive_dag_runs(api, contract)
    drive_auth_and_monitor(api, contract)
    assert not contract.failures, "\n".join(contract.failures)
    # Every operation was driven, through each success status it declares.
    driven = {(method, route) for method, route, _ in contract.checked}
    assert driven == api_operations(contract.openapi)
    for method, route in driven - OFF:
        declared = contract.openapi["paths"][route][method]["responses"]
        for status in (s for s in declared if s.startswith("2")):
            assert (method, route, int(status)) in contract.checked, (method, route, status)


def test_guard_and_limit_bodies(make_api: Any) -> None:
    """The answers of the request guard (413) and the login limits (429)."""
    api = make_api(max_body_bytes=1024, login_failures_per_user=1, login_failures_per_client=0)
    c = Contract(api.client.get("/openapi.json").json())
    call(api, c, "post", XCOMS, 413, json={"key": "x", "value": "y" * 2000})
    call(api, c, "patch", RUN, 413, path={"dag_run_id": "run_1"}, json={"note": "y" * 2000})
    call(api, c, "post", "/auth/token", 401, role=None, json={"username": "op", "password": "n"})
    call(api, c, "post", "/auth/token", 429, role=None, json={"username": "op", "password": "n"})
    assert c.failures == []


def _mutations(body: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Ways to break ``body``, each with its variants (at least one of which must be
    refused): drop a field, rename it, or give it another JSON type."""
    for name in body:
        dropped = {k: v for k, v in body.items() if k != name}
        yield f"dropped {name}", [dropped]
        yield f"renamed {name}", [{**dropped, name + "_renamed": body[name]}]
        others = [[[]], {"x": 1}, 1.5, "text", None]
        yield f"retyped {name}", [{**body, name: other} for other in others]


def test_the_check_catches_a_dropped_renamed_or_mistyped_field(
    api: Api, contract: Contract
) -> None:
    """Take one valid body of each shape and break it every way: each must be refused
    (a field of any JSON type, the XCom ``value``, cannot be retyped)."""
    bodies = {
        "XComResponseNative": call(
            api, contract, "post", XCOMS, 201, json={"key": "m", "value": 1}
        ),
        "XComCollectionResponse": call(api, contract, "get", XCOMS, 200),
        "DAGRunResponse": call(api, contract, "get", RUN, 200, path={"dag_run_id": "run_1"}),
        "DAGRunCollectionResponse": call(api, contract, "get", RUNS, 200),
        "HTTPExceptionResponse": call(api, contract, "get", XCOM, 404),
        "VersionInfo": call(api, contract, "get", "/api/v2/version", 200, role=None),
    }
    assert contract.failures == []
    bodies["XComResponse"] = bodies["XComCollectionResponse"]["xcom_entries"][0]
    components = strict(contract.openapi["components"])
    for name, body in bodies.items():
        schema = {**components["schemas"][name], "components": components}
        assert contract.errors(body, schema) == []
        for what, variants in _mutations(body):
            if what == "retyped value":
                continue
            if all(contract.errors(copy.deepcopy(v), schema) == [] for v in variants):
                pytest.fail(f"{name}: a body with {what} passed the check")


AIRFLOW_SPEC = Path(__file__).parent.parent / "data" / "airflow-3.3.2-dag-runs-openapi.json"


@pytest.mark.parametrize(
    "name", ["DAGRunResponse", "DAGRunCollectionResponse", "DagVersionResponse"]
)
def test_dag_run_models_declare_airflows_fields(name: str) -> None:
    """The DAG-run response models have Airflow 3.3.2's fields, in its order, and
    require what it requires (xcomkit's collection always carries all five)."""
    theirs = json.loads(AIRFLOW_SPEC.read_text())["components"]["schemas"][name]
    mine = getattr(models, name).model_json_schema()
    assert list(mine["properties"]) == list(theirs["properties"])
    assert set(theirs["required"]) <= set(mine["required"])
