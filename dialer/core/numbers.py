"""Phone numbers, as pure logic over the numbering plans (phonenumbers): a number in E.164 with its
country, type and the time zones its plan places it in (`read_number`), a country column's value
as an ISO code (`country_code`), a number's single zone (`zone_of_number`). Lists
(`dialer.lists`), the do-not-call lists and the gate read numbers through here.
"""

from __future__ import annotations

from typing import Final

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers import timezone as number_zones

from dialer.core.locate import NumberInfo

COUNTRY_NAMES: Final = {
    "united states": "US", "usa": "US", "united states of america": "US", "canada": "CA",
    "spain": "ES", "espana": "ES", "españa": "ES", "france": "FR", "united kingdom": "GB",
    "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "germany": "DE", "italy": "IT", "portugal": "PT", "ireland": "IE", "mexico": "MX",
    "australia": "AU", "netherlands": "NL", "belgium": "BE", "switzerland": "CH",
}  # fmt: skip
_UNKNOWN_ZONE = "Etc/Unknown"
_TYPE_NAMES: Final = {
    PhoneNumberType.FIXED_LINE: "fixed_line", PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free", PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost", PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number", PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan", PhoneNumberType.VOICEMAIL: "voicemail",
}


class NumberError(ValueError):
    """A phone number that cannot be normalised to E.164."""


def normalize_number(raw: str, default_region: str) -> str:
    """``raw`` in E.164, reading national formats in ``default_region``; else ``NumberError``."""
    return parse_number(raw, default_region)[0]


def parse_number(raw: str, default_region: str) -> tuple[str, tuple[str, ...]]:
    """``raw`` in E.164 and the time zones its numbering plan places it in (``read_number``)."""
    info = read_number(raw, default_region)
    return info.e164, info.zones


def read_number(raw: str, default_region: str) -> NumberInfo:
    """``raw`` in E.164, its country and the time zones its numbering plan places it in.

    A geographic number: its area's zones. Another number (a mobile): all of its country's
    zones (a Spanish mobile: mainland and Canaries), except in the NANP, where the plan gives
    a non-geographic number every zone from Guam to Newfoundland: none. One parse and one type
    lookup per number (``number_type`` is UNKNOWN exactly when ``is_valid_number`` is false),
    which keeps a 100,000-row import fast.
    """
    text = raw.strip()
    if text.startswith("'"):
        # a spreadsheet's text marker, as our CSV exports write before a leading `+`
        text = text[1:].strip()
    if not text:
        raise NumberError("empty number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"{text!r} is not a phone number") from exc
    kind, country = _type_and_country(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        where = "" if text.startswith("+") else f" in region {default_region}"
        raise NumberError(f"{text!r} is not a valid phone number{where}")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    geographic = phonenumbers.is_number_type_geographical(kind, parsed.country_code or 0)
    if geographic:
        zones = number_zones.time_zones_for_geographical_number(parsed)
    elif parsed.country_code == 1:
        zones = ()
    else:
        zones = number_zones.time_zones_for_number(parsed)
    kept = tuple(z for z in zones if z != _UNKNOWN_ZONE)
    return NumberInfo(e164, country if country != "001" else "", kept, geographic,
                      _TYPE_NAMES.get(kind, "unknown"))


def _type_and_country(parsed: phonenumbers.PhoneNumber) -> tuple[int, str]:
    """``number_type`` and ``region_code_for_number`` with one region lookup, not two (the
    lookup is most of a NANP number's cost: up to 25 regions share +1). Falls back to the
    public functions if phonenumbers' helper moves (the version is pinned)."""
    region = phonenumbers.region_code_for_number(parsed) or ""
    helper = getattr(phonenumbers.phonenumberutil, "_number_type_helper", None)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(parsed.country_code or 0, region)
    if helper is None:
        return phonenumbers.number_type(parsed), region
    if metadata is None:
        return PhoneNumberType.UNKNOWN, region
    return helper(phonenumbers.national_significant_number(parsed), metadata), region


def country_code(value: str) -> str | None:
    """A country column's value as an ISO 3166 alpha-2 code; "" when blank, None if unknown."""
    text = " ".join(value.split())
    if not text:
        return ""
    if text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    return COUNTRY_NAMES.get(text.lower())


def zone_of_number(e164: str) -> str | None:
    """The number's IANA time zone when the numbering plan gives exactly one."""
    zones = number_zones.time_zones_for_number(phonenumbers.parse(e164, None))
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        return zones[0]
    return None
