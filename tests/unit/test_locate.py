"""Zones from the right country: mixed international lists resolve to the zones a compliance
officer would choose, with the evidence for each, and the most restrictive window applies."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from dialer.core.calling_hours import CallingHours, HoursBlock, check_hours
from dialer.core.locate import NumberInfo, locate
from dialer.core.regions import read_postal, read_region
from dialer.lists import NewContact, locate_contact, parse_list

MADRID, CANARY = "Europe/Madrid", "Atlantic/Canary"
PARIS, REUNION = "Europe/Paris", "Indian/Reunion"
NY, TORONTO, WINNIPEG = "America/New_York", "America/Toronto", "America/Winnipeg"
VANCOUVER, EDMONTON, LONDON = "America/Vancouver", "America/Edmonton", "Europe/London"
HOURS = CallingHours(time(9), time(20))  # 09:00-20:00 in every zone of the contact


def one(header: str, row: str) -> NewContact:
    parsed = parse_list(f"{header}\n{row}\n".encode(), "US")
    assert parsed.ok, parsed.errors
    return parsed.contacts[0]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_spanish_mobile_with_a_madrid_postal_code_is_madrid_not_north_carolina() -> None:
    c = one("name,phone,zip", "Ana,+34 612 345 678,28001")
    assert c.zones == (MADRID,) and c.time_zone == MADRID
    # without an address the mobile keeps both of Spain's zones...
    assert one("name,phone", "Ana,+34 612 345 678").zones == (CANARY, MADRID)
    # ...and the most restrictive window: 09:30 in Madrid is 08:30 in the Canaries
    verdict = check_hours(HOURS, (CANARY, MADRID), utc(2026, 3, 2, 8, 30))
    assert not verdict.allowed and verdict.zone == CANARY
    assert verdict.block is HoursBlock.BEFORE_HOURS
    assert check_hours(HOURS, c.zones, utc(2026, 3, 2, 8, 30)).allowed  # Madrid alone: 09:30
    # a Canary postal code narrows it the other way; a Las Palmas landline is the Canaries
    assert one("name,phone,postal_code", "Ana,+34612345678,35001").zones == (CANARY,)
    assert one("name,phone", "Ana,+34 928 000 000").zones == (CANARY,)
    # a Madrid landline with a Tenerife postal code: both kept
    assert one("name,phone,postal_code", "Ana,+34915550000,38001").zones == (CANARY, MADRID)


def test_french_mobile_with_a_paris_postal_code_is_paris_not_texas() -> None:
    c = one("name,phone,zip", "Luc,+33 6 12 34 56 78,75001")
    assert c.zones == (PARIS,)
    # an overseas postal code with a metropolitan number: both, the most restrictive window
    both = one("name,phone,zip", "Luc,+33612345678,97400").zones
    assert both == (PARIS, REUNION)
    # 10:00 in Paris (winter, UTC+1) is 13:00 in La Réunion: allowed; 18:00 in Paris is 21:00
    assert check_hours(HOURS, both, utc(2026, 1, 12, 9, 0)).allowed
    late = check_hours(HOURS, both, utc(2026, 1, 12, 17, 0))
    assert not late.allowed and late.zone == REUNION


def test_canadian_postal_codes_by_first_letter() -> None:
    # Ottawa number, Ottawa postal code (K: Eastern Ontario): Eastern only
    assert one("name,phone,postal_code", "Jo,+1 613 555 0100,K1A 0B1").zones == (TORONTO,)
    # a Winnipeg postal code with an Ottawa number: both kept
    assert one("name,phone,postal_code", "Jo,+16135550100,R3C 4T3").zones == (TORONTO, WINNIPEG)
    assert read_postal("CA", "P7B 5E1") is not None
    assert read_postal("CA", "P7B 5E1").zones == (TORONTO, WINNIPEG)  # type: ignore[union-attr]


def test_uk_number_with_a_us_zip_column_is_london_only() -> None:
    c = one("name,phone,zip", "Sam,+44 20 7946 0000,10001")
    assert c.zones == (LONDON,)
    located = locate_contact(("+442079460000",), {"zip": "10001"})
    assert located.lines() == [
        "country of the first number (GB): no zone (addresses read in GB)",
        "postal code '10001': no zone (not read: no table for GB)",
        "number +442079460000: Europe/London (its area code)",
    ]
    # a country column saying US makes it a New York ZIP: both kept, most restrictive window
    assert one("name,phone,zip,country", "Sam,+442079460000,10001,US").zones == (NY, LONDON)


def test_us_number_with_a_canadian_postal_code_keeps_both() -> None:
    c = one("name,phone,zip", "Kim,+1 212 555 0100,V6B 1A1")
    assert c.zones == (EDMONTON, NY, VANCOUVER)
    # 13:00 in New York is 10:00 in Vancouver: allowed; 10:00 in New York is 07:00 there
    assert check_hours(HOURS, c.zones, utc(2026, 3, 2, 18, 0)).allowed
    early = check_hours(HOURS, c.zones, utc(2026, 3, 2, 15, 0))
    assert not early.allowed and early.zone in (VANCOUVER, EDMONTON)
    lines = locate_contact(("+12125550100",), {"zip": "V6B 1A1"}).lines()
    assert lines[1] == ("postal code 'V6B 1A1': America/Vancouver, America/Edmonton (Canadian "
                        "postal code, BC (first letter V))")
    assert lines[2] == ("number +12125550100: America/New_York (its area code; disagrees with "
                        "the address: both kept, the most restrictive window wins)")


def test_country_column_reads_national_numbers_and_bad_values_are_named() -> None:
    c = one("name,phone,postal_code,country", "Ana,612 345 678,28001,Spain")
    assert c.numbers == ("+34612345678",) and c.zones == (MADRID,)
    parsed = parse_list(b"name,phone,country\nAna,+34612345678,Narnia\n")
    assert [str(e) for e in parsed.errors] == [
        "line 2: country: 'Narnia' is not a country (a two-letter ISO code like ES, or an "
        "English name)"]


def test_explicit_zone_alone_and_evidence_order() -> None:
    located = locate([NumberInfo("+34612345678", "ES", (CANARY, MADRID), False)],
                     explicit="Europe/Madrid", postal="35001")
    assert located.zones == (MADRID,)
    assert located.lines() == [
        "time_zone column: Europe/Madrid (taken alone: the list owner's statement)"]
    narrowed = locate([NumberInfo("+34612345678", "ES", (CANARY, MADRID), False)], postal="28001")
    assert narrowed.lines()[1:] == [
        "postal code '28001': Europe/Madrid (Spanish postal code, mainland Spain)",
        "number +34612345678: Europe/Madrid (its country (ES) spans Atlantic/Canary, "
        "Europe/Madrid; narrowed by the address)",
    ]


@pytest.mark.parametrize(("country", "value", "zones"), [
    ("ES", "07001", (MADRID,)),  # Balearics
    ("ES", "51001", ("Africa/Ceuta",)),
    ("ES", "99999", ()),
    ("FR", "97200", ("America/Martinique",)),
    ("FR", "98800", ("Pacific/Noumea",)),
    ("FR", "13001", (PARIS,)),
    ("US", "28001", ("America/New_York",)),  # the same digits, read in the US: North Carolina
])  # fmt: skip
def test_postal_tables(country: str, value: str, zones: tuple[str, ...]) -> None:
    reading = read_postal(country, value)
    assert reading is not None and reading.zones == zones


def test_regions_by_country() -> None:
    assert read_region("ES", "Islas Canarias").zones == (CANARY,)  # type: ignore[union-attr]
    assert read_region("ES", "Madrid") is None  # not narrower than the country: not read
    assert read_region("DE", "Bayern") is None
    assert read_region("US", "Texas").zones == ("America/Chicago", "America/Denver")  # type: ignore[union-attr]
