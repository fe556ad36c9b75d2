"""Jurisdiction profiles: which abandon rule a campaign runs under, as data.

Pure. A campaign names its rule set in its TOML (``[compliance] profile = "uk_ofcom"``); the
ledger, ``dialer report``, the live view and the pacer's compliance hold all take the window and
the definition of "abandoned" from the ``Jurisdiction`` it names:

=============  ======  =========================  =========================================
profile        cap     window                     also
=============  ======  =========================  =========================================
``us_tsr``     3 %     30 days rolling            16 CFR 310.4(b)(4); records 5 years
``uk_ofcom``   3 %     24 h rolling               AMD false positives count as abandons
                                                  (a reasoned estimate, per AMD verdict)
``ca_crtc``    5 %     calendar month             records 3 years
``custom``     every field given in the campaign file (defaults: the US values)
=============  ======  =========================  =========================================

In every preset a call is abandoned when a live answer is not connected to an agent within
2 s of the end of the greeting (``abandon_after``), the recorded message must start within 2 s
(``message_deadline``) and a number rings at least 15 s before the dialer gives up
(``min_ring``). The rate is abandoned / live answers; with ``amd_false_positives`` the
estimated number of people that AMD took for machines (``amd_false_positive_rate`` x the
machine verdicts in the window) is added to both, as Ofcom asks.

Windows (``window_start(end, zone)``): *rolling* covers the instants ``(end - length, end]``;
*calendar month* covers the campaign-zone month of ``end``, from its first midnight to ``end``.
``periods(first, last)`` cuts a campaign's days into the rule's successive periods (the FTC's
"each successive 30-day period", each day for 24 h, each calendar month).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from dialer.core.calling_hours import zone_info


class WindowKind(enum.Enum):
    """How the abandon rate's window is cut."""

    ROLLING = "rolling"
    CALENDAR_MONTH = "calendar_month"


class ProfileError(ValueError):
    """A bad profile value; the message names the field."""


@dataclass(frozen=True)
class Jurisdiction:
    """One rule set (module doc)."""

    name: str
    title: str
    cap: float = 0.03
    window: WindowKind = WindowKind.ROLLING
    window_length: timedelta = timedelta(days=30)  # rolling windows only
    abandon_after: timedelta = timedelta(seconds=2)
    amd_false_positives: bool = False
    amd_false_positive_rate: float = 0.0
    message_deadline: timedelta = timedelta(seconds=2)
    min_ring: timedelta = timedelta(seconds=15)
    retention: timedelta = timedelta(days=5 * 365)

    def __post_init__(self) -> None:
        if not 0 < self.cap <= 1:
            raise ProfileError(f"cap must be a fraction in (0, 1] (0.03 = 3%), got {self.cap!r}")
        if self.window is WindowKind.ROLLING and (
            self.window_length < timedelta(hours=1) or self.window_length % timedelta(hours=1)
        ):
            raise ProfileError(
                f"window_length must be whole hours, at least 1h, got {self.window_length}"
            )
        if not 0 <= self.amd_false_positive_rate < 1:
            raise ProfileError(
                "amd_false_positive_rate must be a fraction in [0, 1), got "
                f"{self.amd_false_positive_rate!r}"
            )
        for name in ("abandon_after", "message_deadline", "min_ring"):
            if getattr(self, name) < timedelta(0):
                raise ProfileError(f"{name} must not be negative")
        if self.retention < timedelta(days=1):
            raise ProfileError(f"retention must be at least 1 day, got {self.retention}")

    # -- the window ------------------------------------------------------------------------

    @property
    def window_label(self) -> str:
        """"30 days rolling", "24 h rolling", "calendar month"."""
        if self.window is WindowKind.CALENDAR_MONTH:
            return "calendar month"
        length = self.window_length
        if length % timedelta(days=1) == timedelta(0) and length != timedelta(days=1):
            return f"{length.days} days rolling"
        return f"{int(length.total_seconds() // 3600)} h rolling"

    @property
    def short_label(self) -> str:
        """For sentences: "30-day", "24-hour", "calendar-month"."""
        if self.window is WindowKind.CALENDAR_MONTH:
            return "calendar-month"
        length = self.window_length
        if length % timedelta(days=1) == timedelta(0) and length != timedelta(days=1):
            return f"{length.days}-day"
        return f"{int(length.total_seconds() // 3600)}-hour"

    def window_start(self, end: datetime, zone: str = "UTC") -> datetime:
        """Where the window ending at ``end`` starts (module doc)."""
        if self.window is WindowKind.ROLLING:
            return end - self.window_length
        local = end.astimezone(zone_info(zone))
        return datetime.combine(local.date().replace(day=1), time(0), zone_info(zone))

    def contains(self, at: datetime, end: datetime, zone: str = "UTC") -> bool:
        """Whether an attempt started ``at`` is inside the window ending at ``end``."""
        start = self.window_start(end, zone)
        if self.window is WindowKind.ROLLING:
            return start < at <= end
        return start <= at <= end

    def periods(self, first: date, last: date) -> list[tuple[date, date]]:
        """The rule's successive periods (first day, last day) covering ``first..last``."""
        out: list[tuple[date, date]] = []
        if self.window is WindowKind.CALENDAR_MONTH:
            start = first.replace(day=1)
            while start <= last:
                following = (start + timedelta(days=32)).replace(day=1)
                out.append((start, following - timedelta(days=1)))
                start = following
            return out
        days = max(1, -(-self.window_length // timedelta(days=1)))  # ceiling
        start = first
        while start <= last:
            end = start + timedelta(days=days - 1)
            out.append((start, end))
            start = end + timedelta(days=1)
        return out

    def describe(self) -> str:
        """One line for reports: the rule, cap, window, definition and retention."""
        fp = ""
        if self.amd_false_positives:
            fp = (
                f"; AMD false positives count as abandons (estimated "
                f"{100 * self.amd_false_positive_rate:g}% of machine verdicts)"
            )
        return (
            f"{self.title}: cap {100 * self.cap:g}% of live answers, {self.window_label}; "
            f"abandoned = not connected within {self.abandon_after.total_seconds():g} s of the "
            f"greeting{fp}; message within {self.message_deadline.total_seconds():g} s; ring "
            f"at least {self.min_ring.total_seconds():g} s; records kept "
            f"{_retention_text(self.retention)}"
        )


def pacer_guard(profile: Jurisdiction | None) -> dict[str, float]:
    """Extra parameters of the predictive pacer for ``profile``'s window.

    A short rolling window (up to 2 days: Ofcom's 24 h) gets the pacer's trailing guard
    (``PredictivePacer.hour_factor``) over that window at the cap itself, instead of the
    trailing hour at 4.5 %: theta is cut as the window's abandons near the cap. In the
    simulator (``dialer bench profiles``) that took a UK campaign's worst 24 h window from
    3.00 % to 2.7 % at the same occupancy. Longer windows keep the pacer's defaults.
    """
    if (
        profile is None
        or profile.window is not WindowKind.ROLLING
        or profile.window_length > timedelta(days=2)
    ):
        return {}
    return {"hour_s": profile.window_length.total_seconds(), "hour_cap": profile.cap}


def _retention_text(value: timedelta) -> str:
    if value.days % 365 == 0:
        return f"{value.days // 365} years"
    if value.days % 30 == 0:
        return f"{value.days // 30} months"
    return f"{value.days} days"


US_TSR: Final = Jurisdiction(
    "us_tsr", "US TSR (16 CFR 310.4(b)(4))", cap=0.03, window_length=timedelta(days=30)
)
UK_OFCOM: Final = Jurisdiction(
    "uk_ofcom",
    "UK Ofcom (persistent misuse policy)",
    cap=0.03,
    window_length=timedelta(hours=24),
    amd_false_positives=True,
    retention=timedelta(days=6 * 30),
)
CA_CRTC: Final = Jurisdiction(
    "ca_crtc",
    "Canada CRTC (Unsolicited Telecommunications Rules)",
    cap=0.05,
    window=WindowKind.CALENDAR_MONTH,
    retention=timedelta(days=3 * 365),
)
PRESETS: Final[Mapping[str, Jurisdiction]] = {p.name: p for p in (US_TSR, UK_OFCOM, CA_CRTC)}
DEFAULT: Final = US_TSR
CUSTOM_KEYS: Final = frozenset(
    {
        "cap",
        "window",
        "window_length",
        "abandon_after",
        "amd_false_positives",
        "amd_false_positive_rate",
        "message_deadline",
        "min_ring",
        "retention",
    }
)


def profile_named(name: str, **changes: Any) -> Jurisdiction:
    """A preset by name, or ``custom`` built from ``changes`` over the US values.

    A preset takes only ``amd_false_positive_rate`` (the campaign's own estimate) as a change.
    """
    if name == "custom":
        return replace(US_TSR, name="custom", title="custom", **changes)
    if name not in PRESETS:
        known = ", ".join([*PRESETS, "custom"])
        raise ProfileError(f"profile must be one of {known}, got {name!r}")
    extra = set(changes) - {"amd_false_positive_rate"}
    if extra:
        raise ProfileError(
            f"{', '.join(sorted(extra))} can only be set with profile = \"custom\" "
            f"({name} fixes them)"
        )
    return replace(PRESETS[name], **changes)


def to_json(p: Jurisdiction) -> dict[str, Any]:
    """How a campaign's profile is stored (its options column)."""
    return {
        "name": p.name,
        "title": p.title,
        "cap": p.cap,
        "window": p.window.value,
        "window_length_s": p.window_length.total_seconds(),
        "abandon_after_s": p.abandon_after.total_seconds(),
        "amd_false_positives": p.amd_false_positives,
        "amd_false_positive_rate": p.amd_false_positive_rate,
        "message_deadline_s": p.message_deadline.total_seconds(),
        "min_ring_s": p.min_ring.total_seconds(),
        "retention_days": p.retention.days,
    }


def from_json(data: Mapping[str, Any] | None, cap: float | None = None) -> Jurisdiction:
    """The stored profile; a campaign stored before profiles is US TSR at its own cap."""
    if not data:
        return replace(US_TSR, cap=cap) if cap is not None else US_TSR
    return Jurisdiction(
        name=data["name"],
        title=data["title"],
        cap=data["cap"],
        window=WindowKind(data["window"]),
        window_length=timedelta(seconds=data["window_length_s"]),
        abandon_after=timedelta(seconds=data["abandon_after_s"]),
        amd_false_positives=data["amd_false_positives"],
        amd_false_positive_rate=data["amd_false_positive_rate"],
        message_deadline=timedelta(seconds=data["message_deadline_s"]),
        min_ring=timedelta(seconds=data["min_ring_s"]),
        retention=timedelta(days=data["retention_days"]),
    )
