"""Benchmark: import a generated 100,000-row calling list (check + store) into a fresh SQLite
database, and print ``import_rows_per_s=<x>``.

    .venv/bin/python bench/import_list.py [--rows 100000] [--keep DIR]

The list is messy on purpose, as real lists are: Latin-1 with a semicolon delimiter, national
and international number formats, two numbers per contact (chained), a state column, quoted
names with the delimiter inside. ``generate`` is also used by the unit test.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dialer.config.campaign import loads_campaign  # noqa: E402
from dialer.db import open_database  # noqa: E402
from dialer.db.campaigns import create_campaign, import_contacts  # noqa: E402
from dialer.lists import read_list  # noqa: E402

AREAS = ("212", "310", "312", "415", "617", "702", "305", "206", "713", "404", "503", "602")
STATES = ("NY", "CA", "IL", "CA", "MA", "NV", "FL", "WA", "TX", "GA", "OR", "AZ")
CAMPAIGN = """
[campaign]
name = "bench"
mode = "progressive"
caller_id = "+12125550100"
trunk = "carrier"
time_zone = "America/New_York"

[[disposition]]
code = "SALE"
final = true
"""


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """A messy list of ``rows`` contacts with unique numbers."""
    rng = random.Random(seed)
    lines = ["Nom;Téléphone;Mobile;State;Company;Notes"]
    for i in range(rows):
        k = rng.randrange(len(AREAS))
        area, state = AREAS[k], STATES[k]
        exchange, line = 200 + i // 10_000, i % 10_000
        phone = rng.choice(
            (
                f"({area}) {exchange:03d}-{line:04d}",
                f"{area}-{exchange:03d}-{line:04d}",
                f"+1 {area} {exchange:03d} {line:04d}",
                f"1{area}{exchange:03d}{line:04d}",
            )
        )
        mobile = f"+1{AREAS[(k + 1) % len(AREAS)]}{exchange + 100:03d}{line:04d}"
        lines.append(f'"Dupont; Jean {i}";{phone};{mobile};{state};Société {i % 97};"note {i}"')
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))


def run(rows: int, folder: Path) -> float:
    """Generate, check and store; print the figures; return rows per second."""
    csv_path = folder / "list.csv"
    generate(csv_path, rows)
    for old in folder.glob("bench.sqlite3*"):
        old.unlink()  # a fresh database each run
    db = open_database(folder / "bench.sqlite3")
    try:
        cid = create_campaign(db, loads_campaign(CAMPAIGN), now=datetime.now(UTC))
        started = time.perf_counter()
        parsed = read_list(csv_path, "US")
        checked = time.perf_counter()
        if parsed.errors:
            raise SystemExit(f"unexpected rejected rows: {parsed.errors[:3]}")
        import_contacts(db, cid, parsed)
        stored = time.perf_counter()
    finally:
        db.close()
    total = stored - started
    rate = rows / total
    print(
        f"rows={rows} check_s={checked - started:.2f} store_s={stored - checked:.2f} "
        f"total_s={total:.2f} ({parsed.encoding}, delimiter {parsed.delimiter!r})"
    )
    print(f"import_rows_per_s={rate:.0f}")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="folder to keep the list and database in")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args.rows, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(args.rows, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
