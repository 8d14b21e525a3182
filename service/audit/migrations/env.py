"""Alembic's environment for the audit store: migrate the connection `migrate` hands over.

Alembic executes this module; imported any other way (a doctest run), it does nothing.
"""

from __future__ import annotations

from alembic import context


def _run() -> None:
    connection = context.config.attributes["connection"]
    # Batch mode: a later revision's ALTER becomes SQLite's copy-and-rename where needed.
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # set only while Alembic runs this environment
    _run()
