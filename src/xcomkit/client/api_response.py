"""The result of an ``*_with_http_info`` call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBytes, StrictInt

T = TypeVar("T")


class ApiResponse(BaseModel, Generic[T]):
    """One HTTP answer with its parsed body.

    ``status_code`` (int), ``headers`` (a plain ``dict`` of response headers, as the
    official client gives; repeated headers joined with ``", "``), ``data`` (the parsed
    model, or None for 204) and ``raw_data`` (the body bytes).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status_code: StrictInt = Field(description="HTTP status code")
    headers: Mapping[str, str] | None = Field(None, description="HTTP headers")
    data: T = Field(description="Deserialized data given the data type")
    raw_data: StrictBytes = Field(description="Raw data (HTTP response body)")
