"""What an operation reports to its caller when it cannot be done: the domain errors.

Each carries a user-facing ``detail`` (Airflow's wording where Airflow reports the same
case). They know nothing of HTTP: :mod:`xcomkit.server.errors` maps each class to its
status code in one list.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of the errors an operation reports; ``detail`` is user-facing (a string, or
    for some Airflow answers an object)."""

    def __init__(self, detail: Any):
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServiceError):
    """The request cannot be carried out as asked."""


class NotFound(ServiceError):
    """A DAG, task, DAG run or XCom does not exist."""


class Conflict(ServiceError):
    """The thing to create exists already, or its state forbids the change."""


class ValueTooLarge(ServiceError):
    """An XCom value's stored JSON is longer than the server's ``max_value_bytes``
    (beyond Airflow, which has no such limit)."""


class TooManyAttempts(ServiceError):
    """Too many failed logins for this user or client in the window.

    ``retry_after`` is the number of whole seconds until the window reopens;
    ``client_blocked``, when the client address itself is at its limit, the time (seconds
    since the epoch) until which every login from it is refused.
    """

    def __init__(self, detail: Any, retry_after: int, client_blocked: float | None = None):
        super().__init__(detail)
        self.retry_after = retry_after
        self.client_blocked = client_blocked
