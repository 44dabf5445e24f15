"""``HTTPExceptionResponse``: the body of Airflow's 400/401/403/404/409 answers."""

from __future__ import annotations

from typing import ClassVar

from xcomkit.client.models._base import ApiModel
from xcomkit.client.models.detail import Detail


class HTTPExceptionResponse(ApiModel):
    """``{"detail": <str or object>}``, e.g. ``{"detail": "Not authenticated"}``.

    ``detail`` is a :class:`Detail`; the message itself is ``detail.actual_instance``.
    """

    _nested: ClassVar[tuple[str, ...]] = ("detail",)

    detail: Detail
