"""Do-Not-Call lists from CSV: read and validate, without touching the database.

The same reader as calling lists (``dialer.lists``: encodings, delimiters, quoting, national
numbers in a default region, line numbers), with a simpler shape: every phone column
(``phone``, ``number``, ``e164``, ...) holds numbers to list, an optional ``reason`` (or
``note``/``comment``) column says why, and every other column is ignored. A number listed
twice in the file is kept once (``ParsedDnc.repeated`` counts them); a row with a bad number,
without any number, or with the wrong number of fields is rejected with its line, and
``dialer.db.dnc.import_dnc`` stores nothing of a file with a rejected row. The export written
by ``dialer.db.dnc.dnc_rows`` reads back as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import phonenumbers

from dialer.lists import (
    DELIMITERS,
    ListError,
    NumberError,
    RowError,
    RowReader,
    decode,
    normalize_number,
    sniff_delimiter,
)

_NUMBER_HEADER: Final = re.compile(
    r"^(e164|phone|phone_?number|telephone|tel|mobile|cell|cellphone|number|msisdn)_?\d*$"
)
_REASON_HEADER: Final = frozenset({"reason", "note", "notes", "comment", "comments"})


@dataclass(frozen=True)
class DncRow:
    """One number to list, from line ``line``."""

    line: int
    e164: str
    reason: str | None = None


@dataclass(frozen=True)
class ParsedDnc:
    """The outcome of reading one DNC file."""

    rows: tuple[DncRow, ...]
    errors: tuple[RowError, ...]
    repeated: int
    encoding: str
    delimiter: str

    @property
    def ok(self) -> bool:
        return not self.errors


def read_dnc(path: str | Path, default_region: str = "US") -> ParsedDnc:
    """``parse_dnc`` on a file's bytes."""
    return parse_dnc(Path(path).read_bytes(), default_region)


def parse_dnc(data: bytes, default_region: str = "US") -> ParsedDnc:
    """Validate a DNC CSV file (see the module docstring); never raises for a bad row."""
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default region {default_region!r}")
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    assert delimiter in DELIMITERS
    reader = RowReader(text, delimiter)
    first = reader.next_row()
    if first is None:
        raise ListError("line 1: the file is empty (a header line is expected)")
    line, header = first
    if isinstance(header, RowError):
        raise ListError(f"header: {header}")
    keys = [re.sub(r"[\s\-.]+", "_", h.strip().lower()) for h in header]
    phones = [i for i, k in enumerate(keys) if _NUMBER_HEADER.match(k)]
    if not phones:
        raise ListError(f"line {line}: no phone column in the header {header}")
    reason_at = next((i for i, k in enumerate(keys) if k in _REASON_HEADER), None)
    rows: list[DncRow] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    repeated = 0
    while (item := reader.next_row()) is not None:
        line, cells = item
        if isinstance(cells, RowError):
            errors.append(cells)
            continue
        if len(cells) != len(header):
            errors.append(RowError(line, f"has {len(cells)} fields, the header has {len(header)}"))
            continue
        reason = cells[reason_at].strip() or None if reason_at is not None else None
        found: list[str] = []
        bad: RowError | None = None
        for i in phones:
            if not cells[i].strip():
                continue
            try:
                found.append(normalize_number(cells[i], region))
            except NumberError as exc:
                bad = RowError(line, f"{header[i].strip()}: {exc}")
                break
        if bad is None and not found:
            bad = RowError(line, "no phone number")
        if bad is not None:
            errors.append(bad)
            continue
        for number in found:
            if number in seen:
                repeated += 1
                continue
            seen.add(number)
            rows.append(DncRow(line, number, reason))
    return ParsedDnc(tuple(rows), tuple(errors), repeated, encoding, delimiter)
