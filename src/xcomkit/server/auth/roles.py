"""Roles and what they may do, as Airflow's simple auth manager grants them for DAG data.

``viewer`` reads; ``user``, ``op`` and ``admin`` read and write XComs and DAG runs.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("viewer", "user", "op", "admin")
_WRITERS = frozenset({"user", "op", "admin"})


def normalize_role(role: str) -> str:
    """Lower-case ``role`` and check it is known.

    Raises:
        ValueError: not one of :data:`ROLES`.
    """
    r = role.strip().lower()
    if r not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of: {', '.join(ROLES)}")
    return r


def can_write(role: str) -> bool:
    """True when ``role`` may create, update or delete XComs and create DAG runs."""
    return role in _WRITERS
