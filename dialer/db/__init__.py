"""The dialer's data layer: SQLAlchemy models, Alembic migrations and repository functions.

Open with ``open_database(url)`` (SQLite file by default, PostgreSQL by URL); it applies the
packaged migrations. Repository functions take the returned ``Database`` and commit before they
return:

- ``dialer.db.campaigns``: campaigns from TOML definitions, rules, agents, contact imports;
- ``dialer.db.repository``: claims, attempts and their events, dispositions, callbacks,
  summaries and crash recovery;
- ``dialer.db.agents``: agent accounts (scrypt password hashes) and the state audit log.
"""

from dialer.db.database import DEFAULT_URL, Database, open_database, upgrade

__all__ = ["DEFAULT_URL", "Database", "open_database", "upgrade"]
