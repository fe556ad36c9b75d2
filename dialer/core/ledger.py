"""The compliance ledger: abandon rate as the FTC counts it, ring times, answer-to-agent times.

Pure: attempts come in as ``AttemptFacts`` (times from the attempt and its event log), the
campaign's zone (which calendar day an attempt belongs to) and ``now``.

For every attempt (``LedgerEntry``):

- *live answer*: answered by a person (``answered_human``, ``abandoned``,
  ``dropped_by_customer``); answering machines and faxes are not;
- *abandoned* (16 CFR 310.4(b)(4)(i), 47 CFR 64.1200(a)(7)): a live answer not connected to an
  agent within ``CONNECT_LIMIT`` (2 s) of the greeting's end. Counted: every ``abandoned``
  result (safe-harbor message played or not); an agent connected later than 2 s
  (``LATE_CONNECT``); a customer who hung up after waiting more than 2 s with neither agent nor
  message (``DROPPED_WAITING``). The greeting ends at AMD's decision when AMD ran, else at the
  answer, which can only overstate the wait (the most restrictive reading);
- *ring time* of every unanswered attempt, from ringing (else origination, else creation) to
  its end; ``SHORT_RING`` when under ``MIN_RING`` (15 s) and the dialer, not the callee, ended it
  (busy, rejected, hung up while ringing, invalid number and network congestion are the
  callee's or the network's doing);
- *answer to agent* / *answer to message* for every answered attempt; ``LATE_MESSAGE`` when the
  safe-harbor message started more than 2 s after the greeting, ``NO_MESSAGE`` when an
  abandoned call got none.

The limits (2 s, 15 s) and the window are the campaign's jurisdiction profile's
(``dialer.core.jurisdiction``; US TSR by default, whose values are the ones named above).

Rates (``Ledger``): per calendar day; over the profile's window ending with each day and ending
``now`` (US: the instants ``(now - 30 days, now]``; UK: the last 24 h; Canada: the calendar
month so far), which is what the dialer's cap is held to; and over each of the profile's
successive periods from the campaign's first day (US: the FTC's own wording, "each successive
30-day period or portion thereof"; UK: each day; Canada: each calendar month). A rate is
abandoned over live answers, 0 when there is no live answer; a profile that counts AMD false
positives adds its estimate of them (a share of the machine verdicts) to both.
"""

from __future__ import annotations

import bisect
import enum
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Final

from dialer.core.calling_hours import zone_info
from dialer.core.jurisdiction import DEFAULT, Jurisdiction, WindowKind
from dialer.core.results import CallResult, HangupSide
from dialer.core.timeutil import require_aware

WINDOW_DAYS: Final = 30
WINDOW: Final = timedelta(days=WINDOW_DAYS)
MIN_RING: Final = timedelta(seconds=15)
CONNECT_LIMIT: Final = timedelta(seconds=2)
DEFAULT_CAP: Final = 0.03

LIVE: Final = frozenset(
    {CallResult.ANSWERED_HUMAN, CallResult.ABANDONED, CallResult.DROPPED_BY_CUSTOMER}
)
ANSWERED: Final = LIVE | {CallResult.MACHINE, CallResult.FAX}
CALLEE_ENDED: Final = frozenset(
    {
        CallResult.BUSY,
        CallResult.REJECTED,
        CallResult.HUNG_UP_RINGING,
        CallResult.INVALID_NUMBER,
        CallResult.CONGESTION,
    }
)
DIALER_ENDED: Final = frozenset({CallResult.NO_ANSWER, CallResult.INTERRUPTED})


class Flag(enum.Enum):
    """What the ledger points out about one attempt."""

    ABANDONED = "abandoned"
    LATE_CONNECT = "agent connected more than 2 s after the greeting"
    DROPPED_WAITING = "customer hung up after waiting more than 2 s for an agent"
    LATE_MESSAGE = "message started more than 2 s after the greeting"
    NO_MESSAGE = "abandoned without the identification message"
    SHORT_RING = "rang less than 15 s before the dialer gave up"


@dataclass(frozen=True)
class AttemptFacts:
    """One attempt as the ledger needs it (times from the attempt row and its events)."""

    attempt_id: int
    started_at: datetime
    result: CallResult | None
    ended_at: datetime | None = None
    contact_id: int | None = None
    number: str = ""
    agent_id: int | None = None
    hung_up_by: HangupSide | None = None
    originated_at: datetime | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    amd_done_at: datetime | None = None
    bridged_at: datetime | None = None
    safe_harbor_at: datetime | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """One attempt, judged."""

    facts: AttemptFacts
    day: date
    live: bool
    abandoned: bool
    ring_s: float | None
    answer_to_agent_s: float | None
    answer_to_message_s: float | None
    greeting_to_agent_s: float | None
    flags: frozenset[Flag]

    @property
    def unanswered(self) -> bool:
        return self.facts.result is not None and self.facts.result not in ANSWERED


@dataclass(frozen=True)
class Rate:
    """Abandoned over live answers (plus the estimated AMD false positives, when counted:
    ``machines`` x ``fp_share`` people taken for machines, added to both)."""

    live: int
    abandoned: int
    machines: int = 0
    fp_share: float = 0.0

    @property
    def false_positives(self) -> float:
        return self.machines * self.fp_share

    @property
    def rate(self) -> float:
        fp = self.false_positives
        return (self.abandoned + fp) / (self.live + fp) if self.live + fp else 0.0

    def over(self, cap: float) -> bool:
        return self.rate > cap


@dataclass(frozen=True)
class DayRow:
    """One calendar day (campaign zone) and the profile's window ending with it."""

    day: date
    attempts: int
    unanswered: int
    short_rings: int
    answered: int
    day_rate: Rate
    connected: int
    late_connects: int
    median_answer_to_agent_s: float | None
    max_answer_to_agent_s: float | None
    window: Rate


@dataclass(frozen=True)
class Period:
    """One of the profile's successive periods from the campaign's first day (US: 30 days;
    the last may be partial)."""

    start: date
    end: date
    rate: Rate


@dataclass(frozen=True)
class Ledger:
    """The whole ledger of a campaign."""

    entries: tuple[LedgerEntry, ...]
    days: tuple[DayRow, ...]
    periods: tuple[Period, ...]
    current: Rate  # the profile's window ending ``now``
    cap: float
    now: datetime
    time_zone: str
    profile: Jurisdiction = DEFAULT

    @property
    def total(self) -> Rate:
        return Rate(sum(e.live for e in self.entries), sum(e.abandoned for e in self.entries))

    def flagged(self) -> list[LedgerEntry]:
        """Attempts with any flag, oldest first."""
        return [e for e in self.entries if e.flags]


def judge(
    facts: AttemptFacts, time_zone: str = "UTC", profile: Jurisdiction = DEFAULT
) -> LedgerEntry:
    """One attempt's ledger entry (module docstring), by ``profile``'s limits."""
    require_aware(facts.started_at, "started_at")
    result = facts.result
    flags: set[Flag] = set()
    live = result in LIVE
    abandoned = result is CallResult.ABANDONED
    ring_s = None
    if result is not None and result not in ANSWERED and facts.answered_at is None:
        start = facts.ringing_at or facts.originated_at or facts.started_at
        end = facts.ended_at
        ring_s = _seconds(start, end)
        dialer_ended = result in DIALER_ENDED or (
            result not in CALLEE_ENDED and facts.hung_up_by is HangupSide.DIALER
        )
        if ring_s is not None and dialer_ended and ring_s < profile.min_ring.total_seconds():
            flags.add(Flag.SHORT_RING)
    to_agent = _seconds(facts.answered_at, facts.bridged_at)
    to_message = _seconds(facts.answered_at, facts.safe_harbor_at)
    greeting_end = facts.amd_done_at or facts.answered_at
    from_greeting = _seconds(greeting_end, facts.bridged_at)
    limit = profile.abandon_after.total_seconds()
    if live and from_greeting is not None and from_greeting > limit:
        flags.add(Flag.LATE_CONNECT)
        abandoned = True
    message_wait = _seconds(greeting_end, facts.safe_harbor_at)
    if message_wait is not None and message_wait > profile.message_deadline.total_seconds():
        flags.add(Flag.LATE_MESSAGE)
    if result is CallResult.DROPPED_BY_CUSTOMER and facts.bridged_at is None:
        waited = _seconds(greeting_end, facts.ended_at)
        if waited is not None and waited > limit:
            flags.add(Flag.DROPPED_WAITING)
            abandoned = True
    if result is CallResult.ABANDONED and facts.safe_harbor_at is None:
        flags.add(Flag.NO_MESSAGE)
    if abandoned:
        flags.add(Flag.ABANDONED)
    day = facts.started_at.astimezone(zone_info(time_zone)).date()
    return LedgerEntry(
        facts, day, live, abandoned, ring_s, to_agent, to_message, from_greeting, frozenset(flags)
    )


def build_ledger(
    attempts: Iterable[AttemptFacts],
    now: datetime,
    time_zone: str = "UTC",
    cap: float | None = None,
    profile: Jurisdiction | None = None,
) -> Ledger:
    """Judge every attempt and sum per day, per window and per successive period.

    ``profile`` (default US TSR) gives the window and the definition; ``cap``, if given,
    overrides its cap (campaigns stored before profiles).
    """
    require_aware(now)
    rule = profile or DEFAULT
    if cap is not None and cap != rule.cap:
        rule = replace(rule, cap=cap)
    entries = tuple(
        sorted((judge(a, time_zone, rule) for a in attempts), key=lambda e: e.facts.started_at)
    )
    by_day: dict[date, list[LedgerEntry]] = {}
    for entry in entries:
        by_day.setdefault(entry.day, []).append(entry)
    windows = _Windows(entries, rule, time_zone)
    days: list[DayRow] = []
    periods: list[Period] = []
    if entries:
        first, last = entries[0].day, entries[-1].day
        zone = zone_info(time_zone)
        for day in _dates(first, last):
            end = datetime.combine(day + timedelta(days=1), time(0), zone) - timedelta(
                microseconds=1
            )
            days.append(_day_row(day, by_day.get(day, []), windows.rate(end), rule))
        for start, stop in rule.periods(first, last):
            inside = [e for e in entries if start <= e.day <= stop]
            periods.append(Period(start, stop, _rate(inside, rule)))
    current = windows.rate(now)
    return Ledger(entries, tuple(days), tuple(periods), current, rule.cap, now, time_zone, rule)


class _Windows:
    """The profile's window rate ending at any instant, by bisection over the attempts."""

    def __init__(self, entries: Sequence[LedgerEntry], rule: Jurisdiction, zone: str) -> None:
        self.rule, self.zone = rule, zone
        self.starts = [e.facts.started_at for e in entries]
        self.sums = [(0, 0, 0)]
        for e in entries:
            live, abandoned, machines = self.sums[-1]
            self.sums.append(
                (
                    live + e.live,
                    abandoned + (e.live and e.abandoned),
                    machines + (e.facts.result is CallResult.MACHINE),
                )
            )

    def rate(self, end: datetime) -> Rate:
        start = self.rule.window_start(end, self.zone)
        side = bisect.bisect_right if self.rule.window is WindowKind.ROLLING else bisect.bisect_left
        lo = side(self.starts, start)
        hi = bisect.bisect_right(self.starts, end)
        if hi <= lo:
            return _counted(0, 0, 0, self.rule)
        a, b = self.sums[lo], self.sums[hi]
        return _counted(b[0] - a[0], b[1] - a[1], b[2] - a[2], self.rule)


def _counted(live: int, abandoned: int, machines: int, rule: Jurisdiction) -> Rate:
    if not rule.amd_false_positives:
        return Rate(live, abandoned)
    return Rate(live, abandoned, machines, rule.amd_false_positive_rate)


def window_rate(
    attempts: Iterable[AttemptFacts],
    now: datetime,
    profile: Jurisdiction = DEFAULT,
    time_zone: str = "UTC",
) -> Rate:
    """The abandon rate of the attempts started in ``profile``'s window ending ``now``
    (US TSR: ``(now - 30 days, now]``)."""
    require_aware(now)
    inside = [a for a in attempts if profile.contains(a.started_at, now, time_zone)]
    return _rate([judge(a, time_zone, profile) for a in inside], profile)


def hold_reason(rate: Rate, cap: float, window: str = "30-day") -> str | None:
    """Why predictive pacing must hold back: the ``window`` ``rate`` is at or over ``cap``;
    else None.

    At the cap itself it holds already: one more abandon would take the campaign over it.
    """
    if rate.rate < cap:
        return None
    fp = ""
    if rate.machines and rate.fp_share:
        fp = f", {rate.false_positives:.1f} estimated AMD false positives"
    return (
        f"{window} abandon rate {100 * rate.rate:.1f}% ({rate.abandoned} of {rate.live} live "
        f"answers, late connects included{fp}) is at or over the cap {100 * cap:.1f}%: "
        "dialing progressively until it is back under"
    )


def _day_row(
    day: date, entries: Sequence[LedgerEntry], window: Rate, rule: Jurisdiction
) -> DayRow:
    to_agent = [e.answer_to_agent_s for e in entries if e.answer_to_agent_s is not None]
    return DayRow(
        day=day,
        attempts=len(entries),
        unanswered=sum(e.unanswered for e in entries),
        short_rings=sum(Flag.SHORT_RING in e.flags for e in entries),
        answered=sum(e.facts.result in ANSWERED for e in entries),
        day_rate=_rate(entries, rule),
        connected=sum(e.facts.bridged_at is not None for e in entries),
        late_connects=sum(Flag.LATE_CONNECT in e.flags for e in entries),
        median_answer_to_agent_s=statistics.median(to_agent) if to_agent else None,
        max_answer_to_agent_s=max(to_agent) if to_agent else None,
        window=window,
    )


def _rate(entries: Iterable[LedgerEntry], rule: Jurisdiction = DEFAULT) -> Rate:
    live = abandoned = machines = 0
    for entry in entries:
        live += entry.live
        abandoned += entry.live and entry.abandoned
        machines += entry.facts.result is CallResult.MACHINE
    return _counted(live, abandoned, machines, rule)


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
