"""Where a contact is: the time zones calling hours must respect, and the evidence for each.

Pure: the numbers come in already read (``NumberInfo``: country and numbering-plan zones, from
``dialer.lists``); addresses are read by ``dialer.core.regions``. ``locate`` applies the rule
(written down in docs/compliance.md, "Calling hours"):

1. An explicit zone (a ``time_zone`` column) is taken alone: the list owner's statement.
2. The contact's country is the ``country`` column's when the list has one, else the country
   of its first number. A postal code or state is read *in that country* (never as a US ZIP
   for a non-NANP contact); a country whose addresses we do not read adds nothing.
3. Each number gives its zones: a geographic number its area's; any other number its
   country's zones, all of them (a Spanish mobile: mainland and Canaries), except a
   non-geographic NANP number (toll-free, ...), which says nothing.
4. The address narrows a number's country-wide zones when it falls inside them (a Spanish
   mobile with postal code 28001: Madrid only). Where they disagree (a US number with a
   Canadian postal code, a Paris landline with a Réunion postal code), all are kept: the
   contact may only be called when every zone is inside calling hours (the most restrictive
   window wins).
5. No evidence at all: no zone (the campaign's own zone applies, ``effective_zones``).

``Located.lines()`` says which evidence gave which zone, for ``dialer why --contact``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialer.core.regions import read_postal, read_region


@dataclass(frozen=True)
class NumberInfo:
    """One number as its numbering plan places it."""

    e164: str
    country: str  # ISO 3166 alpha-2 ("" when the plan names none)
    zones: tuple[str, ...]
    geographic: bool  # zones are its area's, not its whole country's
    kind: str = "fixed_line"  # its type, as dialer.core.destinations.TYPES names them


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: what it is, the zones it gave, and how it was used."""

    source: str
    zones: tuple[str, ...]
    note: str

    def line(self) -> str:
        zones = ", ".join(self.zones) or "no zone"
        return f"{self.source}: {zones} ({self.note})"


@dataclass(frozen=True)
class Located:
    """The zones to respect (sorted) and the evidence, in the order it was weighed."""

    zones: tuple[str, ...]
    country: str
    evidence: tuple[Evidence, ...]

    def lines(self) -> list[str]:
        return [e.line() for e in self.evidence]


def locate(
    numbers: Sequence[NumberInfo],
    explicit: str | None = None,
    region: str = "",
    postal: str = "",
    country: str = "",
    explain: bool = True,
) -> Located:
    """The contact's zones by the module's rule, with the evidence (``explain=False``: the
    zones alone, without the words; what an import of 100,000 rows needs)."""
    if explicit:
        ev = Evidence("time_zone column", (explicit,), "taken alone: the list owner's statement")
        return Located((explicit,), country, (ev,) if explain else ())
    evidence: list[Evidence] = []
    if country:
        where = country.upper()
        if explain:
            evidence.append(
                Evidence(f"country column {country!r}", (), f"addresses read in {where}")
            )
    else:
        where = next((n.country for n in numbers if n.country), "")
        if where and explain:
            evidence.append(Evidence(f"country of the first number ({where})", (),
                                     f"addresses read in {where}"))
    address: list[str] = []
    for kind, value, reader in (("state/region", region, read_region),
                                ("postal code", postal, read_postal)):
        if not value.strip():
            continue
        reading = reader(where, value) if where else None
        if reading is not None and reading.zones:
            address += [z for z in reading.zones if z not in address]
        if not explain:
            continue
        source = f"{kind} {value.strip()!r}"
        if reading is None:
            note = f"not read: no table for {where}" if where else "not read: no country known"
            evidence.append(Evidence(source, (), note))
        elif not reading.zones:
            evidence.append(Evidence(source, (), f"ignored: {reading.how}"))
        else:
            evidence.append(Evidence(source, reading.zones, reading.how))
    out: list[str] = list(address)
    for n in numbers:
        if not n.zones:
            if explain:
                note = "non-geographic, says nothing of where" if n.country else "no zone known"
                evidence.append(Evidence(f"number {n.e164}", (), note))
            continue
        narrowed = not n.geographic and address and set(address) <= set(n.zones)
        zones = tuple(address) if narrowed else n.zones
        out += [z for z in zones if z not in out]
        if not explain:
            continue
        if n.geographic:
            note = "its area code"
        elif narrowed:
            note = f"its country ({n.country}) spans {', '.join(n.zones)}; narrowed by the address"
        else:
            note = f"its country's zones ({n.country or 'unknown'})"
        if address and not set(zones) <= set(address) and not set(address) <= set(zones):
            note += "; disagrees with the address: both kept, the most restrictive window wins"
        evidence.append(Evidence(f"number {n.e164}", zones, note))
    return Located(tuple(sorted(out)), where, tuple(evidence))
