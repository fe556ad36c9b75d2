"""Opening the database: engine set-up (SQLite pragmas) and Alembic upgrades.

``open_database(url)`` brings the schema to the newest migration and returns a ``Database``
holding the engine and a session factory. SQLite is the default (a file path or ``sqlite:///``
URL); on SQLite every connection gets WAL journaling, foreign keys, a busy timeout and
``synchronous=NORMAL`` (in WAL mode a committed transaction survives a crash of the dialer
process; ``synchronous="FULL"`` also survives power loss). PostgreSQL works by URL
(``postgresql+psycopg://...``) once a driver is installed.

A SQLite file holds customers' personal data and agents' password hashes: it is created 0600
(and an existing one, with its ``-wal`` and ``-shm``, set to 0600) before SQLite opens it;
SQLite gives the ``-wal`` and ``-shm`` it creates the mode of the database file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///dialer.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
SQLITE_FILE_MODE = 0o600


class Database:
    """The engine and session factory of one database; sessions never expire on commit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def session(self) -> Session:
        return self.sessions()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def normalize_url(url_or_path: str | Path | None) -> str:
    """Accept a SQLAlchemy URL or a plain file path (taken as SQLite)."""
    if url_or_path is None:
        return DEFAULT_URL
    text = str(url_or_path)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def make_engine(url: str | Path | None = None, synchronous: str = "NORMAL") -> Engine:
    """Create an engine; on SQLite, install the per-connection pragmas."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )
    if engine.url.database and engine.url.database != ":memory:":
        private_sqlite_file(Path(engine.url.database))
    if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        finally:
            cursor.close()

    return engine


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file at ``path`` readable by its owner only, or set an existing one
    (and its ``-wal``/``-shm``) to that. A missing directory is left for SQLite to report."""
    if not path.parent.is_dir():
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, SQLITE_FILE_MODE)
    try:
        os.fchmod(fd, SQLITE_FILE_MODE)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(SQLITE_FILE_MODE)


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` over one of our engines (pragmas included)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def upgrade(url: str | Path | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating the file if needed)."""
    engine = make_engine(url)
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def open_database(
    url: str | Path | None = None, migrate: bool = True, synchronous: str = "NORMAL"
) -> Database:
    """Open (and by default migrate) the database at ``url``; SQLite file by default."""
    engine = make_engine(url, synchronous)
    if migrate:
        upgrade_engine(engine)
    return Database(engine)
