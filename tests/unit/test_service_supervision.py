"""The service's supervision, without Asterisk: a supervised task that ends stops the service
with a reason (its own supervisor restarts it), and the database writer keeps order and retries
a locked database instead of losing the write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy.exc import OperationalError

from dialer.db.database import open_database
from dialer.service.engine import Engine
from dialer.service.trunk_use import LiveTrunks
from dialer.service.writer import DbWriter


def test_the_service_stops_with_a_reason_when_its_database_writer_is_gone(
        tmp_path: Path) -> None:
    async def main() -> Engine:
        engine = Engine(open_database(tmp_path / "d.sqlite3"), None, LiveTrunks([]))  # type: ignore[arg-type]
        engine.writer = DbWriter(asyncio.get_running_loop())
        engine._spawn(engine._watch(every=0.01), "watchdog")
        await asyncio.sleep(0.05)
        assert not engine.stopped.is_set()
        engine.writer.stop()
        await asyncio.wait_for(engine.stopped.wait(), 2)
        return engine

    engine = asyncio.run(main())
    assert engine.fatal is not None and "database writer thread is gone" in engine.fatal


def test_writes_run_in_order_and_messages_wait_for_them() -> None:
    async def main() -> list[str]:
        seen: list[str] = []
        writer = DbWriter(asyncio.get_running_loop())
        writer.submit(lambda: (time.sleep(0.05), seen.append("write 1")))
        writer.after_writes(lambda: seen.append("message after 1"))
        writer.submit(lambda: seen.append("write 2"),
                      then=lambda _r, _e: seen.append("follow-up of 2"))
        writer.after_writes(lambda: seen.append("message after 2"))
        await writer.drain(timeout=5)
        writer.stop()
        return seen

    seen = asyncio.run(main())
    at = {what: i for i, what in enumerate(seen)}
    assert at["write 1"] < at["message after 1"] < at["message after 2"]
    assert at["write 1"] < at["write 2"] < at["follow-up of 2"] < at["message after 2"]


def test_a_locked_database_is_retried_until_the_write_lands(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    sqlite3.connect(path).execute("create table t (x int)").connection.commit()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("begin exclusive")
    release = threading.Timer(0.6, lambda: holder.execute("commit"))

    def write() -> int:
        con = sqlite3.connect(path, timeout=0.05)
        try:
            con.execute("insert into t values (1)")
            con.commit()
        except sqlite3.OperationalError as exc:
            raise OperationalError("insert", {}, exc) from exc
        finally:
            con.close()
        return 1

    async def main() -> tuple[int, float]:
        writer = DbWriter(asyncio.get_running_loop(), retry_max=0.1)
        t0 = time.monotonic()
        release.start()
        result = await asyncio.wait_for(writer.submit(write), 20)
        writer.stop()
        return result, time.monotonic() - t0

    result, took = asyncio.run(main())
    assert result == 1 and took >= 0.5
    assert sqlite3.connect(path).execute("select count(*) from t").fetchone() == (1,)


def test_the_database_is_shown_without_its_password() -> None:
    from dialer.cli.admin import shown_database

    shown = shown_database("postgresql+psycopg://dialer:s3cret@db.example:5432/dialer")
    assert "s3cret" not in shown and "db.example:5432/dialer" in shown
    assert shown_database("/var/lib/opendialer/dialer.sqlite3") == (
        "/var/lib/opendialer/dialer.sqlite3")
