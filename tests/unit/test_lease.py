"""The service's lease on its database: one holder, named to whoever is refused; released on
close and when the holder dies (kill -9); a standby takes over. Real lock files, real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.config.settings import REPO_ROOT
from dialer.service.lease import (
    Holder,
    LeaseError,
    LeaseHeld,
    LeaseLost,
    acquire_lease,
    lock_path,
    pg_app_name,
    pg_holder,
)

HOLD = """
import sys, time
from dialer.service.lease import acquire_lease
lease = acquire_lease(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""
TRY = """
import sys
from dialer.service.lease import LeaseHeld, acquire_lease
try:
    acquire_lease(sys.argv[1])
except LeaseHeld as exc:
    print(exc, flush=True)
    sys.exit(3)
print("acquired", flush=True)
"""


def _holder(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_a_second_acquisition_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"
    with acquire_lease(str(db)) as first:
        assert first.where == str(tmp_path / "dialer.sqlite3.lock")
        with pytest.raises(LeaseHeld) as refused:
            acquire_lease(f"sqlite:///{db}")      # the same database by URL
        held = refused.value
        assert held.holder == first.holder
        assert held.holder is not None and held.holder.pid == os.getpid()
        text = str(held)
        for part in (f"pid {os.getpid()}", socket.gethostname(), first.holder.since, str(db),
                     "dialer serve --standby"):
            assert part in text, (part, text)
        since = datetime.fromisoformat(first.holder.since.replace("Z", "+00:00"))
        assert abs((datetime.now(UTC) - since).total_seconds()) < 60
    with acquire_lease(str(db)) as again:           # released when the block ends
        assert not again.released
    assert again.released


def test_a_subprocess_is_refused_and_names_this_holder(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"
    with acquire_lease(str(db)):
        out = subprocess.run([sys.executable, "-c", TRY, str(db)], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 3, out
        assert f"pid {os.getpid()} on {socket.gethostname()}" in out.stdout
    out = subprocess.run([sys.executable, "-c", TRY, str(db)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "acquired", out


def test_held_by_another_process_then_free_when_it_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"
    proc = _holder(db)
    try:
        with pytest.raises(LeaseHeld) as refused:
            acquire_lease(str(db))
        assert refused.value.holder is not None
        assert refused.value.holder.pid == proc.pid
        assert f"pid {proc.pid}" in str(refused.value)
        assert refused.value.database == str(db)
    finally:
        _kill9(proc)
    with acquire_lease(str(db)) as lease:           # the kernel dropped the dead holder's lock
        assert lease.holder.pid == os.getpid()
        assert Holder.from_json(lock_path(str(db)).read_text()) == lease.holder  # type: ignore[union-attr]
    assert lock_path(str(db)).read_text() == ""    # type: ignore[union-attr]


def test_standby_waits_says_so_once_and_takes_over_when_the_holder_dies(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"
    proc = _holder(db)
    said: list[str] = []
    polls: list[float] = []

    def sleep(seconds: float) -> None:      # the standby's one-second poll, the holder dies
        polls.append(seconds)
        if len(polls) == 3:
            _kill9(proc)

    try:
        lease = acquire_lease(str(db), wait=True, log=said.append, sleep=sleep)
    finally:
        if proc.poll() is None:
            _kill9(proc)
    with lease:
        assert polls == [1.0, 1.0, 1.0]
        assert len(said) == 2, said
        assert said[0].startswith("standby: waiting for the dialer service lease held by "
                                  f"pid {proc.pid} on {socket.gethostname()}")
        assert "took over" in said[1]
        with pytest.raises(LeaseHeld):
            acquire_lease(str(db))


def test_standby_in_real_time_takes_over_within_a_poll(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"
    proc = _holder(db)
    got: list[float] = []

    def standby() -> None:
        with acquire_lease(str(db), wait=True, log=lambda _: None):
            got.append(time.monotonic())

    thread = threading.Thread(target=standby)
    thread.start()
    time.sleep(1.5)
    assert not got, "the standby took a lease that is held"
    killed = time.monotonic()
    _kill9(proc)
    thread.join(5)
    assert got and got[0] - killed < 1.5


def test_a_replaced_lock_file_is_a_lost_lease(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"
    lease = acquire_lease(str(db))
    lease.check()
    Path(lease.where).unlink()
    with pytest.raises(LeaseLost, match="removed or replaced"):
        lease.check()
    lease.release()
    lease.release()                                 # idempotent
    with pytest.raises(LeaseLost):
        lease.check()


def test_unusable_places_and_databases_are_named(tmp_path: Path) -> None:
    with pytest.raises(LeaseError, match=str(tmp_path / "nowhere" / "dialer.sqlite3.lock")):
        acquire_lease(str(tmp_path / "nowhere" / "dialer.sqlite3"))
    with pytest.raises(LeaseError, match="mysql"):
        acquire_lease("mysql://u@localhost/db")
    # PostgreSQL without a server (or a driver) here: a LeaseError naming the database
    with pytest.raises(LeaseError, match="cannot connect to postgresql"):
        acquire_lease("postgresql+psycopg://dialer:secret@127.0.0.1:1/dialer")
    with acquire_lease("sqlite://") as private:     # in memory: nothing to share
        assert "in memory" in private.where


def test_lock_path_sits_next_to_the_database(tmp_path: Path) -> None:
    (tmp_path / "real.sqlite3").touch()
    (tmp_path / "link.sqlite3").symlink_to(tmp_path / "real.sqlite3")
    assert lock_path(str(tmp_path / "link.sqlite3")) == tmp_path / "real.sqlite3.lock"
    assert lock_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db.lock"
    assert lock_path("sqlite://") is None
    assert lock_path("postgresql://h/db") is None


def test_the_postgresql_holder_is_read_back_from_its_application_name() -> None:
    me = Holder(4242, "dialer-host-1", "2026-01-02T03:04:05Z", "postgresql://h/db")
    name = pg_app_name(me)
    assert len(name.encode()) <= 63
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert pg_holder(name, start, "postgresql://h/db") == me
    assert pg_holder("psql", start, "x") is None
    assert pg_holder(None, start, "x") is None
    long = pg_app_name(Holder(1, "h" * 100, "", ""))
    assert len(long) == 63 and pg_holder(long, start, "x") is not None


def test_dialer_serve_is_refused_before_it_touches_the_database(tmp_path: Path) -> None:
    db = tmp_path / "dialer.sqlite3"               # not created yet: the refused start must not
    with acquire_lease(str(db)) as lease:
        env = dict(os.environ, OPENDIALER_DATABASE=str(db), OPENDIALER_LINK_PORT="1")
        out = subprocess.run([sys.executable, "-m", "dialer.cli", "serve"], cwd=REPO_ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out
        first = out.stderr.strip().splitlines()[-1]
        assert first.startswith("dialer: another dialer service holds the database "
                                f"{db}: pid {os.getpid()}"), out.stderr
        assert lease.holder.since in first
        assert not db.exists(), "the refused service created or migrated the database"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dialer.sqlite3.lock"]
