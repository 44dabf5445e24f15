"""xcomkit's own XCom clients: typed results, retries, token refresh, sync and async.

    from xcomkit.modern import XComClient

    with XComClient("http://127.0.0.1:8080", username="admin", password="...") as xcom:
        xcom.push("xcom_demo", "run_1", "extract", "rows", [1, 2, 3])
        entry = xcom.pull("xcom_demo", "run_1", "extract", "rows")   # entry.value == [1, 2, 3]

:class:`XComClient` (blocking) and :class:`AsyncXComClient` (asyncio) share one API and
one set of rules (``_base``); their results are :class:`XComEntry` and :class:`XComPage`,
their errors subclasses of :class:`XComError`. For a drop-in replacement of
``airflow_client.client`` see :mod:`xcomkit.client` instead.
"""

from ._async import AsyncXComClient
from ._sync import XComClient
from .errors import (
    XComAuthError,
    XComBadRequest,
    XComConflict,
    XComConnectionError,
    XComError,
    XComNotFound,
    XComServerError,
    XComValidationError,
)
from .models import XComEntry, XComPage

__all__ = [
    "AsyncXComClient",
    "XComAuthError",
    "XComBadRequest",
    "XComClient",
    "XComConflict",
    "XComConnectionError",
    "XComEntry",
    "XComError",
    "XComNotFound",
    "XComPage",
    "XComServerError",
    "XComValidationError",
]
