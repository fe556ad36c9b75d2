"""Record selection and retry rules: which contact to dial next, and what happens after.

Pure functions over plain frozen dataclasses; the data layer loads a few candidates, calls these,
and stores the answer. Times are timezone-aware datetimes.

Selection order (``candidates``/``select_next``), skipping contacts outside calling hours:

1. callbacks due at ``now`` (earliest first): personal ones only for their agent, campaign ones
   (``agent_id`` None) for any agent; with no agent known (predictive dialing before an agent is
   free) only campaign callbacks;
2. fresh contacts (state NEW), oldest id first, unless put off (a skipped preview record has
   a ``next_eligible_at``);
3. retries whose ``next_eligible_at`` has passed, earliest first.

After an attempt (``next_state``):

- a scheduled callback wins: state CALLBACK at that time, same number;
- an agent disposition decides next: final -> DONE; retry -> RETRY after the code's delay (or the
  campaign default) on the same number, unless the contact's attempts reached ``max_attempts``;
- otherwise the system result decides: the contact's ``max_attempts`` ends it (EXHAUSTED); a result
  in ``chain_on`` moves to the next live number of the contact at once; a result with no retry
  rule is final (DONE), except ``interrupted`` (retried after the campaign's default delay);
  a rule allows ``max_attempts`` attempts ending in that result, each retry
  ``interval + increment * (n - 1)`` after the n-th, restarting the number chain from the first
  live number (or the same number for results not in ``chain_on``). Results in ``dead_on``
  (invalid number) mark that number dead: it is never dialed again.
- with ``abandon_no_repeat`` set, a contact whose call was abandoned is not dialed again before
  that period has passed; without a retry rule for ``abandoned`` it is then retried (up to
  ``max_attempts``) instead of being final.

Numbers on a Do-Not-Call list (``blocked``) are skipped at selection like dead numbers, but
are not marked dead: removing a number from the list makes it dialable again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from dialer.core.callbacks import CallbackPolicy
from dialer.core.calling_hours import CallingHours as CallingHours  # re-exported
from dialer.core.calling_hours import effective_zones
from dialer.core.results import CallResult
from dialer.core.timeutil import require_aware


class ContactState(enum.Enum):
    """Where a contact is in its campaign."""

    NEW = "new"
    RESERVED = "reserved"
    RETRY = "retry"
    CALLBACK = "callback"
    DONE = "done"
    EXHAUSTED = "exhausted"


class SelectionError(ValueError):
    """A rule cannot be applied (e.g. an unknown disposition code)."""


@dataclass(frozen=True)
class Contact:
    """A contact as the rules see it."""

    id: int
    numbers: tuple[str, ...]
    state: ContactState = ContactState.NEW
    number_index: int = 0
    attempts: int = 0
    result_counts: Mapping[CallResult, int] = field(default_factory=dict)
    dead_numbers: frozenset[int] = frozenset()
    next_eligible_at: datetime | None = None
    time_zone: str | None = None
    zones: tuple[str, ...] = ()  # every zone to respect (calling_hours.resolve_zones)


@dataclass(frozen=True)
class Callback:
    """A callback; ``agent_id`` None means any agent of the campaign."""

    id: int
    contact_id: int
    due_at: datetime
    agent_id: int | None = None


@dataclass(frozen=True)
class RetryRule:
    """Retry timing for one result."""

    interval: timedelta
    increment: timedelta = timedelta(0)
    max_attempts: int = 3

    def delay(self, nth: int) -> timedelta:
        """Delay after the ``nth`` attempt that ended in this result."""
        return self.interval + self.increment * max(nth - 1, 0)


@dataclass(frozen=True)
class DispositionRule:
    """A campaign disposition code: final, or retry after ``retry_delay``."""

    code: str
    final: bool
    retry_delay: timedelta | None = None


DEFAULT_CHAIN_ON: Final = frozenset(
    {
        CallResult.BUSY,
        CallResult.NO_ANSWER,
        CallResult.HUNG_UP_RINGING,
        CallResult.REJECTED,
        CallResult.INVALID_NUMBER,
        CallResult.CONGESTION,
        CallResult.MACHINE,
        CallResult.FAX,
        CallResult.FAILED,
    }
)


# Results that say nothing about the contact: retried after the campaign's default delay
# even without a retry rule (an attempt the dialer lost track of in a crash).
RETRY_WITHOUT_RULE: Final = frozenset({CallResult.INTERRUPTED})


@dataclass(frozen=True)
class CampaignRules:
    """The selection and retry rules of one campaign."""

    max_attempts: int = 5
    retry: Mapping[CallResult, RetryRule] = field(default_factory=dict)
    dispositions: Mapping[str, DispositionRule] = field(default_factory=dict)
    default_retry_delay: timedelta = timedelta(hours=1)
    chain_on: frozenset[CallResult] = DEFAULT_CHAIN_ON
    dead_on: frozenset[CallResult] = frozenset({CallResult.INVALID_NUMBER})
    calling_hours: CallingHours | None = None
    abandon_no_repeat: timedelta | None = None
    callbacks: CallbackPolicy = CallbackPolicy()


@dataclass(frozen=True)
class Selection:
    """A contact picked for dialing, with the number to dial."""

    contact: Contact
    number_index: int
    callback: Callback | None = None

    @property
    def number(self) -> str:
        return self.contact.numbers[self.number_index]


class DecisionKind(enum.Enum):
    DONE = "done"
    EXHAUSTED = "exhausted"
    RETRY = "retry"
    NEXT_NUMBER = "next_number"
    CALLBACK = "callback"


@dataclass(frozen=True)
class Decision:
    """The contact after an attempt, and why."""

    kind: DecisionKind
    contact: Contact
    reason: str


# -- selection --------------------------------------------------------------------------------


def candidates(
    contacts: Iterable[Contact],
    callbacks: Iterable[Callback],
    now: datetime,
    agent_id: int | None = None,
    rules: CampaignRules | None = None,
    blocked: frozenset[str] = frozenset(),
) -> Iterator[Selection]:
    """Yield every dialable contact at ``now`` in selection order.

    ``blocked`` numbers (Do-Not-Call) are never dialed: a contact is dialed on its first
    live number that is not blocked, from its current one on, and skipped when it has none.
    """
    require_aware(now)
    by_id = {c.id: c for c in contacts}
    hours = rules.calling_hours if rules else None

    def callable_now(contact: Contact) -> bool:
        if not _dialable_indices(contact, blocked):
            return False
        if hours is None:
            return True
        zones = effective_zones(contact.zones, contact.time_zone, hours.time_zone)
        return hours.allows_zones(now, zones)

    def pick(contact: Contact, cb: Callback | None = None) -> Selection:
        return Selection(contact, _dial_index(contact, blocked), cb)

    due = sorted((cb for cb in callbacks if cb.due_at <= now), key=lambda cb: (cb.due_at, cb.id))
    for cb in due:
        contact = by_id.get(cb.contact_id)
        if cb.agent_id is not None and cb.agent_id != agent_id:
            continue
        if contact is not None and contact.state is ContactState.CALLBACK:
            if callable_now(contact):
                yield pick(contact, cb)
    fresh = [c for c in by_id.values() if c.state is ContactState.NEW and _due(c, now)]
    fresh.sort(key=lambda c: c.id)
    yield from (pick(c) for c in fresh if callable_now(c))
    retries = [c for c in by_id.values() if c.state is ContactState.RETRY and _due(c, now)]
    retries.sort(key=lambda c: (c.next_eligible_at or now, c.id))
    yield from (pick(c) for c in retries if callable_now(c))


def select_next(
    contacts: Iterable[Contact],
    callbacks: Iterable[Callback],
    now: datetime,
    agent_id: int | None = None,
    rules: CampaignRules | None = None,
    blocked: frozenset[str] = frozenset(),
) -> Selection | None:
    """The first of ``candidates``, or None when nothing is dialable now."""
    return next(candidates(contacts, callbacks, now, agent_id, rules, blocked), None)


# -- after an attempt -------------------------------------------------------------------------


def next_state(
    contact: Contact,
    result: CallResult,
    now: datetime,
    rules: CampaignRules,
    disposition: str | None = None,
    callback_at: datetime | None = None,
) -> Decision:
    """Apply one finished attempt to ``contact`` (see the module docstring)."""
    require_aware(now)
    counts = dict(contact.result_counts)
    counts[result] = counts.get(result, 0) + 1
    dead = contact.dead_numbers
    if result in rules.dead_on:
        dead = dead | {contact.number_index}
    after = replace(contact, attempts=contact.attempts + 1, result_counts=counts, dead_numbers=dead)
    if disposition is not None or callback_at is not None:
        return _no_repeat(
            after_disposition(after, disposition, now, rules, callback_at), result, now, rules
        )
    return _no_repeat(_after_result(after, result, now, rules), result, now, rules)


def _no_repeat(
    decision: Decision, result: CallResult, now: datetime, rules: CampaignRules
) -> Decision:
    """After an abandoned call, no redial before ``rules.abandon_no_repeat`` has passed."""
    period = rules.abandon_no_repeat
    if period is None or result is not CallResult.ABANDONED:
        return decision
    if decision.kind not in (DecisionKind.RETRY, DecisionKind.NEXT_NUMBER):
        return decision
    earliest = now + period
    at = decision.contact.next_eligible_at
    if at is not None and at >= earliest:
        return decision
    contact = replace(decision.contact, next_eligible_at=earliest)
    return Decision(
        decision.kind,
        contact,
        f"{decision.reason}; no repeat until {earliest:%Y-%m-%d %H:%M}Z after an abandoned call",
    )


def after_disposition(
    contact: Contact,
    code: str | None,
    now: datetime,
    rules: CampaignRules,
    callback_at: datetime | None = None,
) -> Decision:
    """Apply an agent's disposition (and callback) to ``contact`` without counting an attempt.

    ``next_state`` uses it after counting; the data layer calls it directly when the attempt
    was already counted (an agent dispositioning a call the system had classified).
    """
    require_aware(now)
    if code is not None and code not in rules.dispositions:
        raise SelectionError(f"unknown disposition code {code!r}")
    if callback_at is not None:
        require_aware(callback_at, "callback_at")
        idx = contact.number_index
        return _decide(DecisionKind.CALLBACK, contact, callback_at, idx, "callback scheduled")
    if code is None:
        raise SelectionError("a disposition code or a callback time is needed")
    rule = rules.dispositions[code]
    if not rule.final and not _live_indices(contact):
        return _decide(DecisionKind.EXHAUSTED, contact, None, None, "no valid number left")
    if rule.final:
        return _decide(DecisionKind.DONE, contact, None, None, f"disposition {code} is final")
    if contact.attempts >= rules.max_attempts:
        return _exhausted(contact, rules)
    delay = rule.retry_delay if rule.retry_delay is not None else rules.default_retry_delay
    return _decide(
        DecisionKind.RETRY, contact, now + delay, None, f"disposition {code} asks for a retry"
    )


def _after_result(
    contact: Contact, result: CallResult, now: datetime, rules: CampaignRules
) -> Decision:
    live = _live_indices(contact)
    if not live:
        return _decide(DecisionKind.EXHAUSTED, contact, None, None, "no valid number left")
    if contact.attempts >= rules.max_attempts:
        return _exhausted(contact, rules)
    chained = result in rules.chain_on
    later = [i for i in live if i > contact.number_index]
    if chained and later:
        why = f"{result.value} on number {contact.number_index + 1}, next number"
        return _decide(DecisionKind.NEXT_NUMBER, contact, now, later[0], why)
    rule = rules.retry.get(result)
    if rule is None and result in RETRY_WITHOUT_RULE:
        rule = RetryRule(rules.default_retry_delay, max_attempts=rules.max_attempts)
    if rule is None and result is CallResult.ABANDONED and rules.abandon_no_repeat is not None:
        rule = RetryRule(rules.abandon_no_repeat, max_attempts=rules.max_attempts)
    if rule is None:
        return _decide(DecisionKind.DONE, contact, None, None, f"{result.value} is final")
    count = contact.result_counts.get(result, 0)
    if count >= rule.max_attempts:
        why = f"{result.value} {count} times, the maximum for that result"
        return _decide(DecisionKind.EXHAUSTED, contact, None, None, why)
    index = live[0] if chained or contact.number_index not in live else contact.number_index
    why = f"{result.value}, retry {count} of {rule.max_attempts}"
    return _decide(DecisionKind.RETRY, contact, now + rule.delay(count), index, why)


def _exhausted(contact: Contact, rules: CampaignRules) -> Decision:
    why = f"{contact.attempts} attempts, the campaign maximum of {rules.max_attempts}"
    return _decide(DecisionKind.EXHAUSTED, contact, None, None, why)


_STATE_OF: Final = {
    DecisionKind.DONE: ContactState.DONE,
    DecisionKind.EXHAUSTED: ContactState.EXHAUSTED,
    DecisionKind.RETRY: ContactState.RETRY,
    DecisionKind.NEXT_NUMBER: ContactState.RETRY,
    DecisionKind.CALLBACK: ContactState.CALLBACK,
}


def _decide(
    kind: DecisionKind,
    contact: Contact,
    at: datetime | None,
    index: int | None,
    reason: str,
) -> Decision:
    updated = replace(
        contact,
        state=_STATE_OF[kind],
        next_eligible_at=at,
        number_index=contact.number_index if index is None else index,
    )
    return Decision(kind, updated, reason)


def _due(contact: Contact, now: datetime) -> bool:
    return contact.next_eligible_at is None or contact.next_eligible_at <= now


def _live_indices(contact: Contact) -> list[int]:
    return [i for i in range(len(contact.numbers)) if i not in contact.dead_numbers]


def _dialable_indices(contact: Contact, blocked: frozenset[str]) -> list[int]:
    return [i for i in _live_indices(contact) if contact.numbers[i] not in blocked]


def _dial_index(contact: Contact, blocked: frozenset[str] = frozenset()) -> int:
    """The current number if dialable, else the next dialable one (wrapping to the first)."""
    usable = _dialable_indices(contact, blocked)
    later = [i for i in usable if i >= contact.number_index]
    return later[0] if later else usable[0]
