"""Alembic's environment for kb: runs on the connection kb.migrate hands it (never a URL
of its own), against the models' metadata."""

from __future__ import annotations

from alembic import context

from kb import models  # noqa: F401  (registers every table on the metadata)
from kb.extensions import db

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=db.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
