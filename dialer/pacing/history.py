"""A campaign's recent history as pacing facts, so a fresh pacer starts warm (pure).

The live dialer tells its pacer every fact as it happens (``CallLaunched``, ``CallAnswered``,
``CallFailed``, ``CallConnected``, ``CallAbandoned``, ``TalkEnded``, ``WrapUpEnded``). A pacer
created at a (re)start has seen none of them and dials on priors, progressively until its
warm-up samples are in. The database keeps the same facts for every attempt; this module turns
them back into the events the live dialer would have emitted, with their times:

===========================  ===================================================================
``CallLaunched``             at the attempt's creation (``started_at``, as the dialer's dial)
``CallAnswered`` live        at the answer; ``ring_seconds`` = answer - launch
``CallAnswered`` machine     at AMD's verdict (else the answer, else the end)
``CallFailed``               at the end of an unanswered attempt; ``NO_ANSWER`` for no answer and
                             hung up while ringing, else ``BUSY`` (busy, rejected, congestion,
                             invalid number, failed); ``ring_seconds`` = end - launch
``CallConnected``            at the bridge; ``hold_seconds`` = bridge - answer
``CallAbandoned``            an ``abandoned`` result, at its safe-harbor message (else its end)
``TalkEnded``                at the end of a bridged attempt; ``talk_seconds`` = end - bridge
``WrapUpEnded``              at the disposition; ``wrap_seconds`` = disposition - end
===========================  ===================================================================

Attempts still open or ``interrupted`` (the dialer stopped before their end was known) give
nothing: their outcome is unknown. Abandons are the pacer's own (what the live dialer tells it,
an ``abandoned`` result); the 30-day compliance count, late connects included, is the ledger's
(:mod:`dialer.core.ledger`) and holds a campaign back by itself.

Time base: the pacer's clock is any float clock. ``timed(events, now, clock_now)`` maps a wall
time ``at`` to ``clock_now - (now - at).total_seconds()``, where ``now`` (aware datetime) and
``clock_now`` (the pacer's clock) are the same instant; with ``clock_now = now.timestamp()`` a
fact's pacer time is its POSIX timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dialer.core.results import CallResult
from dialer.core.timeutil import require_aware
from dialer.pacing.events import (
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    CallLaunched,
    FailReason,
    PacingEvent,
    TalkEnded,
    WrapUpEnded,
)

_NO_ANSWER = frozenset({CallResult.NO_ANSWER, CallResult.HUNG_UP_RINGING})
_LIVE = frozenset(
    {CallResult.ANSWERED_HUMAN, CallResult.ABANDONED, CallResult.DROPPED_BY_CUSTOMER}
)
_MACHINE = frozenset({CallResult.MACHINE, CallResult.FAX})


@dataclass(frozen=True)
class PastAttempt:
    """One ended attempt as pacing needs it (the attempt row, its first events, its disposition)."""

    attempt_id: int
    started_at: datetime
    result: CallResult | None
    ended_at: datetime | None
    agent_id: int | None = None
    answered_at: datetime | None = None
    amd_done_at: datetime | None = None
    bridged_at: datetime | None = None
    safe_harbor_at: datetime | None = None
    dispositioned_at: datetime | None = None


def _secs(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def attempt_events(a: PastAttempt) -> list[tuple[datetime, PacingEvent]]:
    """The facts the live dialer emitted for this attempt, in the order it emitted them."""
    result, end = a.result, a.ended_at
    if result is None or end is None or result is CallResult.INTERRUPTED:
        return []
    require_aware(a.started_at, "started_at")
    t0 = a.started_at
    out: list[tuple[datetime, PacingEvent]] = [(t0, CallLaunched(a.attempt_id))]
    if result in _MACHINE:
        at = a.amd_done_at or a.answered_at or end
        ring = _secs(t0, a.answered_at or at)
        out.append((at, CallAnswered(a.attempt_id, AnswerKind.MACHINE, ring)))
        return out
    if result not in _LIVE:
        reason = FailReason.NO_ANSWER if result in _NO_ANSWER else FailReason.BUSY
        out.append((end, CallFailed(a.attempt_id, reason, _secs(t0, end))))
        return out
    answered = a.answered_at or a.bridged_at or a.safe_harbor_at or end
    out.append((answered, CallAnswered(a.attempt_id, AnswerKind.LIVE, _secs(t0, answered))))
    if result is CallResult.ABANDONED:
        at = a.safe_harbor_at or end
        out.append((at, CallAbandoned(a.attempt_id, _secs(answered, at))))
        return out
    if a.bridged_at is None or a.agent_id is None:
        return out  # hung up while waiting for an agent: the dialer told its pacer nothing more
    out.append((a.bridged_at, CallConnected(a.attempt_id, a.agent_id,
                                            _secs(answered, a.bridged_at))))
    out.append((end, TalkEnded(a.agent_id, _secs(a.bridged_at, end))))
    if a.dispositioned_at is not None:
        out.append((a.dispositioned_at, WrapUpEnded(a.agent_id, _secs(end, a.dispositioned_at))))
    return out


def pacing_events(attempts: Iterable[PastAttempt]) -> list[tuple[datetime, PacingEvent]]:
    """Every attempt's facts merged in time order (an attempt's own order kept on ties)."""
    keyed = []
    for a in attempts:
        last: datetime | None = None
        for step, (at, event) in enumerate(attempt_events(a)):
            last = at if last is None or at > last else last  # never before its own launch
            keyed.append((last, a.attempt_id, step, event))
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return [(at, event) for at, _, _, event in keyed]


def timed(
    events: Iterable[tuple[datetime, PacingEvent]], now: datetime, clock_now: float
) -> list[tuple[float, PacingEvent]]:
    """Wall times to the pacer's clock: ``now`` is ``clock_now`` (module docstring).

    Facts after ``now`` (clocks that disagree) are put at ``clock_now``.
    """
    require_aware(now)
    return [(clock_now - max(0.0, (now - at).total_seconds()), ev) for at, ev in events]
