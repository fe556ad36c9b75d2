"""A 100,000-row list import in another process, as background load for the call-floor benchmarks.

`ImportLoad.prepare` writes the messy 100,000-row list of bench/import_list.py and creates its
campaign (never started) in the benchmark's database; `start` runs the real `dialer list import
<campaign> <file>` against the same SQLite file (OPENDIALER_DATABASE) in a child process and
timestamps its progress lines as they arrive, so the benchmark can tell when the import ran and
when it held the database's write lock (`latency_stats.store_window`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from import_list import CAMPAIGN, generate  # bench/import_list.py
from latency_stats import Window, parse_progress, store_window

from dialer.config.campaign import loads_campaign
from dialer.db.campaigns import create_campaign
from dialer.db.database import Database

CLI = "import sys; from dialer.cli import main; sys.exit(main())"


class ImportLoad:
    def __init__(self, db_path: Path, folder: Path, rows: int = 100_000,
                 campaign: str = "bench-import") -> None:
        self.db_path = db_path
        self.csv = folder / "import-load.csv"
        self.rows = rows
        self.campaign = campaign
        self.started: float | None = None
        self.ended: float | None = None
        self.progress: list[tuple[float, int, int]] = []
        self.rc: int | None = None
        self.output = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def prepare(self, db: Database) -> None:
        """The list file and its campaign (another campaign of the same database)."""
        generate(self.csv, self.rows)
        text = re.sub(r'name = "bench"', f'name = "{self.campaign}"', CAMPAIGN)
        create_campaign(db, loads_campaign(text))

    def start(self) -> None:
        env = dict(os.environ, OPENDIALER_DATABASE=str(self.db_path))
        self.started = time.time()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "list", "import", self.campaign, str(self.csv)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, name="import-load", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        fd = self._proc.stderr.fileno()
        pending, text = b"", []
        while chunk := os.read(fd, 4096):
            seen = time.time()
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for raw in lines:
                line = raw.decode(errors="replace")
                got = parse_progress(line)
                if got is not None:
                    self.progress.append((seen, *got))
                elif line.strip():
                    text.append(line)
        self.rc = self._proc.wait()
        self.ended = time.time()
        out = self._proc.stdout.read().decode(errors="replace") if self._proc.stdout else ""
        self.output = "\n".join([*text, out.strip()]).strip()

    @property
    def done(self) -> bool:
        return self.ended is not None

    def wait(self, timeout: float = 300) -> None:
        """Until the import ended; raises if it failed (its output named) or ran out of time."""
        assert self._reader is not None
        self._reader.join(timeout)
        if self._reader.is_alive():
            assert self._proc is not None
            self._proc.kill()
            raise RuntimeError(f"the {self.rows}-row import did not end in {timeout:.0f} s")
        if self.rc != 0:
            raise RuntimeError(f"the {self.rows}-row import failed (exit {self.rc}): "
                               f"{self.output}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)

    @property
    def run_window(self) -> Window:
        assert self.started is not None and self.ended is not None
        return Window(self.started, self.ended)

    @property
    def store(self) -> Window | None:
        assert self.ended is not None
        return store_window(self.progress, self.ended)
