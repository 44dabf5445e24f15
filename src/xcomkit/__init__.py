"""xcomkit: Apache Airflow 3's XCom REST API, standalone.

Three faces over one core: a FastAPI server (``xcomkit.server``), a drop-in for
``airflow_client.client`` (``xcomkit.client``), a modern client (``XComClient`` and
``AsyncXComClient``, below) and a CLI (``xcomkit``).
"""

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

__version__ = "0.1.0"

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
