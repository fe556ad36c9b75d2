"""Time zones from a contact's address: US states and ZIP codes, Canadian provinces and postal
codes.

Pure data and lookups; no I/O. The answer is every IANA zone that the state or province spans
(Florida: New York and Chicago), because the calling-hours rule takes the most restrictive
window of all candidate zones: a ZIP code is resolved to its state only (by its first three
digits), never to a finer area. An explicit zone in the list is the way to be precise.

``zones_for_region("TX")`` / ``zones_for_region("Texas")`` and ``zones_for_postal("79901")`` /
``zones_for_postal("K1A 0B1")`` return a tuple of zones, empty when the value is unknown.
"""

from __future__ import annotations

import re
from typing import Final

_NY = "America/New_York"
_CHI = "America/Chicago"
_DEN = "America/Denver"
_LA = "America/Los_Angeles"

US_STATE_ZONES: Final[dict[str, tuple[str, ...]]] = {
    "AL": (_CHI,),
    "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix", _DEN),  # the Navajo Nation keeps daylight saving time
    "AR": (_CHI,),
    "CA": (_LA,),
    "CO": (_DEN,),
    "CT": (_NY,),
    "DE": (_NY,),
    "DC": (_NY,),
    "FL": (_NY, _CHI),  # the western panhandle is Central
    "GA": (_NY,),
    "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", _LA),
    "IL": (_CHI,),
    "IN": ("America/Indiana/Indianapolis", _CHI),
    "IA": (_CHI,),
    "KS": (_CHI, _DEN),
    "KY": ("America/Kentucky/Louisville", _CHI),
    "LA": (_CHI,),
    "ME": (_NY,),
    "MD": (_NY,),
    "MA": (_NY,),
    "MI": ("America/Detroit", "America/Menominee"),
    "MN": (_CHI,),
    "MS": (_CHI,),
    "MO": (_CHI,),
    "MT": (_DEN,),
    "NE": (_CHI, _DEN),
    "NV": (_LA,),
    "NH": (_NY,),
    "NJ": (_NY,),
    "NM": (_DEN,),
    "NY": (_NY,),
    "NC": (_NY,),
    "ND": (_CHI, _DEN),
    "OH": (_NY,),
    "OK": (_CHI,),
    "OR": (_LA, "America/Boise"),
    "PA": (_NY,),
    "RI": (_NY,),
    "SC": (_NY,),
    "SD": (_CHI, _DEN),
    "TN": (_CHI, _NY),
    "TX": (_CHI, _DEN),  # El Paso and Hudspeth counties are Mountain
    "UT": (_DEN,),
    "VT": (_NY,),
    "VA": (_NY,),
    "WA": (_LA,),
    "WV": (_NY,),
    "WI": (_CHI,),
    "WY": (_DEN,),
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",),
    "AS": ("Pacific/Pago_Pago",),
}

US_STATE_NAMES: Final[dict[str, str]] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "washington dc": "DC", "washington d.c.": "DC", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "puerto rico": "PR", "virgin islands": "VI", "guam": "GU",
    "northern mariana islands": "MP", "american samoa": "AS",
}  # fmt: skip

CA_PROVINCE_ZONES: Final[dict[str, tuple[str, ...]]] = {
    "AB": ("America/Edmonton",),
    "BC": ("America/Vancouver", "America/Edmonton"),
    "MB": ("America/Winnipeg",),
    "NB": ("America/Moncton",),
    "NL": ("America/St_Johns", "America/Goose_Bay"),
    "NS": ("America/Halifax",),
    "NT": ("America/Edmonton",),
    "NU": ("America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay"),
    "ON": ("America/Toronto", "America/Winnipeg"),
    "PE": ("America/Halifax",),
    "QC": ("America/Toronto", "America/Blanc-Sablon"),
    "SK": ("America/Regina", "America/Edmonton"),
    "YT": ("America/Whitehorse",),
}

CA_PROVINCE_NAMES: Final[dict[str, str]] = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "newfoundland": "NL", "nova scotia": "NS",
    "northwest territories": "NT", "nunavut": "NU", "ontario": "ON",
    "prince edward island": "PE", "quebec": "QC", "québec": "QC", "saskatchewan": "SK",
    "yukon": "YT",
}  # fmt: skip

# First letter of a Canadian postal code -> province (X is shared by NT and NU).
CA_POSTAL_LETTER: Final[dict[str, tuple[str, ...]]] = {
    "A": ("NL",), "B": ("NS",), "C": ("PE",), "E": ("NB",), "G": ("QC",), "H": ("QC",),
    "J": ("QC",), "K": ("ON",), "L": ("ON",), "M": ("ON",), "N": ("ON",), "P": ("ON",),
    "R": ("MB",), "S": ("SK",), "T": ("AB",), "V": ("BC",), "X": ("NT", "NU"), "Y": ("YT",),
}  # fmt: skip

# US ZIP code prefixes (first three digits, inclusive ranges) -> state. Military (APO/FPO)
# prefixes are left out: they say nothing about where the person is.
US_ZIP3_RANGES: Final[tuple[tuple[int, int, str], ...]] = (
    (5, 5, "NY"), (6, 7, "PR"), (8, 8, "VI"), (9, 9, "PR"), (10, 27, "MA"), (28, 29, "RI"),
    (30, 38, "NH"), (39, 49, "ME"), (50, 54, "VT"), (55, 55, "MA"), (56, 59, "VT"),
    (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"), (197, 199, "DE"),
    (200, 200, "DC"), (201, 201, "VA"), (202, 205, "DC"), (206, 219, "MD"), (220, 246, "VA"),
    (247, 268, "WV"), (270, 289, "NC"), (290, 299, "SC"), (300, 319, "GA"), (320, 339, "FL"),
    (341, 349, "FL"), (350, 369, "AL"), (370, 385, "TN"), (386, 397, "MS"), (398, 399, "GA"),
    (400, 427, "KY"), (430, 459, "OH"), (460, 479, "IN"), (480, 499, "MI"), (500, 528, "IA"),
    (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"), (570, 577, "SD"), (580, 588, "ND"),
    (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"), (660, 679, "KS"), (680, 693, "NE"),
    (700, 714, "LA"), (716, 729, "AR"), (730, 732, "OK"), (733, 733, "TX"), (734, 749, "OK"),
    (750, 799, "TX"), (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"), (840, 847, "UT"),
    (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"), (900, 961, "CA"),
    (967, 968, "HI"), (969, 969, "GU"), (970, 979, "OR"), (980, 994, "WA"), (995, 999, "AK"),
)  # fmt: skip

_US_ZIP = re.compile(r"^(\d{5})(?:[-\s]?\d{4})?$")
_CA_POSTAL = re.compile(r"^([ABCEGHJ-NPRSTVXY])\d[A-Z]\s?\d[A-Z]\d$")
_AMERICAN_SAMOA_ZIP = "96799"


def zones_for_region(value: str) -> tuple[str, ...]:
    """Zones of a US state or Canadian province given by code ("TX") or name ("Texas")."""
    text = " ".join(value.split()).lower()
    if not text:
        return ()
    code = text.replace(".", "").replace(" ", "").upper()
    if code in US_STATE_ZONES:
        return US_STATE_ZONES[code]
    if code in CA_PROVINCE_ZONES:
        return CA_PROVINCE_ZONES[code]
    if text in US_STATE_NAMES:
        return US_STATE_ZONES[US_STATE_NAMES[text]]
    if text in CA_PROVINCE_NAMES:
        return CA_PROVINCE_ZONES[CA_PROVINCE_NAMES[text]]
    return ()


def state_for_zip(value: str) -> str | None:
    """The US state (or territory) of a ZIP code, from its first three digits."""
    match = _US_ZIP.match(value.strip())
    if match is None:
        return None
    if match[1] == _AMERICAN_SAMOA_ZIP:
        return "AS"
    prefix = int(match[1][:3])
    for low, high, state in US_ZIP3_RANGES:
        if low <= prefix <= high:
            return state
    return None


def zones_for_postal(value: str) -> tuple[str, ...]:
    """Zones of a US ZIP code or a Canadian postal code (by state/province); () if unknown."""
    text = value.strip().upper()
    state = state_for_zip(text)
    if state is not None:
        return US_STATE_ZONES[state]
    match = _CA_POSTAL.match(text)
    if match is None:
        return ()
    zones: list[str] = []
    for province in CA_POSTAL_LETTER[match[1]]:
        zones += [z for z in CA_PROVINCE_ZONES[province] if z not in zones]
    return tuple(zones)
