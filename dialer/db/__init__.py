"""The dialer's data layer: SQLAlchemy models, Alembic migrations and repository functions.

Open with ``open_database(url)`` (SQLite file by default, PostgreSQL by URL); it applies the
packaged migrations. Repository functions take the returned ``Database`` and commit before they
return:

- ``dialer.db.campaigns``: campaigns from TOML definitions, rules, agents, contact imports;
- ``dialer.db.repository``: claims, attempts and their events, dispositions, callbacks,
  summaries and crash recovery;
- ``dialer.db.agents``: agent accounts (scrypt password hashes) and the state audit log;
- ``dialer.db.dnc``: Do-Not-Call lists (system and per campaign), CSV import/export;
- ``dialer.db.gate``: the check just before dialing (DNC, calling hours, campaign status);
- ``dialer.db.diagnosis``: "why isn't it dialing?";
- ``dialer.db.ledger``: the compliance ledger (abandon rate over the campaign profile's
  window, ring and answer times);
- ``dialer.db.exports``: attempts, dispositions, callbacks and agent statistics as CSV;
- ``dialer.db.live``: the supervisor's live view computed from the tables.
"""

from dialer.db.database import DEFAULT_URL, Database, open_database, upgrade

__all__ = ["DEFAULT_URL", "Database", "open_database", "upgrade"]
