"""The dialer service's lease on its database: one `dialer serve` per database, a standby waits.

A second service on the same database would recover "after a crash" (marking every open attempt
interrupted), hang up the running service's channels and take its Stasis application. So
`dialer serve` takes this lease before it touches the database or Asterisk, and is refused, with
the holder named, when another service holds it.

- SQLite: an exclusive, non-blocking `fcntl.flock` on `<database file>.lock`, next to the
  database. The holder writes who it is into that file (pid, host, since when, the database). The
  kernel drops the lock when the holder's file is closed, so also when the holder dies (kill -9).
  The lock file is never deleted: deleting it would let two processes lock two different files.
- PostgreSQL: `pg_try_advisory_lock(key)` on a dedicated connection kept open for the lease's
  life (advisory locks belong to one database of the cluster; a session lock goes when its
  connection does). The connection's `application_name` says who holds it, read back from
  `pg_stat_activity` to name the holder.
- An in-memory SQLite database is private to its process: there is nothing to lease.

`acquire_lease(url, wait=True)` is a standby: it polls every second and takes over when the
holder goes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from dialer.db.database import normalize_url

logger = logging.getLogger(__name__)

POLL_S = 1.0
PG_APP_PREFIX = "opendialer-serve"
# the advisory lock's key: 64 bits of a fixed name, the same for every dialer
PG_KEY = int.from_bytes(hashlib.sha256(b"opendialer.service.lease").digest()[:8], "big",
                        signed=True)
# how pg_locks shows a bigint advisory key: classid the high 32 bits, objid the low, objsubid 1
PG_KEY_HI, PG_KEY_LO = (PG_KEY >> 32) & 0xFFFFFFFF, PG_KEY & 0xFFFFFFFF


class LeaseError(Exception):
    """The lease could not be taken or checked (an unusable lock file, an unreachable server)."""


class LeaseHeld(LeaseError):
    """Another dialer service holds the database."""

    def __init__(self, database: str, holder: Holder | None, where: str) -> None:
        self.database = database
        self.holder = holder
        self.where = where
        who = holder.describe() if holder is not None else "a process that has not said who it is"
        super().__init__(
            f"another dialer service holds the database {database}: {who} (lease {where}); "
            "stop it first, or start this one with `dialer serve --standby` to take over when "
            "it exits")


class LeaseLost(LeaseError):
    """The lease this process held is no longer its own."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease."""

    pid: int
    host: str
    since: str          # ISO 8601, UTC
    database: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since}"

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "since": self.since,
                           "database": self.database}) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["since"]),
                       str(data["database"]))
        except (ValueError, KeyError, TypeError):
            return None


def me(database: str, now: datetime | None = None) -> Holder:
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Holder(os.getpid(), socket.gethostname(), stamp, database)


class Lease:
    """A held lease; `release()` (or leaving the `with` block) gives it up. Idempotent."""

    def __init__(self, database: str, where: str, holder: Holder,
                 release: Callable[[], None], check: Callable[[], None]) -> None:
        self.database = database
        self.where = where
        self.holder = holder
        self._release = release
        self._check = check
        self.released = False

    def check(self) -> None:
        """Raise LeaseLost if the lease is no longer this process's (the lock file was
        replaced, the PostgreSQL connection dropped)."""
        if self.released:
            raise LeaseLost(f"the lease on {self.database} was released")
        self._check()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._release()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self.released else "held"
        return f"<Lease {state} on {self.database} ({self.where})>"


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database (None: in memory, or not SQLite)."""
    url = make_url(normalize_url(database_url))
    if not url.drivername.startswith("sqlite"):
        return None
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        return None
    path = Path(name).expanduser().resolve()
    return path.with_name(path.name + ".lock")


def try_acquire(database_url: str) -> Lease:
    """Take the lease now or raise LeaseHeld naming the holder."""
    url = make_url(normalize_url(database_url))
    if url.drivername.startswith("sqlite"):
        path = lock_path(database_url)
        if path is None:
            return Lease(str(url), "(in memory: nothing to lease)", me(str(url)),
                         lambda: None, lambda: None)
        return _flock(path)
    if url.drivername.startswith("postgresql"):
        return _pg_advisory(database_url)
    raise LeaseError(f"no lease for {url.drivername} databases (SQLite and PostgreSQL have one)")


def acquire_lease(database_url: str, *, wait: bool = False,
                  log: Callable[[str], None] = logger.info,
                  sleep: Callable[[float], None] = time.sleep) -> Lease:
    """The service's lease on `database_url`. Not held by another: taken at once. Held:
    `wait=False` raises LeaseHeld naming the holder; `wait=True` (standby) polls every second,
    says once per holder that it waits, and returns once the holder is gone."""
    told: list[Holder | None] = []          # the holder last named (told once per holder)
    while True:
        try:
            lease = try_acquire(database_url)
        except LeaseHeld as held:
            if not wait:
                raise
            if not told or held.holder != told[-1]:
                who = held.holder.describe() if held.holder else "an unnamed process"
                log(f"standby: waiting for the dialer service lease held by {who} "
                    f"(database {held.database}, lease {held.where})")
                told.append(held.holder)
            sleep(POLL_S)
            continue
        if told:
            log(f"standby: took over the dialer service lease on {lease.database}")
        return lease


# --- SQLite: flock on <db>.lock ---------------------------------------------------------------

def _flock(path: Path) -> Lease:
    database = str(path.with_name(path.name[: -len(".lock")]))
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise LeaseError(f"cannot open the lease file {path} of the database {database}: "
                         f"{exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise LeaseHeld(database, holder, str(path)) from None
    except OSError as exc:
        os.close(fd)
        raise LeaseError(f"cannot lock the lease file {path}: {exc.strerror}") from None
    holder = me(database)
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.to_json().encode(), 0)
    os.fsync(fd)
    inode = os.fstat(fd).st_ino

    def release() -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)            # nobody holds it now
        os.close(fd)                       # closing drops the flock

    def check() -> None:
        try:
            now = os.stat(path).st_ino
        except OSError:
            now = None
        if now != inode:
            raise LeaseLost(f"the lease file {path} was removed or replaced: another service "
                            "may take the database")

    return Lease(database, str(path), holder, release, check)


def _read_holder(fd: int) -> Holder | None:
    """The holder's own words; a holder that has just locked may not have written them yet."""
    for _ in range(5):
        holder = Holder.from_json(os.pread(fd, 4096, 0).decode(errors="replace"))
        if holder is not None:
            return holder
        time.sleep(0.02)
    return None


# --- PostgreSQL: an advisory lock on a dedicated connection -----------------------------------

def pg_app_name(holder: Holder) -> str:
    """Our connection's application_name (PostgreSQL keeps 63 bytes): pid and host."""
    return f"{PG_APP_PREFIX} pid={holder.pid} host={holder.host}"[:63]


def pg_holder(app_name: str | None, backend_start: Any, database: str) -> Holder | None:
    """Read a holder back from pg_stat_activity's application_name and backend_start."""
    if not app_name or not app_name.startswith(PG_APP_PREFIX):
        return None
    fields = dict(part.split("=", 1) for part in app_name.split()[1:] if "=" in part)
    try:
        pid = int(fields["pid"])
    except (KeyError, ValueError):
        return None
    since = (backend_start.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
             if isinstance(backend_start, datetime) else str(backend_start))
    return Holder(pid, fields.get("host", "?"), since, database)


HOLDER_SQL = """
SELECT a.application_name, a.backend_start, a.client_addr
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
      SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = :hi AND l.objid::bigint = :lo AND l.objsubid = 1
"""


def _pg_advisory(database_url: str) -> Lease:
    """UNTESTED here (no PostgreSQL on the machines we test on): the code path of the lease on a
    PostgreSQL database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    url = make_url(database_url)
    database = url.render_as_string(hide_password=True)
    holder = me(database)
    try:
        engine = create_engine(url, poolclass=NullPool,
                               connect_args={"application_name": pg_app_name(holder)})
        conn = engine.connect()
    except Exception as exc:  # noqa: BLE001 - a driver missing, a server down: say which
        raise LeaseError(f"cannot connect to {database} to take the dialer service lease: "
                         f"{exc}") from None
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": PG_KEY}).scalar()
        conn.commit()
        if not got:
            row = conn.execute(text(HOLDER_SQL), {"hi": PG_KEY_HI, "lo": PG_KEY_LO}).first()
            conn.commit()
            other = pg_holder(row[0], row[1], database) if row is not None else None
            if other is None and row is not None:
                other = Holder(-1, f"{row[2] or 'local socket'} ({row[0] or 'no name'})",
                               str(row[1]), database)
            raise LeaseHeld(database, other, f"PostgreSQL advisory lock {PG_KEY}")
    except LeaseHeld:
        conn.close()
        engine.dispose()
        raise
    except Exception as exc:  # noqa: BLE001
        conn.close()
        engine.dispose()
        raise LeaseError(f"cannot take the advisory lock on {database}: {exc}") from None

    def release() -> None:
        with contextlib.suppress(Exception):
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_KEY})
            conn.commit()
        conn.close()                       # the session lock goes with the connection anyway
        engine.dispose()

    def check() -> None:
        try:
            mine = conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid::bigint = :hi AND objid::bigint = :lo"),
                {"hi": PG_KEY_HI, "lo": PG_KEY_LO}).scalar()
            conn.commit()
        except Exception as exc:  # noqa: BLE001
            raise LeaseLost(f"the lease connection to {database} failed: {exc}") from None
        if not mine:
            raise LeaseLost(f"the advisory lock on {database} is no longer held")

    return Lease(database, f"PostgreSQL advisory lock {PG_KEY}", holder, release, check)
