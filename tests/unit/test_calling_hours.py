"""Calling hours in the contact's zones: DST, holidays, most-restrictive-wins, next window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from dialer.core.calling_hours import (
    CallingHours,
    HoursBlock,
    check_hours,
    effective_zones,
    next_window,
    resolve_zones,
    zones_from_key,
    zones_key,
)
from dialer.core.regions import state_for_zip, zones_for_postal, zones_for_region

NY, LA, CHI = "America/New_York", "America/Los_Angeles", "America/Chicago"
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_window_in_the_contact_zone_across_the_dst_change() -> None:
    hours = CallingHours(time(9), time(20), EVERY_DAY, NY)
    # 13:30Z is 08:30 EST on Friday 6 March 2026 and 09:30 EDT on Monday 9 March
    # (New York moves to daylight time on Sunday 8 March).
    assert not hours.allows_zones(utc(2026, 3, 6, 13, 30), [NY])
    assert hours.allows_zones(utc(2026, 3, 9, 13, 30), [NY])
    # Next window from Sunday 01:00 EST: 09:00 that morning is already EDT, i.e. 13:00Z.
    assert next_window(hours, [NY], utc(2026, 3, 8, 6, 0)) == utc(2026, 3, 8, 13, 0)
    # ... and on the Saturday before, 09:00 EST is 14:00Z.
    assert next_window(hours, [NY], utc(2026, 3, 7, 2, 0)) == utc(2026, 3, 7, 14, 0)
    # A window end is local too: 20:00 EDT is 00:00Z.
    verdict = check_hours(hours, [NY], utc(2026, 3, 9, 23, 59))
    assert verdict.allowed and verdict.until == utc(2026, 3, 10, 0, 0)
    assert not check_hours(hours, [NY], utc(2026, 3, 10, 0, 0)).allowed


def test_most_restrictive_zone_wins() -> None:
    hours = CallingHours(time(9), time(20), WEEKDAYS, NY)
    now = utc(2026, 3, 2, 15, 0)  # Monday 10:00 in New York, 07:00 in Los Angeles
    assert hours.allows_zones(now, [NY])
    verdict = check_hours(hours, [NY, LA], now)
    assert not verdict.allowed
    assert (verdict.zone, verdict.block) == (LA, HoursBlock.BEFORE_HOURS)
    assert verdict.next_at == utc(2026, 3, 2, 17, 0)  # 09:00 in Los Angeles
    assert "before calling hours in America/Los_Angeles until 2026-03-02 17:00Z" in (
        verdict.describe()
    )
    # At 19:30 New York time Los Angeles is fine but New York is about to close: the common
    # window ends at New York's 20:00, and the next opens at Los Angeles' 09:00 the next day.
    late = check_hours(hours, [NY, LA], utc(2026, 3, 3, 0, 30))
    assert late.allowed and late.until == utc(2026, 3, 3, 1, 0)
    after = check_hours(hours, [NY, LA], utc(2026, 3, 3, 1, 0))
    assert (after.zone, after.block) == (NY, HoursBlock.AFTER_HOURS)
    assert after.next_at == utc(2026, 3, 3, 17, 0)


def test_holidays_in_the_contact_zone_and_in_the_campaign_zone() -> None:
    hours = CallingHours(time(9), time(20), WEEKDAYS, NY, frozenset({date(2026, 12, 25)}))
    christmas = check_hours(hours, [CHI], utc(2026, 12, 25, 16, 0))  # Friday 10:00 Chicago
    assert (christmas.block, christmas.zone) == (HoursBlock.HOLIDAY, CHI)
    assert christmas.next_at == utc(2026, 12, 28, 15, 0)  # Monday 09:00 Chicago
    # The campaign's own zone (the call centre) is on holiday too: Tokyo on 25 December while
    # it is still the 24th, 10:00, in New York.
    tokyo = CallingHours(time(9), time(20), EVERY_DAY, "Asia/Tokyo", hours.holidays)
    verdict = check_hours(tokyo, [NY], utc(2026, 12, 24, 15, 0))
    assert (verdict.block, verdict.zone) == (HoursBlock.HOLIDAY, "Asia/Tokyo")
    # When Tokyo's 25th ends it is the 25th in New York: the next window is 26 December 09:00.
    assert verdict.next_at == utc(2026, 12, 26, 14, 0)
    not_a_day = check_hours(hours, [NY], utc(2026, 3, 7, 15, 0))  # Saturday
    assert not_a_day.block is HoursBlock.NOT_A_CALLING_DAY


def test_zones_without_a_common_window() -> None:
    hours = CallingHours(time(9), time(17), EVERY_DAY, NY)
    far = [NY, "Asia/Shanghai"]  # 13 hours apart: 09:00-17:00 never overlaps
    verdict = check_hours(hours, far, utc(2026, 3, 2, 15, 0))
    assert not verdict.allowed and verdict.next_at is None
    assert "no common calling window" in verdict.describe()
    assert check_hours(None, far, utc(2026, 3, 2, 15, 0)).allowed


def test_which_zones_a_contact_has() -> None:
    assert resolve_zones("America/Denver", [NY, CHI], [LA]) == ("America/Denver",)
    assert resolve_zones(None, [NY, CHI], [NY, LA]) == (CHI, LA, NY)
    assert resolve_zones(None) == ()
    assert effective_zones((), None, NY) == (NY,)
    assert effective_zones((), CHI, NY) == (CHI,)
    assert effective_zones(("Mars/Olympus",), None, NY) == (NY,)
    assert zones_from_key(zones_key((CHI, NY))) == (CHI, NY)
    assert zones_from_key("") == ()
    # The single-zone API keeps working (contact zone, else the campaign's).
    hours = CallingHours(time(9), time(20), WEEKDAYS, NY)
    assert hours.allows(utc(2026, 3, 2, 15, 0), None)
    assert not hours.allows(utc(2026, 3, 2, 15, 0), LA)


@pytest.mark.parametrize(
    ("value", "zones"),
    [
        ("TX", (CHI, "America/Denver")),
        ("texas", (CHI, "America/Denver")),
        ("N.Y.", (NY,)),
        ("Quebec", ("America/Toronto", "America/Blanc-Sablon")),
        ("Atlantis", ()),
    ],
)
def test_region_names_and_codes(value: str, zones: tuple[str, ...]) -> None:
    assert zones_for_region(value) == zones


def test_postal_codes() -> None:
    assert state_for_zip("10001") == "NY"
    assert state_for_zip("79901-1234") == "TX"  # El Paso: Texas spans two zones
    assert zones_for_postal("94105") == (LA,)
    assert zones_for_postal("96799") == ("Pacific/Pago_Pago",)
    # Ottawa: K is Eastern Ontario, Eastern time only; P (Northern Ontario) spans two zones
    assert zones_for_postal("K1A 0B1") == ("America/Toronto",)
    assert zones_for_postal("P7B 5E1") == ("America/Toronto", "America/Winnipeg")
    assert zones_for_postal("09001") == ()  # military mail says nothing about where
    assert zones_for_postal("nope") == ()


def test_search_is_bounded() -> None:
    hours = CallingHours(time(9), time(20), frozenset({0}), NY)  # Mondays only
    now = utc(2026, 3, 3, 15, 0)  # a Tuesday
    found = next_window(hours, [NY], now)
    assert found == utc(2026, 3, 9, 13, 0)  # Monday 09:00 EDT
    assert found is not None and found - now < timedelta(days=7)
