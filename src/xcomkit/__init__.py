"""xcomkit: Apache Airflow 3's XCom REST API, standalone.

Three faces over one core: a FastAPI server (``xcomkit.server``), a drop-in for
``airflow_client.client`` (``xcomkit.client``), a modern client (``XComClient`` and
``AsyncXComClient``, below) and a CLI (``xcomkit``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from xcomkit.modern import (
        AsyncXComClient,
        XComAuthError,
        XComBadRequest,
        XComClient,
        XComConflict,
        XComConnectionError,
        XComEntry,
        XComError,
        XComNotFound,
        XComPage,
        XComServerError,
        XComValidationError,
    )


def __getattr__(name: str) -> Any:
    # The client is imported on first use, so the server does not pay for it at start-up.
    if name in __all__ and name != "__version__":
        import xcomkit.modern

        return getattr(xcomkit.modern, name)
    raise AttributeError(f"module 'xcomkit' has no attribute {name!r}")


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
    "__version__",
]
