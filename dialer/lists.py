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
  or named; their order is the order the numbers are dialed in (chained numbers); every other
  column becomes a custom field, renamed through ``field_map`` if given (mapped to ``""``: left
  out);
- time zones (``NewContact.zones``, by ``dialer.core.locate.locate``): a ``time_zone``/``tz``
  column gives the contact's IANA zone; without one, a ``state``/``province``/``region`` column
  and a ``zip``/``postal_code`` column are read in the contact's country (a ``country`` column,
  else its first number's: never a US ZIP for a Spanish number) and combined with the zones of
  its numbers, so that calling hours apply the most restrictive window. ``time_zone`` is the
  single zone shown to agents: the explicit one, else the only zone found, else the first
  number's when its numbering plan gives exactly one;
- a ``country`` column (ISO 3166 code like ``ES``, or an English name) also says how national
  numbers on that row are read (instead of the campaign's default region);
- rows: blank lines are skipped; a row with more or fewer fields than the header, without any
  number, with a bad number or time zone, with control characters, or repeating a number of an
  earlier row is rejected.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dialer.core.destinations import Destinations
from dialer.core.locate import Located, NumberInfo, locate
from dialer.core.numbers import COUNTRY_NAMES as COUNTRY_NAMES  # re-exported
from dialer.core.numbers import NumberError as NumberError
from dialer.core.numbers import country_code as country_code
from dialer.core.numbers import normalize_number as normalize_number
from dialer.core.numbers import parse_number as parse_number
from dialer.core.numbers import read_number as read_number
from dialer.core.numbers import zone_of_number as zone_of_number

DELIMITERS: Final = (",", ";", "\t")
TIME_ZONE_COLUMNS: Final = frozenset({"time_zone", "timezone", "tz"})
REGION_COLUMNS: Final = frozenset({"state", "province", "region", "state_province", "st"})
POSTAL_COLUMNS: Final = frozenset(
    {"zip", "zipcode", "zip_code", "postal_code", "postalcode", "postcode", "postal"}
)
COUNTRY_COLUMNS: Final = frozenset({"country", "country_code", "countrycode", "pays"})
PROGRESS_EVERY: Final = 5000  # rows per progress report
_PHONE_HEADER = re.compile(
    r"^(phone|phone_?number|telephone|tel|mobile|cell|cellphone|number|msisdn)_?\d*$"
)
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
    zones: tuple[str, ...] = ()  # every zone calling hours must respect; () = ``time_zone``


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
    progress: Callable[[int, int], None] | None = None,
    destinations: Destinations | None = None,
) -> ParsedList:
    """``parse_list`` on a file's bytes."""
    return parse_list(
        Path(path).read_bytes(),
        default_region,
        phone_columns=phone_columns,
        field_map=field_map,
        delimiter=delimiter,
        progress=progress,
        destinations=destinations,
    )


def parse_list(
    data: bytes,
    default_region: str = "US",
    *,
    phone_columns: Sequence[str] | None = None,
    field_map: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    destinations: Destinations | None = None,
) -> ParsedList:
    """Validate a CSV calling list (see the module docstring); never raises for a bad row.
    ``destinations``: the campaign's policy (default: any country, the ordinary number types);
    a row with a number it does not call is rejected with its line.

    ``progress(lines_done, total_lines)`` is called every ``PROGRESS_EVERY`` rows and at the
    end. Numbers cost most (``phonenumbers`` is pure Python): one parse and one type lookup
    each, about 20 µs; 100,000 rows take a few seconds. (Checking in several processes was
    tried: shipping the results back costs about as much as it saves on two cores.)
    """
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default region {default_region!r}")
    text, encoding = decode(data)
    delim = delimiter or sniff_delimiter(text)
    if delim not in DELIMITERS:
        raise ValueError(f"delimiter must be one of , ; or tab, got {delim!r}")
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    reader = RowReader(text, delim)
    first = reader.next_row()
    if first is None:
        raise ListError("line 1: the file is empty (a header line is expected)")
    header_line, header = first
    layout = _Layout.from_header(header, header_line, phone_columns, field_map or {})
    layout = dataclasses.replace(layout, destinations=destinations or Destinations())
    rows: list[tuple[int, list[str] | RowError]] = []
    while (row := reader.next_row()) is not None:
        rows.append(row)
    contacts: list[NewContact] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    reported = 0
    for chunk_end, checked in _check_rows(layout, region, rows):
        for outcome in checked:
            if not isinstance(outcome, RowError):
                outcome = _first_sighting(outcome, seen)
            if isinstance(outcome, RowError):
                errors.append(outcome)
            else:
                contacts.append(outcome[0])
        if progress is not None and chunk_end < total:
            progress(chunk_end, total)
            reported = chunk_end
    if progress is not None and reported < total:
        progress(total, total)
    return ParsedList(
        tuple(contacts),
        tuple(errors),
        encoding,
        delim,
        tuple(layout.header[i] for i in layout.phone_indices),
        tuple(layout.field_names.values()),
    )


# A valid row and the header name of each of its numbers (for a duplicate's message).
_Checked = tuple[NewContact, tuple[str, ...]] | RowError


def _check_rows(
    layout: _Layout, region: str, rows: list[tuple[int, list[str] | RowError]]
) -> Iterator[tuple[int, list[_Checked]]]:
    """Each chunk's last line and its rows checked, in file order."""
    for i in range(0, len(rows), PROGRESS_EVERY):
        chunk = rows[i : i + PROGRESS_EVERY]
        yield chunk[-1][0], _check_chunk(layout, region, chunk)


def _check_chunk(
    layout: _Layout, region: str, chunk: list[tuple[int, list[str] | RowError]]
) -> list[_Checked]:
    return [
        cells if isinstance(cells, RowError) else layout.contact(line, cells, region)
        for line, cells in chunk
    ]


def _first_sighting(checked: tuple[NewContact, tuple[str, ...]], seen: dict[str, int]) -> _Checked:
    """The row, unless one of its numbers is on an earlier row (then its error)."""
    contact, columns = checked
    for number, column in zip(contact.numbers, columns, strict=True):
        if number in seen:
            return RowError(contact.line, f"{column}: {number} repeats line {seen[number]}")
    seen.update((number, contact.line) for number in contact.numbers)
    return checked


class RowReader:
    """csv.reader that reports each row's first physical line and turns csv errors into rows."""

    def __init__(self, text: str, delimiter: str) -> None:
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        self._end = 0

    def next_row(self) -> tuple[int, list[str] | RowError] | None:
        """The next non-blank row as (first line, cells), or (line, RowError); None at the end."""
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
    region_index: int | None = None
    postal_index: int | None = None
    country_index: int | None = None
    destinations: Destinations = Destinations()

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
        unknown = sorted(set(field_map) - set(names))
        if unknown:
            raise ListError(f"line {line}: the field mapping names no column {', '.join(unknown)}")
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
        region = next((i for i, k in enumerate(keys) if k in REGION_COLUMNS), None)
        postal = next((i for i, k in enumerate(keys) if k in POSTAL_COLUMNS), None)
        country = next((i for i, k in enumerate(keys) if k in COUNTRY_COLUMNS), None)
        fields = {
            i: field_map.get(n, n)
            for i, n in enumerate(names)
            if i not in phones and i != zone and field_map.get(n, n) != ""
        }
        mapped = list(fields.values())
        twice = sorted({n for n in mapped if mapped.count(n) > 1})
        if twice:
            raise ListError(f"line {line}: two columns map to the field {', '.join(twice)}")
        return cls(len(names), phones, zone, fields, names, region, postal, country)

    def contact(self, line: int, cells: list[str], region: str) -> _Checked:
        if len(cells) != self.width:
            return RowError(line, f"has {len(cells)} fields, the header has {self.width}")
        for i, cell in enumerate(cells):
            if _CONTROL.search(cell):
                return RowError(line, f"{self.header[i]}: control characters in {cell!r}")
        country = ""
        if self.country_index is not None:
            code = country_code(cells[self.country_index])
            if code is None:
                name = self.header[self.country_index]
                return RowError(line, f"{name}: {cells[self.country_index].strip()!r} is not a "
                                "country (a two-letter ISO code like ES, or an English name)")
            country = code
        numbers: list[str] = []
        columns: list[str] = []
        infos: list[NumberInfo] = []
        for i in self.phone_indices:
            raw = cells[i].strip()
            if not raw:
                continue
            try:
                info = read_number(raw, country or region)
            except NumberError as exc:
                return RowError(line, f"{self.header[i]}: {exc}")
            refused = self.destinations.refusal(info.e164, info.country, info.kind)
            if refused:
                return RowError(line, f"{self.header[i]}: {refused}")
            if info.e164 not in numbers:
                numbers.append(info.e164)
                columns.append(self.header[i])
                infos.append(info)
        if not numbers:
            named = ", ".join(self.header[i] for i in self.phone_indices)
            return RowError(line, f"no phone number (column {named} is empty)")
        zone: str | None = None
        if self.zone_index is not None and cells[self.zone_index].strip():
            zone = cells[self.zone_index].strip()
            if not _is_zone(zone):
                name = self.header[self.zone_index]
                return RowError(line, f"{name}: {zone!r} is not an IANA time zone")
        fields = {name: cells[i].strip() for i, name in self.field_names.items()}
        located = self.locate(infos, cells, zone, country)
        first = infos[0].zones
        shown = zone or (located.zones[0] if len(located.zones) == 1 else None) or (
            first[0] if len(first) == 1 else None)
        return NewContact(line, tuple(numbers), fields, shown, located.zones), tuple(columns)

    def locate(
        self, infos: list[NumberInfo], cells: list[str], zone: str | None, country: str
    ) -> Located:
        """The row's zones and evidence (``dialer.core.locate``)."""
        return locate(
            infos,
            zone,
            region=cells[self.region_index] if self.region_index is not None else "",
            postal=cells[self.postal_index] if self.postal_index is not None else "",
            country=country,
            explain=False,
        )


def locate_contact(
    numbers: Sequence[str], fields: Mapping[str, str], explicit: str | None = None
) -> Located:
    """The evidence for a stored contact, from its numbers and its fields (the list's
    state, postal code and country columns are kept as fields under their header names)."""
    by_key = {_key(k): v for k, v in fields.items()}

    def first(names: frozenset[str]) -> str:
        return next((str(by_key[k]) for k in sorted(names) if k in by_key), "")

    country = country_code(first(COUNTRY_COLUMNS)) or ""
    infos = [read_number(n, country or "US") for n in numbers]
    return locate(infos, explicit, first(REGION_COLUMNS), first(POSTAL_COLUMNS), country)


def _key(name: str) -> str:
    """A header name compared without case, accents or separators ("Téléphone 2" -> telephone_2)."""
    plain = unicodedata.normalize("NFKD", name.strip().lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return re.sub(r"[\s\-.]+", "_", plain)


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
