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

Rates (``Ledger``): per calendar day; over the rolling 30-day window ending each day (days
D-29..D) and ending ``now`` (the instants ``(now - 30 days, now]``), which is what the dialer's
cap is held to; and over each successive 30-day period from the campaign's first day, the
FTC's own wording ("each successive 30-day period or portion thereof"). A rate is abandoned
over live answers, 0 when there is no live answer.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from dialer.core.calling_hours import zone_info
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
    """Abandoned over live answers."""

    live: int
    abandoned: int

    @property
    def rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    def over(self, cap: float) -> bool:
        return self.rate > cap


@dataclass(frozen=True)
class DayRow:
    """One calendar day (campaign zone) and the 30-day window ending with it."""

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
    """One successive 30-day period from the campaign's first day (the last may be partial)."""

    start: date
    end: date
    rate: Rate


@dataclass(frozen=True)
class Ledger:
    """The whole ledger of a campaign."""

    entries: tuple[LedgerEntry, ...]
    days: tuple[DayRow, ...]
    periods: tuple[Period, ...]
    current: Rate  # the 30 days ending ``now``
    cap: float
    now: datetime
    time_zone: str

    @property
    def total(self) -> Rate:
        return Rate(sum(e.live for e in self.entries), sum(e.abandoned for e in self.entries))

    def flagged(self) -> list[LedgerEntry]:
        """Attempts with any flag, oldest first."""
        return [e for e in self.entries if e.flags]


def judge(facts: AttemptFacts, time_zone: str = "UTC") -> LedgerEntry:
    """One attempt's ledger entry (module docstring)."""
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
        if ring_s is not None and dialer_ended and ring_s < MIN_RING.total_seconds():
            flags.add(Flag.SHORT_RING)
    to_agent = _seconds(facts.answered_at, facts.bridged_at)
    to_message = _seconds(facts.answered_at, facts.safe_harbor_at)
    greeting_end = facts.amd_done_at or facts.answered_at
    from_greeting = _seconds(greeting_end, facts.bridged_at)
    limit = CONNECT_LIMIT.total_seconds()
    if live and from_greeting is not None and from_greeting > limit:
        flags.add(Flag.LATE_CONNECT)
        abandoned = True
    message_wait = _seconds(greeting_end, facts.safe_harbor_at)
    if message_wait is not None and message_wait > limit:
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
    cap: float = DEFAULT_CAP,
) -> Ledger:
    """Judge every attempt and sum per day, per rolling window and per successive period."""
    require_aware(now)
    entries = tuple(
        sorted((judge(a, time_zone) for a in attempts), key=lambda e: e.facts.started_at)
    )
    by_day: dict[date, list[LedgerEntry]] = {}
    for entry in entries:
        by_day.setdefault(entry.day, []).append(entry)
    days: list[DayRow] = []
    if entries:
        first, last = entries[0].day, entries[-1].day
        rates = {d: _rate(by_day.get(d, [])) for d in _dates(first, last)}
        for day in _dates(first, last):
            window = [
                rates[d] for d in _dates(day - timedelta(days=WINDOW_DAYS - 1), day) if d in rates
            ]
            days.append(_day_row(day, by_day.get(day, []), _sum(window)))
    periods: list[Period] = []
    if entries:
        start = entries[0].day
        while start <= entries[-1].day:
            end = start + timedelta(days=WINDOW_DAYS - 1)
            inside = [e for e in entries if start <= e.day <= end]
            periods.append(Period(start, end, _rate(inside)))
            start = end + timedelta(days=1)
    current = _rate([e for e in entries if now - WINDOW < e.facts.started_at <= now])
    return Ledger(entries, tuple(days), tuple(periods), current, cap, now, time_zone)


def window_rate(attempts: Iterable[AttemptFacts], now: datetime) -> Rate:
    """Abandoned over live answers for the attempts started in ``(now - 30 days, now]``."""
    require_aware(now)
    return _rate([judge(a) for a in attempts if now - WINDOW < a.started_at <= now])


def hold_reason(rate: Rate, cap: float) -> str | None:
    """Why predictive pacing must hold back: the 30-day ``rate`` is at or over ``cap``; else None.

    At the cap itself it holds already: one more abandon would take the campaign over it.
    """
    if rate.rate < cap:
        return None
    return (
        f"30-day abandon rate {100 * rate.rate:.1f}% ({rate.abandoned} of {rate.live} live "
        f"answers, late connects included) is at or over the cap {100 * cap:.1f}%: "
        "dialing progressively until it is back under"
    )


def _day_row(day: date, entries: Sequence[LedgerEntry], window: Rate) -> DayRow:
    to_agent = [e.answer_to_agent_s for e in entries if e.answer_to_agent_s is not None]
    return DayRow(
        day=day,
        attempts=len(entries),
        unanswered=sum(e.unanswered for e in entries),
        short_rings=sum(Flag.SHORT_RING in e.flags for e in entries),
        answered=sum(e.facts.result in ANSWERED for e in entries),
        day_rate=_rate(entries),
        connected=sum(e.facts.bridged_at is not None for e in entries),
        late_connects=sum(Flag.LATE_CONNECT in e.flags for e in entries),
        median_answer_to_agent_s=statistics.median(to_agent) if to_agent else None,
        max_answer_to_agent_s=max(to_agent) if to_agent else None,
        window=window,
    )


def _rate(entries: Iterable[LedgerEntry]) -> Rate:
    live = abandoned = 0
    for entry in entries:
        live += entry.live
        abandoned += entry.live and entry.abandoned
    return Rate(live, abandoned)


def _sum(rates: Iterable[Rate]) -> Rate:
    live = abandoned = 0
    for rate in rates:
        live += rate.live
        abandoned += rate.abandoned
    return Rate(live, abandoned)


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
