"""Calling lists from CSV: decode, split, validate and normalise, without touching the database.

``parse_list(data, default_region)`` (or ``read_list(path, ...)``) returns a ``ParsedList``: the
valid rows as ``NewContact`` values and every rejected row as a ``RowError`` with its line number
(the physical line where the row starts, counting the header as line 1) and the reason. The data
layer stores a list only when it has no error at all (``dialer.db.campaigns.import_contacts``),
so a list is never half-imported.

What it copes with:

- encoding: UTF-8 with or without a byte-order mark, else Latin-1 (Excel on Windows); UTF-16
  when it starts with its byte-order mark;
- delimiter: ``,`` ``;`` or tab, whichever the header line uses most (or given);
- quoting: fields in double quotes may hold delimiters, quotes (doubled) and line breaks;
- numbers: national formats are read in the campaign's default region and stored in E.164
  (``phonenumbers``); a number that is not a valid one is rejected, not guessed;
- columns: phone columns are found by name (``phone``, ``phone2``, ``mobile``, ``number``, ...)
  or named; a ``time_zone``/``tz`` column gives the contact's IANA zone, else the number's zone
  when the number has exactly one; every other column becomes a custom field, renamed through
  ``field_map`` if given;
- rows: blank lines are skipped; a row with more or fewer fields than the header, without any
  number, with a bad number or time zone, with control characters, or repeating a number of an
  earlier row is rejected.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

DELIMITERS: Final = (",", ";", "\t")
TIME_ZONE_COLUMNS: Final = frozenset({"time_zone", "timezone", "tz"})
_PHONE_HEADER = re.compile(
    r"^(phone|phone_?number|telephone|tel|mobile|cell|cellphone|number|msisdn)_?\d*$"
)
_UNKNOWN_ZONE = "Etc/Unknown"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ListError(ValueError):
    """The file as a whole cannot be read as a calling list (no header, no phone column...)."""


class ListRejected(ValueError):
    """A list with rejected rows: nothing of it was stored."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = tuple(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} rejected row(s), nothing imported: {shown}{more}")


class NumberError(ValueError):
    """A phone number that cannot be normalised to E.164."""


@dataclass(frozen=True)
class RowError:
    """One rejected row: its first physical line and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class NewContact:
    """A valid row ready to store: E.164 numbers in dialing order, custom fields, zone."""

    line: int
    numbers: tuple[str, ...]
    fields: Mapping[str, str] = field(default_factory=dict)
    time_zone: str | None = None


@dataclass(frozen=True)
class ParsedList:
    """The outcome of reading one file."""

    contacts: tuple[NewContact, ...]
    errors: tuple[RowError, ...]
    encoding: str
    delimiter: str
    phone_columns: tuple[str, ...]
    field_columns: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def rows(self) -> int:
        """Data rows read (valid and rejected)."""
        return len(self.contacts) + len(self.errors)


def normalize_number(raw: str, default_region: str) -> str:
    """``raw`` in E.164, reading national formats in ``default_region``; else ``NumberError``."""
    text = raw.strip()
    if not text:
        raise NumberError("empty number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"{text!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        where = "" if text.startswith("+") else f" in region {default_region}"
        raise NumberError(f"{text!r} is not a valid phone number{where}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def zone_of_number(e164: str) -> str | None:
    """The number's IANA time zone when the numbering plan gives exactly one."""
    zones = number_zones.time_zones_for_number(phonenumbers.parse(e164, None))
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        return zones[0]
    return None


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding used: UTF-16 with a BOM, UTF-8 (BOM or not), else Latin-1."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter the header (first non-blank line) uses most; ``,`` if none."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_list(
    path: str | Path,
    default_region: str = "US",
    *,
    phone_columns: Sequence[str] | None = None,
    field_map: Mapping[str, str] | None = None,
    delimiter: str | None = None,
) -> ParsedList:
    """``parse_list`` on a file's bytes."""
    return parse_list(
        Path(path).read_bytes(),
        default_region,
        phone_columns=phone_columns,
        field_map=field_map,
        delimiter=delimiter,
    )


def parse_list(
    data: bytes,
    default_region: str = "US",
    *,
    phone_columns: Sequence[str] | None = None,
    field_map: Mapping[str, str] | None = None,
    delimiter: str | None = None,
) -> ParsedList:
    """Validate a CSV calling list (see the module docstring); never raises for a bad row."""
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default region {default_region!r}")
    text, encoding = decode(data)
    delim = delimiter or sniff_delimiter(text)
    if delim not in DELIMITERS:
        raise ValueError(f"delimiter must be one of , ; or tab, got {delim!r}")
    reader = _Rows(text, delim)
    first = reader.next_row()
    if first is None:
        raise ListError("line 1: the file is empty (a header line is expected)")
    header_line, header = first
    layout = _Layout.from_header(header, header_line, phone_columns, field_map or {})
    contacts: list[NewContact] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    while (row := reader.next_row()) is not None:
        line, cells = row
        if isinstance(cells, RowError):
            errors.append(cells)
            continue
        outcome = layout.contact(line, cells, region, seen)
        if isinstance(outcome, RowError):
            errors.append(outcome)
        else:
            contacts.append(outcome)
            seen.update((number, line) for number in outcome.numbers)
    return ParsedList(
        tuple(contacts),
        tuple(errors),
        encoding,
        delim,
        tuple(layout.header[i] for i in layout.phone_indices),
        tuple(layout.field_names.values()),
    )


class _Rows:
    """csv.reader that reports each row's first physical line and turns csv errors into rows."""

    def __init__(self, text: str, delimiter: str) -> None:
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        self._end = 0

    def next_row(self) -> tuple[int, list[str] | RowError] | None:
        while True:
            start = self._end + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                self._end = self._reader.line_num
                reason = str(exc)
                if "end of data" in reason:
                    reason = "a quoted field that starts here is never closed"
                return start, RowError(start, f"unreadable CSV: {reason}")
            self._end = self._reader.line_num
            if any(cell.strip() for cell in cells):
                return start, cells


@dataclass(frozen=True)
class _Layout:
    """Which header column means what."""

    width: int
    phone_indices: tuple[int, ...]
    zone_index: int | None
    field_names: Mapping[int, str]
    header: tuple[str, ...]

    @classmethod
    def from_header(
        cls,
        header: list[str] | RowError,
        line: int,
        phone_columns: Sequence[str] | None,
        field_map: Mapping[str, str],
    ) -> _Layout:
        if isinstance(header, RowError):
            raise ListError(f"header: {header}")
        names = tuple(h.strip() for h in header)
        for i, name in enumerate(names):
            if not name:
                raise ListError(f"line {line}: header column {i + 1} has no name")
            if name in names[:i]:
                raise ListError(f"line {line}: header column {name!r} appears twice")
        keys = [_key(n) for n in names]
        if phone_columns is not None:
            missing = [c for c in phone_columns if c.strip() not in names]
            if missing:
                raise ListError(f"line {line}: no column named {', '.join(missing)} in the header")
            phones = tuple(names.index(c.strip()) for c in phone_columns)
        else:
            phones = tuple(i for i, k in enumerate(keys) if _PHONE_HEADER.match(k))
        if not phones:
            raise ListError(
                f"line {line}: no phone column in the header {list(names)} "
                "(name one phone, phone2, mobile or number, or pass phone_columns)"
            )
        zone = next((i for i, k in enumerate(keys) if k in TIME_ZONE_COLUMNS), None)
        fields = {
            i: field_map.get(n, n) for i, n in enumerate(names) if i not in phones and i != zone
        }
        return cls(len(names), phones, zone, fields, names)

    def contact(
        self, line: int, cells: list[str], region: str, seen: Mapping[str, int]
    ) -> NewContact | RowError:
        if len(cells) != self.width:
            return RowError(line, f"has {len(cells)} fields, the header has {self.width}")
        for i, cell in enumerate(cells):
            if _CONTROL.search(cell):
                return RowError(line, f"{self.header[i]}: control characters in {cell!r}")
        numbers: list[str] = []
        for i in self.phone_indices:
            raw = cells[i].strip()
            if not raw:
                continue
            try:
                number = normalize_number(raw, region)
            except NumberError as exc:
                return RowError(line, f"{self.header[i]}: {exc}")
            if number in seen:
                return RowError(line, f"{self.header[i]}: {number} repeats line {seen[number]}")
            if number not in numbers:
                numbers.append(number)
        if not numbers:
            columns = ", ".join(self.header[i] for i in self.phone_indices)
            return RowError(line, f"no phone number (column {columns} is empty)")
        zone: str | None = None
        if self.zone_index is not None and cells[self.zone_index].strip():
            zone = cells[self.zone_index].strip()
            if not _is_zone(zone):
                name = self.header[self.zone_index]
                return RowError(line, f"{name}: {zone!r} is not an IANA time zone")
        fields = {name: cells[i].strip() for i, name in self.field_names.items()}
        return NewContact(line, tuple(numbers), fields, zone or zone_of_number(numbers[0]))


def _key(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
