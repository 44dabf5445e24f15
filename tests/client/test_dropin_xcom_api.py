"""XComApi as users of ``airflow_client.client`` call it, against a real server.

Written against the official client's public surface; the package comes in through the
one alias below. Every test runs twice, with ``client_pkg`` (xcomkit.client) and with
the official ``airflow_client.client``, so passing proves the two behave the same. Where
they differ on purpose (official bugs), the test says which package does what.

The server is ``live_server`` (tests/conftest.py): xcomkit under uvicorn, or, with
``XCOMKIT_TARGET_URL``/``XCOMKIT_TARGET_USERS`` set, any server loaded with the test
manifest, e.g. a real Airflow 3.3.2 (``python compat/airflow_ref.py up``). Its database
is shared by the session, so keys are unique.
"""

from __future__ import annotations

import datetime
import importlib
import json
import types
import uuid
from collections.abc import Iterator
from typing import Any

import airflow_client.client as official_pkg
import pydantic
import pytest
import urllib3

import xcomkit.client as client_pkg

PACKAGES = {"xcomkit": client_pkg, "official": official_pkg}

DAG, RUN, TASK = "xcom_demo", "run_1", "extract"


@pytest.fixture(params=list(PACKAGES))
def pkg(request: pytest.FixtureRequest) -> types.ModuleType:
    return PACKAGES[request.param]


@pytest.fixture
def make_api(pkg: types.ModuleType, live_server: Any) -> Iterator[Any]:
    """``make_api(role)``: an XComApi for that role (None: no credentials; "forged": a
    malformed token)."""
    clients: list[Any] = []

    def make(role: str | None = "admin") -> Any:
        configuration = pkg.Configuration(host=live_server.base_url)
        if role == "forged":
            configuration.access_token = "not-a-jwt"
        elif role is not None:
            configuration.access_token = live_server.token(role)
        api_client = pkg.ApiClient(configuration)
        clients.append(api_client)
        return pkg.XComApi(api_client)

    yield make
    for api_client in clients:
        api_client.rest_client.pool_manager.clear()


@pytest.fixture
def api(make_api: Any) -> Any:
    return make_api("admin")


def new_key(prefix: str = "dropin") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


@pytest.fixture
def stored(api: Any, pkg: types.ModuleType) -> str:
    """The key of a fresh XCom on xcom_demo/run_1/extract with value {"a": [1, None]}."""
    key = new_key()
    api.create_xcom_entry(DAG, TASK, RUN, pkg.XComCreateBody(key=key, value={"a": [1, None]}))
    return key


def detail_of(exc: Any) -> Any:
    """The ``detail`` of an HTTPExceptionResponse carried by an ApiException."""
    return exc.data.detail.actual_instance


def exceptions_of(pkg: types.ModuleType) -> types.ModuleType:
    """``<pkg>.exceptions``: the official package exports only the base exceptions at the top."""
    return importlib.import_module(f"{pkg.__name__}.exceptions")


def assert_error(excinfo: Any, pkg: types.ModuleType, cls_name: str, status: int) -> Any:
    exc = excinfo.value
    assert type(exc) is getattr(exceptions_of(pkg), cls_name)
    assert isinstance(exc, pkg.ApiException)
    assert exc.status == status
    assert json.loads(exc.body) == (exc.data.to_dict() if exc.data is not None else None)
    return exc


def query_param(name: str, value: str) -> dict[str, str]:
    """A ``_request_auth`` that adds ``name=value`` to the query: the public way to send a
    value the client-side checks would refuse, to see the server's 422."""
    return {"in": "query", "type": "api_key", "key": name, "value": value}


# -- create_xcom_entry ------------------------------------------------------------------


def test_create_returns_the_stored_xcom(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    body = pkg.XComCreateBody(key=key, value={"rows": [1, 2.5, "x", None, True]}, map_index=-1)
    created = api.create_xcom_entry(DAG, TASK, RUN, body)
    assert type(created) is pkg.XComResponseNative
    assert (created.dag_id, created.run_id, created.task_id) == (DAG, RUN, TASK)
    assert (created.key, created.map_index) == (key, -1)
    assert created.value == {"rows": [1, 2.5, "x", None, True]}
    assert created.dag_display_name == "XCom Demo"
    assert created.task_display_name == "extract"
    assert created.logical_date == datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    assert created.timestamp.tzinfo is not None
    assert created.run_after.tzinfo is not None


def test_create_with_http_info_reports_201(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    response = api.create_xcom_entry_with_http_info(
        DAG, "transform", RUN, pkg.XComCreateBody(key=key, value=None)
    )
    assert type(response) is pkg.ApiResponse
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.data.value is None
    assert response.data.task_display_name == "Transform step"
    assert json.loads(response.raw_data) == json.loads(response.data.to_json())


def test_create_accepts_a_dict_body(api: Any) -> None:
    key = new_key()
    created = api.create_xcom_entry(DAG, TASK, RUN, {"key": key, "value": [1]})
    assert (created.key, created.value) == (key, [1])


def test_create_without_preload_content_returns_the_raw_response(
    api: Any, pkg: types.ModuleType
) -> None:
    key = new_key()
    raw = api.create_xcom_entry_without_preload_content(
        DAG, TASK, RUN, pkg.XComCreateBody(key=key, value="v")
    )
    assert isinstance(raw, urllib3.HTTPResponse)
    assert raw.status == 201
    assert json.loads(raw.data)["value"] == "v"


def test_create_key_with_reserved_url_characters(api: Any, pkg: types.ModuleType) -> None:
    key = new_key() + "/a b?c&d#e%f"
    api.create_xcom_entry(DAG, TASK, RUN, pkg.XComCreateBody(key=key, value=1))
    got = api.get_xcom_entry(DAG, TASK, RUN, key)
    assert (got.actual_instance.key, got.actual_instance.value) == (key, 1)


def test_create_existing_key_is_409(api: Any, pkg: types.ModuleType, stored: str) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        api.create_xcom_entry(DAG, TASK, RUN, pkg.XComCreateBody(key=stored, value=2))
    exc = assert_error(excinfo, pkg, "ConflictException", 409)
    assert type(exc.data) is pkg.HTTPExceptionResponse
    assert stored in detail_of(exc)


def test_create_without_credentials_is_401(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api(None).create_xcom_entry(DAG, TASK, RUN, pkg.XComCreateBody(key="k", value=1))
    exc = assert_error(excinfo, pkg, "UnauthorizedException", 401)
    assert detail_of(exc) == "Not authenticated"


def test_create_as_viewer_is_403(make_api: Any, pkg: types.ModuleType) -> None:
    body = pkg.XComCreateBody(key=new_key(), value=1)
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api("viewer").create_xcom_entry(DAG, TASK, RUN, body)
    exc = assert_error(excinfo, pkg, "ForbiddenException", 403)
    assert detail_of(exc) == "Forbidden"


def test_create_with_forged_token_is_403(make_api: Any, pkg: types.ModuleType) -> None:
    body = pkg.XComCreateBody(key=new_key(), value=1)
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api("forged").create_xcom_entry(DAG, TASK, RUN, body)
    exc = assert_error(excinfo, pkg, "ForbiddenException", 403)
    assert detail_of(exc) == "Invalid JWT token"


@pytest.mark.parametrize(
    ("dag_id", "task_id", "dag_run_id", "message"),
    [
        ("no_such_dag", TASK, RUN, "The Dag with ID: `no_such_dag` was not found"),
        (DAG, "no_such_task", RUN, "Task with ID: `no_such_task` not found in dag: `xcom_demo`"),
        (DAG, TASK, "no_such_run", "Dag Run with ID: `no_such_run` not found for dag: `xcom_demo`"),
    ],
)
def test_create_for_missing_dag_task_or_run_is_404(
    api: Any, pkg: types.ModuleType, dag_id: str, task_id: str, dag_run_id: str, message: str
) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        api.create_xcom_entry(dag_id, task_id, dag_run_id, pkg.XComCreateBody(key="k", value=1))
    exc = assert_error(excinfo, pkg, "NotFoundException", 404)
    assert detail_of(exc) == message


def test_create_with_reserved_serialization_key_is_422(api: Any, pkg: types.ModuleType) -> None:
    body = pkg.XComCreateBody(key=new_key(), value={"nested": [{"__var": 1}]})
    with pytest.raises(pkg.ApiException) as excinfo:
        api.create_xcom_entry(DAG, TASK, RUN, body)
    exc = assert_error(excinfo, pkg, "UnprocessableEntityException", 422)
    assert type(exc.data) is pkg.HTTPValidationError
    (error,) = exc.data.detail
    assert [item.actual_instance for item in error.loc] == ["body", "value"]
    assert "__var" in error.msg


# -- get_xcom_entry ---------------------------------------------------------------------


def test_get_returns_the_native_value(api: Any, pkg: types.ModuleType, stored: str) -> None:
    got = api.get_xcom_entry(DAG, TASK, RUN, stored)
    assert type(got) is pkg.ResponseGetXcomEntry
    assert type(got.actual_instance) is pkg.XComResponseNative
    assert got.actual_instance.value == {"a": [1, None]}
    assert got.to_dict()["value"] == {"a": [1, None]}


def test_get_with_map_index_and_http_info(api: Any, pkg: types.ModuleType, stored: str) -> None:
    response = api.get_xcom_entry_with_http_info(DAG, TASK, RUN, stored, map_index=-1)
    assert response.status_code == 200
    assert response.data.actual_instance.key == stored


def test_get_deserialize_reparses_a_json_string(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    api.create_xcom_entry(DAG, TASK, RUN, pkg.XComCreateBody(key=key, value="123"))
    assert api.get_xcom_entry(DAG, TASK, RUN, key).actual_instance.value == "123"
    got = api.get_xcom_entry(DAG, TASK, RUN, key, deserialize=True)
    assert got.actual_instance.value == 123


def test_get_stringify_gives_python_str_of_the_value(
    api: Any, pkg: types.ModuleType, stored: str
) -> None:
    got = api.get_xcom_entry(DAG, TASK, RUN, stored, stringify=True)
    assert got.actual_instance.value == "{'a': [1, None]}"
    if pkg is client_pkg:
        assert type(got.actual_instance) is pkg.XComResponseString
        assert got.value == "{'a': [1, None]}"  # the wrapper answers the inner fields
    else:  # official bug: the string answer is parsed as XComResponseNative
        assert type(got.actual_instance) is pkg.XComResponseNative


def test_get_without_preload_content(api: Any, stored: str) -> None:
    raw = api.get_xcom_entry_without_preload_content(DAG, TASK, RUN, stored, stringify=True)
    assert raw.status == 200
    assert json.loads(raw.data)["value"] == "{'a': [1, None]}"


def test_get_missing_key_is_404(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    with pytest.raises(pkg.ApiException) as excinfo:
        api.get_xcom_entry(DAG, TASK, RUN, key)
    exc = assert_error(excinfo, pkg, "NotFoundException", 404)
    assert detail_of(exc) == f"XCom entry with key: `{key}` not found"


def test_get_other_map_index_is_404(api: Any, pkg: types.ModuleType, stored: str) -> None:
    with pytest.raises(exceptions_of(pkg).NotFoundException):
        api.get_xcom_entry(DAG, TASK, RUN, stored, map_index=3)


def test_get_without_credentials_is_401(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api(None).get_xcom_entry(DAG, TASK, RUN, "k")
    assert detail_of(assert_error(excinfo, pkg, "UnauthorizedException", 401)) == (
        "Not authenticated"
    )


def test_get_with_forged_token_is_403(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api("forged").get_xcom_entry(DAG, TASK, RUN, "k")
    assert detail_of(assert_error(excinfo, pkg, "ForbiddenException", 403)) == ("Invalid JWT token")


def test_get_as_viewer_is_allowed(make_api: Any, stored: str) -> None:
    got = make_api("viewer").get_xcom_entry(DAG, TASK, RUN, stored)
    assert got.actual_instance.value == {"a": [1, None]}


def test_get_with_unparsable_map_index_is_422(
    api: Any, pkg: types.ModuleType, live_server: Any, stored: str
) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        api.get_xcom_entry(
            DAG, TASK, RUN, stored,
            _request_auth=query_param("map_index", "abc"),
            _headers={"Authorization": f"Bearer {live_server.token('admin')}"},
        )  # fmt: skip
    exc = assert_error(excinfo, pkg, "UnprocessableEntityException", 422)
    (error,) = exc.data.detail
    assert [item.actual_instance for item in error.loc] == ["query", "map_index"]
    assert (error.type, error.input) == ("int_parsing", "abc")


# -- get_xcom_entries -------------------------------------------------------------------


def test_list_filters_by_key_and_returns_no_values(
    api: Any, pkg: types.ModuleType, stored: str
) -> None:
    page = api.get_xcom_entries(DAG, RUN, TASK, xcom_key=stored)
    assert type(page) is pkg.XComCollectionResponse
    assert page.total_entries == 1
    (entry,) = page.xcom_entries
    assert type(entry) is pkg.XComResponse
    assert (entry.key, entry.dag_id, entry.run_id, entry.task_id) == (stored, DAG, RUN, TASK)
    assert "value" not in entry.to_dict()


def test_list_all_dags_with_patterns_order_and_paging(api: Any, pkg: types.ModuleType) -> None:
    prefix = new_key("list")
    keys = [f"{prefix}-{i}" for i in range(3)]
    for i, key in enumerate(keys):
        task_id = ["extract", "transform", "load"][i]
        api.create_xcom_entry(DAG, task_id, "run_2", pkg.XComCreateBody(key=key, value=i))

    page = api.get_xcom_entries("~", "~", "~", xcom_key_prefix_pattern=prefix, order_by=["-key"])
    assert page.total_entries == 3
    assert [e.key for e in page.xcom_entries] == keys[::-1]

    page = api.get_xcom_entries(
        "~", "~", "~", xcom_key_pattern=prefix.upper(), order_by=["key"], limit=1, offset=1
    )
    assert page.total_entries == 3
    assert [e.key for e in page.xcom_entries] == [keys[1]]

    page = api.get_xcom_entries(
        DAG, "~", "~", xcom_key_prefix_pattern=prefix, task_id_pattern="TRANS",
        run_id_prefix_pattern="run_2", dag_display_name_pattern="xcom demo",
        dag_display_name_prefix_pattern="XCom", task_id_prefix_pattern="tra",
        run_id_pattern="N_2", map_index_filter=-1,
    )  # fmt: skip
    assert [e.key for e in page.xcom_entries] == [keys[1]]


def test_list_date_filters(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    api.create_xcom_entry(DAG, TASK, "run_2", pkg.XComCreateBody(key=key, value=1))
    utc = datetime.timezone.utc
    day = datetime.datetime(2025, 1, 2, tzinfo=utc)

    def count(**filters: Any) -> int:
        return int(api.get_xcom_entries("~", "~", "~", xcom_key=key, **filters).total_entries)

    assert count(logical_date_gte=day, logical_date_lte=day) == 1
    assert count(logical_date_gt=day) == 0
    assert count(logical_date_lt=day) == 0
    assert count(logical_date_gte="2025-01-02T00:00:00Z") == 1  # strings are coerced
    assert count(run_after_lte=datetime.datetime(2000, 1, 1, tzinfo=utc)) == 0
    assert count(run_after_gt=datetime.datetime(2000, 1, 1, tzinfo=utc)) == 1
    assert count(run_after_gte=datetime.datetime(2000, 1, 1, tzinfo=utc)) == 1
    assert count(run_after_lt=datetime.datetime(2000, 1, 1, tzinfo=utc)) == 0


def test_list_with_http_info_and_without_preload(api: Any, stored: str) -> None:
    info = api.get_xcom_entries_with_http_info(DAG, RUN, TASK, xcom_key=stored)
    assert info.status_code == 200
    assert info.data.total_entries == 1
    raw = api.get_xcom_entries_without_preload_content(DAG, RUN, TASK, xcom_key=stored)
    assert raw.status == 200
    assert json.loads(raw.data)["total_entries"] == 1


def test_list_unknown_order_by_is_400(api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        api.get_xcom_entries("~", "~", "~", order_by=["no_such_column"])
    exc = assert_error(excinfo, pkg, "BadRequestException", 400)
    assert detail_of(exc) == (
        "Ordering with 'no_such_column' is disallowed or the attribute does not exist on the model"
    )


def test_list_without_credentials_is_401(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api(None).get_xcom_entries("~", "~", "~")
    assert_error(excinfo, pkg, "UnauthorizedException", 401)


def test_list_with_forged_token_is_403(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api("forged").get_xcom_entries("~", "~", "~")
    assert_error(excinfo, pkg, "ForbiddenException", 403)


def test_list_with_unparsable_limit_is_422(
    api: Any, pkg: types.ModuleType, live_server: Any
) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        api.get_xcom_entries(
            "~", "~", "~",
            _request_auth=query_param("limit", "many"),
            _headers={"Authorization": f"Bearer {live_server.token('admin')}"},
        )  # fmt: skip
    exc = assert_error(excinfo, pkg, "UnprocessableEntityException", 422)
    assert [item.actual_instance for item in exc.data.detail[0].loc] == ["query", "limit"]


# -- update_xcom_entry ------------------------------------------------------------------


def test_update_replaces_the_value(api: Any, pkg: types.ModuleType, stored: str) -> None:
    updated = api.update_xcom_entry(DAG, TASK, RUN, stored, pkg.XComUpdateBody(value=[3]))
    assert type(updated) is pkg.XComResponseNative
    assert (updated.key, updated.value) == (stored, [3])
    assert api.get_xcom_entry(DAG, TASK, RUN, stored).actual_instance.value == [3]


def test_update_to_null_with_http_info(api: Any, pkg: types.ModuleType, stored: str) -> None:
    response = api.update_xcom_entry_with_http_info(
        DAG, TASK, RUN, stored, pkg.XComUpdateBody(value=None, map_index=-1)
    )
    assert response.status_code == 200
    assert response.data.value is None
    raw = api.update_xcom_entry_without_preload_content(
        DAG, TASK, RUN, stored, pkg.XComUpdateBody(value="x")
    )
    assert (raw.status, json.loads(raw.data)["value"]) == (200, "x")


def test_update_missing_key_is_404(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    with pytest.raises(pkg.ApiException) as excinfo:
        api.update_xcom_entry(DAG, TASK, RUN, key, pkg.XComUpdateBody(value=1))
    exc = assert_error(excinfo, pkg, "NotFoundException", 404)
    assert detail_of(exc) == (
        f"The XCom with key: `{key}` with mentioned task instance doesn't exist."
    )


def test_update_without_credentials_is_401(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api(None).update_xcom_entry(DAG, TASK, RUN, "k", pkg.XComUpdateBody(value=1))
    assert_error(excinfo, pkg, "UnauthorizedException", 401)


def test_update_as_viewer_is_403(make_api: Any, pkg: types.ModuleType, stored: str) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api("viewer").update_xcom_entry(DAG, TASK, RUN, stored, pkg.XComUpdateBody(value=1))
    assert detail_of(assert_error(excinfo, pkg, "ForbiddenException", 403)) == "Forbidden"


def test_update_with_reserved_serialization_key_is_422(
    api: Any, pkg: types.ModuleType, stored: str
) -> None:
    body = pkg.XComUpdateBody(value={"__classname__": "x"})
    with pytest.raises(pkg.ApiException) as excinfo:
        api.update_xcom_entry(DAG, TASK, RUN, stored, body)
    exc = assert_error(excinfo, pkg, "UnprocessableEntityException", 422)
    assert "__classname__" in exc.data.detail[0].msg


# -- delete_xcom_entry ------------------------------------------------------------------


def test_delete_removes_the_xcom(api: Any, pkg: types.ModuleType, stored: str) -> None:
    assert api.delete_xcom_entry(DAG, TASK, RUN, stored) is None
    with pytest.raises(exceptions_of(pkg).NotFoundException):
        api.get_xcom_entry(DAG, TASK, RUN, stored)


def test_delete_with_http_info_reports_204(api: Any, pkg: types.ModuleType, stored: str) -> None:
    response = api.delete_xcom_entry_with_http_info(DAG, TASK, RUN, stored, map_index=-1)
    assert (response.status_code, response.data, response.raw_data) == (204, None, b"")


def test_delete_without_preload_content(api: Any, stored: str) -> None:
    raw = api.delete_xcom_entry_without_preload_content(DAG, TASK, RUN, stored)
    assert raw.status == 204


def test_delete_missing_key_is_404(api: Any, pkg: types.ModuleType) -> None:
    key = new_key()
    with pytest.raises(pkg.ApiException) as excinfo:
        api.delete_xcom_entry(DAG, TASK, RUN, key)
    exc = assert_error(excinfo, pkg, "NotFoundException", 404)
    assert detail_of(exc) == (
        f"The XCom with key: `{key}` with mentioned task instance doesn't exist."
    )


def test_delete_without_credentials_is_401(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api(None).delete_xcom_entry(DAG, TASK, RUN, "k")
    assert_error(excinfo, pkg, "UnauthorizedException", 401)


def test_delete_as_viewer_is_403(make_api: Any, pkg: types.ModuleType, stored: str) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api("viewer").delete_xcom_entry(DAG, TASK, RUN, stored)
    assert detail_of(assert_error(excinfo, pkg, "ForbiddenException", 403)) == "Forbidden"


def test_delete_with_unparsable_map_index_is_422(
    api: Any, pkg: types.ModuleType, live_server: Any, stored: str
) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        api.delete_xcom_entry(
            DAG, TASK, RUN, stored,
            _request_auth=query_param("map_index", "abc"),
            _headers={"Authorization": f"Bearer {live_server.token('admin')}"},
        )  # fmt: skip
    assert_error(excinfo, pkg, "UnprocessableEntityException", 422)


# -- roles that may write, and the client-side checks -------------------------------------


@pytest.mark.parametrize("role", ["user", "op", "admin"])
def test_writer_roles_can_create_update_delete(
    make_api: Any, pkg: types.ModuleType, role: str
) -> None:
    api = make_api(role)
    key = new_key(role)
    api.create_xcom_entry(DAG, "load", RUN, pkg.XComCreateBody(key=key, value=1))
    api.update_xcom_entry(DAG, "load", RUN, key, pkg.XComUpdateBody(value=2))
    api.delete_xcom_entry(DAG, "load", RUN, key)


@pytest.mark.parametrize(
    ("call", "location"),
    [
        (lambda api, pkg: api.get_xcom_entry(DAG, TASK, RUN, 1), "4"),
        (lambda api, pkg: api.get_xcom_entry(DAG, TASK, RUN, xcom_key=1), "xcom_key"),
        (lambda api, pkg: api.get_xcom_entry(DAG, TASK, RUN, "k", map_index=-2), "map_index"),
        (lambda api, pkg: api.get_xcom_entries("~", "~", "~", limit=-1), "limit"),
        (lambda api, pkg: api.get_xcom_entries("~", "~", "~", order_by="key"), "order_by"),
        (lambda api, pkg: api.delete_xcom_entry(DAG, TASK, RUN, "k", _host_index=1), "_host_index"),
        (lambda api, pkg: api.create_xcom_entry(DAG, TASK, RUN, {"value": 1}), "x_com_create_body"),
    ],
)
def test_bad_arguments_raise_pydantic_validation_error_before_sending(
    api: Any, pkg: types.ModuleType, call: Any, location: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as excinfo:
        call(api, pkg)
    assert excinfo.value.error_count() == 1
    if pkg is client_pkg:
        assert location in str(excinfo.value)


def test_exception_str_has_the_official_shape(make_api: Any, pkg: types.ModuleType) -> None:
    with pytest.raises(pkg.ApiException) as excinfo:
        make_api(None).get_xcom_entries("~", "~", "~")
    lines = str(excinfo.value).splitlines()
    assert lines[0] == "(401)"
    assert lines[1] == "Reason: Unauthorized"
    assert lines[2].startswith("HTTP response headers: HTTPHeaderDict({")
    assert lines[3] == 'HTTP response body: {"detail":"Not authenticated"}'
    assert lines[4].startswith("HTTP response data: detail=Detail(")


def test_connections_are_reused(api: Any, pkg: types.ModuleType, stored: str) -> None:
    for _ in range(5):
        api.get_xcom_entry(DAG, TASK, RUN, stored)
    manager = api.api_client.rest_client.pool_manager
    pool = manager.connection_from_url(api.api_client.configuration.host)
    assert pool.num_connections == 1
    assert pool.num_requests >= 6
