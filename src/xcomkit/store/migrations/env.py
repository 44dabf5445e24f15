"""Alembic environment: runs migrations on the connection handed over in
``config.attributes["connection"]``, inside the caller's transaction (which holds the
migration lock; see :func:`xcomkit.store.db.migrate`)."""

from __future__ import annotations

from alembic import context

from xcomkit.store import search
from xcomkit.store.schema import metadata


def _include_name(name: str | None, _type: str, _parents: object) -> bool:
    # The search index's objects are made by raw SQL (see xcomkit.store.search), not
    # declared in the metadata: comparisons leave them out.
    return not search.owns_name(name)


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=_include_name,
)
context.run_migrations()
