"""The server the client tests talk to: ``xcom_target``.

``XCOMKIT_CLIENT_TARGET`` picks it:

- ``live`` (default, what ``make test`` runs): xcomkit under uvicorn (``live_server``);
- ``airflow``: a real Apache Airflow 3.3.2 started by ``compat/airflow_ref.py``
  (minutes on first use);
- ``url``: a server already running at ``XCOMKIT_REF_BASE_URL`` with one bearer token per
  role in ``XCOMKIT_REF_TOKEN_ADMIN`` / ``_USER`` / ``_OP`` / ``_VIEWER`` (e.g. the output
  of ``python compat/airflow_ref.py up``).

Both need the DAGs and runs of tests/data/manifest.yaml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class XComTarget:
    """Where to send requests: ``base_url`` and a bearer token per role."""

    name: str
    base_url: str
    tokens: dict[str, str] | None = None
    source: Any = None  # an object with token(role), when tokens are not fixed

    def token(self, role: str) -> str:
        if self.tokens is not None:
            return self.tokens[role]
        return str(self.source.token(role))


@pytest.fixture(scope="session")
def xcom_target(request: pytest.FixtureRequest) -> Iterator[XComTarget]:
    kind = os.environ.get("XCOMKIT_CLIENT_TARGET", "live")
    if kind == "live":
        server = request.getfixturevalue("live_server")
        yield XComTarget("xcomkit", server.base_url, source=server)
    elif kind == "url":
        tokens = {
            role: os.environ[f"XCOMKIT_REF_TOKEN_{role.upper()}"]
            for role in ("admin", "user", "op", "viewer")
        }
        yield XComTarget("url", os.environ["XCOMKIT_REF_BASE_URL"].rstrip("/"), tokens=tokens)
    elif kind == "airflow":
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from compat.airflow_ref import reference_airflow

        with reference_airflow() as ref:
            yield XComTarget("airflow", ref.base_url, source=ref)
    else:
        raise pytest.UsageError(f"XCOMKIT_CLIENT_TARGET={kind!r}: use live, airflow or url")
