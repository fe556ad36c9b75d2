"""Time zones from a contact's address, read in the address's country.

Pure data and lookups; no I/O. The answer is every IANA zone the area spans (Florida: New York
and Chicago), because the calling-hours rule takes the most restrictive window of all
candidate zones. An explicit zone in the list is the way to be precise.

- NANP (US, Canada and the US territories): a ZIP code is resolved to its state by its first
  three digits, never to a finer area; a Canadian postal code by its first letter, to the
  zones of that part of its province (K, L, M, N: Eastern Ontario only; P: Northern Ontario,
  Eastern and Central); states and provinces by code or name.
- Spain: postal codes 35xxx and 38xxx (Las Palmas, Santa Cruz de Tenerife) are the Canaries
  (Atlantic/Canary), 51xxx and 52xxx Ceuta and Melilla (Africa/Ceuta), the rest the mainland
  and the Balearics (Europe/Madrid); regions "Canarias", "Las Palmas", ... likewise.
- France: postal codes 97x and 98x are the overseas departments and collectivities
  (971 Guadeloupe, 972 Martinique, 973 Guyane, 974 La Réunion, 975 Saint-Pierre-et-Miquelon,
  976 Mayotte, 977 Saint-Barthélemy, 978 Saint-Martin, 986 Wallis-et-Futuna, 987 Polynésie,
  988 Nouvelle-Calédonie), the rest metropolitan France (Europe/Paris).
- Other countries: an address is not read (``read_postal``/``read_region`` return None), and
  the zones of the contact's numbers stand.

``zones_for_region("TX")`` / ``zones_for_postal("79901")`` read NANP values (as before);
``read_postal(country, value)`` and ``read_region(country, value)`` read a value in a given
country and say how (``Reading``), or None when that country's values are not read at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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

# Where a first letter says more than its province: Southern and Eastern Ontario (K, L, M, N)
# is Eastern time only (Central time is in the north-west, under P); Montreal (H) and
# south-western Quebec (J) are Eastern (Blanc-Sablon, Atlantic, is under G).
CA_POSTAL_LETTER_ZONES: Final[dict[str, tuple[str, ...]]] = {
    "K": ("America/Toronto",), "L": ("America/Toronto",), "M": ("America/Toronto",),
    "N": ("America/Toronto",), "H": ("America/Toronto",), "J": ("America/Toronto",),
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
    if match[1] in CA_POSTAL_LETTER_ZONES:
        return CA_POSTAL_LETTER_ZONES[match[1]]
    zones: list[str] = []
    for province in CA_POSTAL_LETTER[match[1]]:
        zones += [z for z in CA_PROVINCE_ZONES[province] if z not in zones]
    return tuple(zones)


# -- reading an address in its country --------------------------------------------------------

NANP_READ: Final = frozenset({"US", "CA", "PR", "VI", "GU", "MP", "AS"})

ES_POSTAL_ZONES: Final[dict[str, tuple[str, str]]] = {
    "35": ("Atlantic/Canary", "Las Palmas (Canary Islands)"),
    "38": ("Atlantic/Canary", "Santa Cruz de Tenerife (Canary Islands)"),
    "51": ("Africa/Ceuta", "Ceuta"),
    "52": ("Africa/Ceuta", "Melilla"),
}
ES_REGION_ZONES: Final[dict[str, str]] = {
    "canarias": "Atlantic/Canary", "islas canarias": "Atlantic/Canary",
    "canary islands": "Atlantic/Canary", "las palmas": "Atlantic/Canary",
    "santa cruz de tenerife": "Atlantic/Canary", "tenerife": "Atlantic/Canary",
    "gran canaria": "Atlantic/Canary", "ceuta": "Africa/Ceuta", "melilla": "Africa/Ceuta",
}  # fmt: skip
FR_OVERSEAS_POSTAL: Final[dict[str, tuple[str, str]]] = {
    "971": ("America/Guadeloupe", "Guadeloupe"),
    "972": ("America/Martinique", "Martinique"),
    "973": ("America/Cayenne", "Guyane"),
    "974": ("Indian/Reunion", "La Réunion"),
    "975": ("America/Miquelon", "Saint-Pierre-et-Miquelon"),
    "976": ("Indian/Mayotte", "Mayotte"),
    "977": ("America/St_Barthelemy", "Saint-Barthélemy"),
    "978": ("America/Marigot", "Saint-Martin"),
    "986": ("Pacific/Wallis", "Wallis-et-Futuna"),
    "987": ("Pacific/Tahiti", "Polynésie française"),
    "988": ("Pacific/Noumea", "Nouvelle-Calédonie"),
}
_FIVE_DIGITS = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class Reading:
    """What an address value says: its zones (empty: not a valid value there) and how."""

    zones: tuple[str, ...]
    how: str


def read_postal(country: str, value: str) -> Reading | None:
    """A postal code read in ``country`` (ISO 3166 alpha-2); None: that country is not read."""
    text = value.strip().upper()
    if country in NANP_READ:
        state = state_for_zip(text)
        if state is not None:
            return Reading(US_STATE_ZONES[state], f"US ZIP code, state {state}")
        match = _CA_POSTAL.match(text)
        if match is not None:
            provinces = "/".join(CA_POSTAL_LETTER[match[1]])
            return Reading(zones_for_postal(text), f"Canadian postal code, {provinces} "
                           f"(first letter {match[1]})")
        return Reading((), "not a US ZIP or Canadian postal code")
    if country == "ES":
        if not _FIVE_DIGITS.match(text) or not 1 <= int(text[:2]) <= 52:
            return Reading((), "not a Spanish postal code")
        zone, where = ES_POSTAL_ZONES.get(text[:2], ("Europe/Madrid", "mainland Spain"))
        if text[:2] == "07":
            where = "Balearic Islands"
        return Reading((zone,), f"Spanish postal code, {where}")
    if country == "FR":
        if not _FIVE_DIGITS.match(text):
            return Reading((), "not a French postal code")
        if text[:3] in FR_OVERSEAS_POSTAL:
            zone, where = FR_OVERSEAS_POSTAL[text[:3]]
            return Reading((zone,), f"French postal code, {where}")
        if text.startswith(("97", "98")):
            return Reading((), "a French overseas postal code we do not place")
        return Reading(("Europe/Paris",), "French postal code, metropolitan France")
    return None


def read_region(country: str, value: str) -> Reading | None:
    """A state/province/region read in ``country``; None: that country's are not read."""
    text = " ".join(value.split()).lower()
    if country in NANP_READ:
        zones = zones_for_region(value)
        return Reading(zones, "US state or Canadian province" if zones else
                       "not a US state or Canadian province")
    if country == "ES":
        zone = ES_REGION_ZONES.get(text)
        return Reading((zone,), "Spanish region") if zone else None
    return None
