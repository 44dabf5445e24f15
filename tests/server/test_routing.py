"""``ResourceRouter.include_in`` adds what ``app.include_router`` adds, building each route once;
``DocumentedRoute`` makes its documented responses' fields when the OpenAPI schema needs them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from xcomkit.server.models import HTTPExceptionResponse
from xcomkit.server.routes import auth, bulk, dag_runs, monitor, xcom
from xcomkit.server.routing import DocumentedRoute, ResourceRouter
from xcomkit.server.ui import router as ui_router

ROUTERS = {
    "auth": auth.router,
    "xcom": xcom.router,
    "dag_runs": dag_runs.router,
    "monitor": monitor.router,
    "bulk": bulk.router,
    "ui": ui_router,
}


def _as_fastapi_builds_it(router: ResourceRouter) -> FastAPI:
    """The app ``app.include_router`` gives for the same declarations on an ``APIRouter``."""
    plain = APIRouter(**{**router._options, "route_class": APIRoute})
    for path, endpoint, kwargs in router.operations:
        plain.add_api_route(path, endpoint, **kwargs)
    app = FastAPI(title="t", version="1")
    app.include_router(plain)
    return app


def _described(route: Any) -> dict[str, Any]:
    """Everything about a route that routing, answering or the OpenAPI schema reads."""
    if not isinstance(route, APIRoute):
        return {"type": type(route).__name__, "path": getattr(route, "path", None)}
    return {
        "path": route.path,
        "path_format": route.path_format,
        "path_regex": route.path_regex.pattern,
        "methods": route.methods,
        "name": route.name,
        "endpoint": route.endpoint,
        "status_code": route.status_code,
        "response_class": route.response_class,
        "response_model": route.response_model,
        "responses": route.responses,
        "response_fields": {
            code: (field.name, field.mode, field.field_info.annotation)
            for code, field in route.response_fields.items()
        },
        "response_field": route.response_field and route.response_field.name,
        "tags": route.tags,
        "dependencies": route.dependencies,
        "include_in_schema": route.include_in_schema,
        "deprecated": route.deprecated,
        "unique_id": route.unique_id,
        "operation_id": route.operation_id,
        "strict_content_type": route.strict_content_type,
        "calls": [d.call for d in route.dependant.dependencies],
        "query_params": [p.name for p in route.dependant.query_params],
        "path_params": [p.name for p in route.dependant.path_params],
        "body_params": [p.name for p in route.dependant.body_params],
    }


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_include_in_adds_the_routes_and_schema_include_router_adds(name: str) -> None:
    router = ROUTERS[name]
    expected = _as_fastapi_builds_it(router)
    app = FastAPI(title="t", version="1")

    router.include_in(app)

    assert [_described(r) for r in app.router.routes] == [
        _described(r) for r in expected.router.routes
    ]
    assert app.openapi() == expected.openapi()


def test_decorators_only_record_and_include_in_builds_for_the_app() -> None:
    router = ResourceRouter(prefix="/things", tags=["Things"])

    def real_caller() -> str:
        return "real"

    @router.get("/{thing_id}")
    async def get_thing(thing_id: int, caller: str = Depends(real_caller)) -> dict[str, Any]:
        return {"thing_id": thing_id, "caller": caller}

    assert router.routes == []  # nothing built at declaration
    assert [(path, endpoint) for path, endpoint, _ in router.operations] == [
        ("/{thing_id}", get_thing)
    ]

    first, second = FastAPI(), FastAPI()
    router.include_in(first)
    router.include_in(second)
    second.dependency_overrides[real_caller] = lambda: "override"

    built = [r for r in first.router.routes if isinstance(r, APIRoute)]
    assert [(r.path, r.methods, r.tags) for r in built] == [
        ("/things/{thing_id}", {"GET"}, ["Things"])
    ]
    assert built[0].dependency_overrides_provider is first
    # Each app's dependency_overrides reach its own routes only.
    assert TestClient(first).get("/things/7").json() == {"thing_id": 7, "caller": "real"}
    assert TestClient(second).get("/things/7").json() == {"thing_id": 7, "caller": "override"}
    assert TestClient(second).get("/things/x").status_code == 422


def test_documented_responses_become_fields_when_the_schema_is_built() -> None:
    router = ResourceRouter(prefix="/things", responses={404: {"model": HTTPExceptionResponse}})

    @router.get("/{thing_id}", responses={409: {"model": HTTPExceptionResponse}})
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"thing_id": thing_id}

    app = FastAPI()
    router.include_in(app)
    (route,) = [r for r in app.router.routes if isinstance(r, DocumentedRoute)]
    assert "response_fields" not in vars(route)  # not made with the route

    schema = app.openapi()

    assert sorted(route.response_fields) == [404, 409]
    assert route.response_fields[404].name == f"Response_404_{route.unique_id}"
    answers = schema["paths"]["/things/{thing_id}"]["get"]["responses"]
    assert answers["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPExceptionResponse"
    }
    assert "HTTPExceptionResponse" in schema["components"]["schemas"]
