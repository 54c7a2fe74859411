"""Alembic's environment for kb: always online, on the connection ``kb.migrations`` hands over
(already inside its locked transaction), so no alembic.ini is needed at run time."""

from __future__ import annotations

from alembic import context

from kb.models import Base

context.configure(
    connection=context.config.attributes["connection"], target_metadata=Base.metadata, render_as_batch=True
)  # SQLite alters a table by copying it; batch mode does that
with context.begin_transaction():
    context.run_migrations()
