"""Alembic environment for the dialer's schema.

Run programmatically by ``dialer.db.upgrade()`` / ``open_database()``, which hand over a live
connection in ``config.attributes["connection"]`` so the SQLite pragmas apply. New revisions:
``alembic -x url=sqlite:///dev.sqlite3 revision --autogenerate`` with ``script_location`` set to
this folder (see ``dialer.db.database.alembic_config``). ``render_as_batch`` keeps SQLite
ALTERs working.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dialer.db.database import make_engine
from dialer.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
