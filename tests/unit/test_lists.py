"""CSV calling lists: every messy-file defect gives its row error with the right line number."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest

from dialer.lists import (
    ListError,
    ParsedList,
    RowError,
    normalize_number,
    parse_list,
    read_list,
)
from dialer.qa import carrier_plan

DEMO = Path(__file__).resolve().parents[2] / "config" / "lists" / "demo.csv"


def parse(text: str, **kw: Any) -> ParsedList:
    return parse_list(text.encode("utf-8"), **kw)


def errors(parsed: ParsedList) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in parsed.errors]


def test_national_and_international_formats_become_e164() -> None:
    parsed = parse(
        "name,phone\n"
        "a,(212) 200-0212\n"
        "b,212-200-0310\n"
        "c,+1 212 200 0215\n"
        "d,1-212-200-0408\n"
        "e,011 33 1 42 68 53 00\n"
    )
    assert parsed.ok
    assert [c.numbers for c in parsed.contacts] == [
        ("+12122000212",),
        ("+12122000310",),
        ("+12122000215",),
        ("+12122000408",),
        ("+33142685300",),
    ]
    assert parsed.contacts[0].time_zone == "America/New_York"
    assert parsed.contacts[4].time_zone == "Europe/Paris"
    assert parse("phone\n01 42 68 53 00\n", default_region="FR").contacts[0].numbers == (
        "+33142685300",
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("x,12", "phone: '12' is not a valid phone number in region US"),
        ("x,hello", "phone: 'hello' is not a phone number"),
        ("x,+1 212 000 0000", "phone: '+1 212 000 0000' is not a valid phone number"),
        ("x,", "no phone number (column phone is empty)"),
        ("x,+12122000212,extra", "has 3 fields, the header has 2"),
        ("x", "has 1 fields, the header has 2"),
        ('x,"+12122000212"junk', "unreadable CSV"),
        ("x\x01y,+12122000215", "name: control characters in"),
    ],
)
def test_each_defect_is_reported_on_its_line(row: str, reason: str) -> None:
    parsed = parse(f"name,phone\nok,+12122000310\n{row}\nok2,+12122000408\n")
    assert [c.line for c in parsed.contacts] == [2, 4]
    assert len(parsed.errors) == 1
    assert parsed.errors[0].line == 3
    assert reason in parsed.errors[0].reason


def test_duplicates_name_the_first_line() -> None:
    parsed = parse("phone\n+12122000212\n(212) 200-0310\n212 200 0212\n")
    assert errors(parsed) == [(4, "phone: +12122000212 repeats line 2")]


def test_line_numbers_count_physical_lines_of_quoted_fields_and_blank_lines() -> None:
    text = (
        "name,phone,notes\n"
        '"Smith, John",+12122000212,"first line\nsecond line"\n'
        "\n"
        "bad,12,x\n"
        '"Doe ""JD""",+12122000310,plain\n'
    )
    parsed = parse(text)
    assert errors(parsed) == [(5, "phone: '12' is not a valid phone number in region US")]
    assert [(c.line, c.fields["name"]) for c in parsed.contacts] == [
        (2, "Smith, John"),
        (6, 'Doe "JD"'),
    ]
    assert parsed.contacts[0].fields["notes"] == "first line\nsecond line"


def test_an_unclosed_quote_is_reported_where_it_starts() -> None:
    parsed = parse('name,phone\nok,+12122000212\n"oops,+12122000310\nnext,+12122000408\n')
    assert [c.line for c in parsed.contacts] == [2]
    assert errors(parsed) == [
        (3, "unreadable CSV: a quoted field that starts here is never closed")
    ]


@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_delimiter_is_sniffed(delimiter: str, name: str) -> None:
    text = delimiter.join(["nom", "phone", "ville"]) + "\n"
    text += delimiter.join(['"Dupont; Jean, fils"', "2122000212", "Paris"]) + "\n"
    parsed = parse(text)
    assert parsed.delimiter == delimiter, name
    assert parsed.contacts[0].fields == {"nom": "Dupont; Jean, fils", "ville": "Paris"}


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("name,phone\nJosé,2122000212\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "name,phone\nJosé,2122000212\n".encode(), "utf-8"),
        ("name,phone\nJosé,2122000212\n".encode("latin-1"), "latin-1"),
        ("name,phone\r\nJosé,2122000212\r\n".encode("utf-16"), "utf-16"),
    ],
    ids=["utf8", "utf8-bom", "latin1", "utf16"],
)
def test_encodings(data: bytes, encoding: str) -> None:
    parsed = parse_list(data)
    assert parsed.encoding == encoding
    assert parsed.phone_columns == ("phone",)  # the BOM is not part of the first header
    assert parsed.contacts[0].fields == {"name": "José"}


def test_several_phone_columns_time_zone_and_field_mapping() -> None:
    parsed = parse(
        "Nom,Phone,Mobile,TZ\n"
        "a,2122000212,2122000310,America/Chicago\n"
        "b,,2122000408,\n"
        "c,2122000215,2122000215,Mars/Olympus\n",
        field_map={"Nom": "last_name"},
    )
    assert parsed.phone_columns == ("Phone", "Mobile")
    assert parsed.contacts[0].numbers == ("+12122000212", "+12122000310")
    assert parsed.contacts[0].fields == {"last_name": "a"}
    assert parsed.contacts[0].time_zone == "America/Chicago"
    assert parsed.contacts[1].numbers == ("+12122000408",)
    assert parsed.contacts[1].time_zone == "America/New_York"  # from the number
    assert errors(parsed) == [(4, "TZ: 'Mars/Olympus' is not an IANA time zone")]


def test_phone_columns_can_be_named() -> None:
    parsed = parse("who,tel_home,tel_work\nx,2122000212,\n", phone_columns=["tel_work", "tel_home"])
    assert parsed.contacts[0].numbers == ("+12122000212",)
    with pytest.raises(ListError, match="tel_cell"):
        parse("who,tel_home\nx,2122000212\n", phone_columns=["tel_cell"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("\n\n", "line 1: the file is empty"),
        ("name,city\nx,y\n", "line 1: no phone column"),
        ("\nname,phone,name\n", "line 2: header column 'name' appears twice"),
        ("name,,phone\n", "line 1: header column 2 has no name"),
    ],
)
def test_unusable_files_raise(text: str, message: str) -> None:
    with pytest.raises(ListError, match=message):
        parse(text)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="region"):
        parse("phone\n2122000212\n", default_region="XX")
    with pytest.raises(ValueError, match="delimiter"):
        parse("phone\n2122000212\n", delimiter="|")


def test_normalize_number() -> None:
    assert normalize_number(" (212) 200-0212 ", "US") == "+12122000212"
    assert str(RowError(7, "why")) == "line 7: why"


def test_demo_list_follows_the_carrier_plan() -> None:
    parsed = read_list(DEMO)
    assert parsed.ok and len(parsed.contacts) == 30
    behaviours = [
        (carrier_plan.parse(c.numbers[0]).behaviour.name.lower(), c.fields["carrier_behaviour"])
        for c in parsed.contacts
    ]
    assert all(plan == column for plan, column in behaviours)
    counts = {b: sum(1 for p, _ in behaviours if p == b) for b, _ in behaviours}
    assert counts["answer"] > 15
    assert {"busy", "no_answer", "reject", "invalid", "congestion", "machine"} <= set(counts)


# -- zones, header mapping, chained numbers, progress, parallel checking --------------------


def test_zones_from_the_explicit_column_else_address_and_numbers() -> None:
    parsed = parse(
        "name,phone,mobile,state,zip,tz\n"
        "explicit,2122000212,,TX,79901,America/Denver\n"
        "state,2122000310,,TX,,\n"
        "zip,2122000408,,,94105,\n"
        "numbers,2122000215,3105550101,,,\n"
        "tollfree,8005550199,,,,\n"
    )
    assert parsed.ok, parsed.errors
    zones = {c.fields["name"]: c.zones for c in parsed.contacts}
    assert zones["explicit"] == ("America/Denver",)
    # The state spans Central and Mountain, the number says New York: all three are kept.
    assert zones["state"] == ("America/Chicago", "America/Denver", "America/New_York")
    assert zones["zip"] == ("America/Los_Angeles", "America/New_York")
    assert zones["numbers"] == ("America/Los_Angeles", "America/New_York")
    assert zones["tollfree"] == ()  # a toll-free number is nowhere; the campaign's zone applies
    shown = {c.fields["name"]: c.time_zone for c in parsed.contacts}
    assert shown == {
        "explicit": "America/Denver",
        "state": "America/New_York",
        "zip": "America/New_York",
        "numbers": "America/New_York",
        "tollfree": None,
    }
    assert parsed.contacts[0].fields["state"] == "TX"  # address columns stay custom fields


def test_header_mapping_renames_and_leaves_out() -> None:
    parsed = parse(
        "Cust Name,Fax,Phone\nAda,+12125550000,2122000212\n",
        field_map={"Cust Name": "name", "Fax": ""},
    )
    assert parsed.contacts[0].fields == {"name": "Ada"}
    assert parsed.field_columns == ("name",)
    with pytest.raises(ListError, match="the field mapping names no column Nope"):
        parse("name,phone\nx,2122000212\n", field_map={"Nope": "x"})
    with pytest.raises(ListError, match="two columns map to the field name"):
        parse("a,b,phone\nx,y,2122000212\n", field_map={"a": "name", "b": "name"})


def test_chained_numbers_keep_the_column_order_and_a_repeat_names_its_column() -> None:
    parsed = parse(
        "name,mobile,home\na,2122000212,2122000310\nb,,2122000408\nc,2122000215,2122000310\n",
        phone_columns=["home", "mobile"],
    )
    assert parsed.contacts[0].numbers == ("+12122000310", "+12122000212")
    assert parsed.contacts[1].numbers == ("+12122000408",)
    assert errors(parsed) == [(4, "home: +12122000310 repeats line 2")]


def _big(rows: int, bad_every: int = 0) -> bytes:
    lines = ["name;phone;mobile"]
    for i in range(rows):
        phone = f"(212) {200 + i // 10000:03d}-{i % 10000:04d}"
        mobile = f"+1 310 {300 + i // 10000:03d} {i % 10000:04d}"
        if bad_every and i % bad_every == bad_every - 1:
            phone = "12"
        lines.append(f'"Name {i}";{phone};{mobile}')
    lines.append("dup;(212) 200-0001;")  # repeats the second row, in the last chunk
    return ("\n".join(lines) + "\n").encode("latin-1")


def test_large_lists_report_progress_and_repeats_across_chunks() -> None:
    data = _big(11_000, bad_every=4999)
    calls: list[tuple[int, int]] = []
    one = parse_list(data, progress=lambda done, total: calls.append((done, total)))
    assert [e.line for e in one.errors] == [5000, 9999, 11002]
    assert one.errors[-1].reason == "phone: +12122000001 repeats line 3"
    assert len(one.contacts) == 11_000 - 2
    assert calls == [(5001, 11_002), (10_001, 11_002), (11_002, 11_002)]


def test_accented_phone_headers() -> None:
    parsed = parse(
        "Nom;Téléphone;Mobile\nDupont;01 42 68 53 00;06 12 34 56 78\n", default_region="FR"
    )
    assert parsed.phone_columns == ("Téléphone", "Mobile")
    assert parsed.contacts[0].numbers == ("+33142685300", "+33612345678")
    assert parsed.contacts[0].zones == ("Europe/Paris",)
