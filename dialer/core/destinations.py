"""Which numbers a campaign may call: its destination countries and number types. Pure.

A list row whose number is of a type the campaign does not call (premium rate, shared cost, a
pager...) or in a country it does not call is rejected at import with its line, like any bad
row, so nothing of the list is stored. The defaults call any country and the ordinary types:
premium-rate and shared-cost numbers cost the caller money and are the usual way a dialer is
turned into a toll-fraud machine, so a campaign that means to call them says so.

In a campaign's TOML:

    [destinations]
    countries = ["US", "CA"]        # ISO 3166 codes; default: any country
    types = ["fixed_line", "mobile", "fixed_line_or_mobile"]   # default: DEFAULT_TYPES
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# phonenumbers' PhoneNumberType, by name
TYPES = ("fixed_line", "mobile", "fixed_line_or_mobile", "toll_free", "premium_rate",
         "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")
DEFAULT_TYPES = frozenset({"fixed_line", "mobile", "fixed_line_or_mobile", "toll_free", "voip",
                           "personal_number"})
SAID = {"premium_rate": "a premium-rate number", "shared_cost": "a shared-cost number",
        "uan": "a universal access number", "voicemail": "a voicemail access number",
        "pager": "a pager", "toll_free": "a toll-free number", "voip": "a VoIP number",
        "personal_number": "a personal number", "mobile": "a mobile number",
        "fixed_line": "a fixed-line number", "fixed_line_or_mobile": "a fixed or mobile number"}


@dataclass(frozen=True)
class Destinations:
    countries: frozenset[str] | None = None      # None: any
    types: frozenset[str] = DEFAULT_TYPES

    def refusal(self, number: str, country: str, kind: str) -> str | None:
        """Why the campaign does not call `number` (of `country` and type `kind`), or None."""
        if kind not in self.types:
            return (f"{number} is {SAID.get(kind, kind)}, which this campaign does not call "
                    f"(destinations.types: {', '.join(sorted(self.types))})")
        if self.countries is not None and country not in self.countries:
            return (f"{number} is in {country or 'no country'}, which this campaign does not "
                    f"call (destinations.countries: {', '.join(sorted(self.countries))})")
        return None

    def to_json(self) -> dict[str, list[str] | None]:
        return {"countries": None if self.countries is None else sorted(self.countries),
                "types": sorted(self.types)}


def from_json(data: object) -> Destinations:
    """A stored policy; the defaults for campaigns stored before there was one."""
    if not isinstance(data, dict):
        return Destinations()
    countries = data.get("countries")
    types = data.get("types")
    return Destinations(None if countries is None else frozenset(countries),
                        frozenset(types) if types else DEFAULT_TYPES)


def unknown_types(names: Iterable[str]) -> list[str]:
    return [n for n in names if n not in TYPES]
