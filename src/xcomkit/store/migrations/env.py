"""Alembic environment: runs migrations on the connection handed over in
``config.attributes["connection"]``, inside the caller's transaction (which holds the
migration lock; see :func:`xcomkit.store.db.migrate`)."""

from __future__ import annotations

from alembic import context

from xcomkit.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
context.run_migrations()
