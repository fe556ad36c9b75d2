"""The 100,000-row import (bench/import_list.py): all rows stored, with progress; the speed is
printed (import_rows_per_s=...), not asserted, since it depends on the machine."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from dialer.db import open_database
from dialer.db.campaigns import campaign_id_by_name, count_contacts
from tests.unit.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("import_list")


def test_import_100k_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rate = _bench().run(100_000, tmp_path)
    out = capsys.readouterr().out
    assert "import_rows_per_s=" in out
    with capsys.disabled():
        print(f"\n100k-row list: {out.strip().splitlines()[0]}; import_rows_per_s={rate:.0f}")
    db = open_database(tmp_path / "bench.sqlite3")
    try:
        cid = campaign_id_by_name(db, "bench")
        assert cid is not None and count_contacts(db, cid) == 100_000
    finally:
        db.close()
