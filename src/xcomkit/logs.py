"""Log set-up for the server: plain text or one JSON object per line.

``xcomkit serve --log-format json`` (or ``XCOMKIT_LOG_FORMAT=json``) writes every xcomkit
and uvicorn record as a JSON object (python-json-logger), the fields of audit records
(:mod:`xcomkit.server.audit`) as top-level keys; ``text`` (the default) writes
``LEVEL logger: message`` lines, audit records as ``key=value`` pairs.
"""

from __future__ import annotations

from typing import Any, Literal

LogFormat = Literal["text", "json"]

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JSON = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_config(fmt: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dictionary for xcomkit's and uvicorn's loggers.

    ``level`` applies to xcomkit's loggers (audit records are INFO); uvicorn's own stay at
    WARNING, and its access log is off (the audit log records every write).
    """
    formatter: dict[str, Any] = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": _JSON}
        if fmt == "json"
        else {"format": _TEXT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "xcomkit": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
