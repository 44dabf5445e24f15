"""One router per HTTP resource, whose routes FastAPI builds once: in the app that serves them.

FastAPI builds a route (its dependency tree, its pydantic fields and validators) when a
path decorator such as ``@router.get(...)`` runs, and ``app.include_router(router)``
builds every route of the router a second time, for the app (so that the app's
``dependency_overrides`` reach it); the first build is never served. For xcomkit's 21
routes the second build cost ~35 ms of the ~0.75 s of CPU before the first answer
(docs/performance.md, "Start-up"). Later FastAPI releases (0.138 on) keep included
routers instead of copying their routes; xcomkit pins the release Airflow 3.3.2 ships
(pyproject.toml).

A :class:`ResourceRouter` is declared and decorated like an ``APIRouter``; its
decorators only record their arguments, and :meth:`ResourceRouter.include_in` builds
each route once, for the app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi._compat import ModelField
from fastapi.datastructures import Default
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field, generate_unique_id, get_value_or_default


class DocumentedRoute(APIRoute):
    """An ``APIRoute`` that turns the models of its documented responses into pydantic
    fields when the OpenAPI schema is first built, instead of when the route is built.

    ``responses={404: {"model": HTTPExceptionResponse}, ...}`` documents an answer;
    FastAPI makes a field (a pydantic ``TypeAdapter``) of each such model for each route,
    read only to write the OpenAPI schema. xcomkit documents up to nine error answers per
    route: ~160 fields, ~25 ms of each start (docs/performance.md, "Start-up"). Here
    ``response_fields`` is made on first use, with the names and modes FastAPI gives
    them; everything else is FastAPI's (tests/server/test_routing.py compares the
    schemas).
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        responses: dict[int | str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        documented = responses or {}
        without_models = {
            code: {key: value for key, value in response.items() if key != "model"}
            for code, response in documented.items()
        }
        super().__init__(path, endpoint, responses=without_models, **kwargs)
        self.responses = documented
        del self.response_fields  # the empty dict set above; made on first use below

    @cached_property
    def response_fields(self) -> dict[int | str, ModelField]:  # type: ignore[override]
        """The documented responses' models as fields, by status code (as FastAPI makes them)."""
        return {
            code: create_model_field(
                name=f"Response_{code}_{self.unique_id}",
                type_=response["model"],
                mode="serialization",
            )
            for code, response in self.responses.items()
            if response.get("model")
        }


class ResourceRouter(APIRouter):
    """An ``APIRouter`` whose path operations are built by :meth:`include_in`, once per app.

    Declared and used like an ``APIRouter`` (``prefix``, ``tags``, ``responses``, ...;
    ``@router.get(...)`` and the other decorators), except that its ``routes`` stay empty:
    each decorator records its arguments. ``router.include_in(app)`` then adds to ``app``
    the routes ``app.include_router(router)`` would add (same paths, methods, names,
    responses, dependencies and OpenAPI operations, with ``app`` as their provider of
    ``dependency_overrides``), building each once instead of twice.

    A ``ResourceRouter`` has no lifespan or event handlers of its own, and is included in
    an app, not in another router.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("route_class", DocumentedRoute)
        super().__init__(**options)
        self._options = options
        self._operations: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Record a path operation (called by the decorators); :meth:`include_in` builds it."""
        self._operations.append((path, endpoint, kwargs))

    @property
    def operations(self) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
        """The recorded path operations: (path, endpoint, ``add_api_route`` keywords)."""
        return list(self._operations)

    def include_in(self, app: FastAPI) -> None:
        """Build each recorded route, once, and add it to ``app``'s routes (in order).

        Each route gets what ``app.include_router(self)`` gives it: this router's settings
        combined with the app router's, as ``include_router`` and the app router's
        ``add_api_route`` combine them (tests/server/test_routing.py compares the two).
        """
        own, top = self, app.router
        builder = APIRouter(
            **{
                **self._options,
                "prefix": top.prefix + own.prefix,
                "tags": [*top.tags, *own.tags],
                "dependencies": [*top.dependencies, *own.dependencies],
                "responses": {**top.responses, **own.responses},
                "callbacks": [*top.callbacks, *own.callbacks],
                "deprecated": own.deprecated or top.deprecated,
                "include_in_schema": own.include_in_schema and top.include_in_schema,
                "default_response_class": get_value_or_default(
                    own.default_response_class, Default(JSONResponse), top.default_response_class
                ),
                "generate_unique_id_function": get_value_or_default(
                    own.generate_unique_id_function,
                    Default(generate_unique_id),
                    top.generate_unique_id_function,
                ),
                "strict_content_type": get_value_or_default(
                    own.strict_content_type, top.strict_content_type
                ),
                "dependency_overrides_provider": app,
            }
        )
        for path, endpoint, kwargs in self._operations:
            builder.add_api_route(path, endpoint, **kwargs)
        top.routes.extend(builder.routes)
