"""Record selection and retry rules (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from dialer.core.results import CallResult
from dialer.core.selection import (
    Callback,
    CallingHours,
    CampaignRules,
    Contact,
    ContactState,
    DecisionKind,
    DispositionRule,
    RetryRule,
    Selection,
    SelectionError,
    after_disposition,
    candidates,
    next_state,
    select_next,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York, 07:00 in Los Angeles
MIN = timedelta(minutes=1)
R = CallResult

RULES = CampaignRules(
    max_attempts=4,
    retry={
        R.BUSY: RetryRule(interval=5 * MIN, increment=5 * MIN, max_attempts=3),
        R.NO_ANSWER: RetryRule(interval=60 * MIN, max_attempts=2),
    },
    dispositions={
        "SALE": DispositionRule("SALE", final=True),
        "CALLBACK": DispositionRule("CALLBACK", final=False, retry_delay=30 * MIN),
        "NO_ANSWER": DispositionRule("NO_ANSWER", final=False),
    },
    default_retry_delay=15 * MIN,
)


def contact(cid: int, *numbers: str, **kw: Any) -> Contact:
    return Contact(cid, numbers or (f"+1212200{cid:04d}",), **kw)


def ids(selections: Iterable[Selection]) -> list[int]:
    return [s.contact.id for s in selections]


def test_order_is_due_callbacks_then_new_then_due_retries() -> None:
    contacts = [
        contact(1, state=ContactState.RETRY, next_eligible_at=T0 - MIN),
        contact(2),
        contact(3, state=ContactState.CALLBACK),
        contact(4, state=ContactState.RETRY, next_eligible_at=T0 - 5 * MIN),
        contact(5, state=ContactState.RETRY, next_eligible_at=T0 + MIN),  # not yet
        contact(6),
        contact(7, state=ContactState.CALLBACK),
        contact(8, state=ContactState.DONE),
        contact(9, state=ContactState.RESERVED),
    ]
    callbacks = [Callback(1, 7, T0 - MIN), Callback(2, 3, T0 - 2 * MIN)]
    assert ids(candidates(contacts, callbacks, T0)) == [3, 7, 2, 6, 4, 1]
    first = select_next(contacts, callbacks, T0)
    assert first is not None and first.callback == Callback(2, 3, T0 - 2 * MIN)


def test_personal_callbacks_only_for_their_agent() -> None:
    contacts = [contact(1, state=ContactState.CALLBACK), contact(2, state=ContactState.CALLBACK)]
    callbacks = [Callback(1, 1, T0 - MIN, agent_id=7), Callback(2, 2, T0 - MIN, agent_id=None)]
    assert ids(candidates(contacts, callbacks, T0, agent_id=7)) == [1, 2]
    assert ids(candidates(contacts, callbacks, T0, agent_id=8)) == [2]
    assert ids(candidates(contacts, callbacks, T0, agent_id=None)) == [2]


def test_callbacks_not_due_are_not_selected() -> None:
    contacts = [contact(1, state=ContactState.CALLBACK)]
    assert select_next(contacts, [Callback(1, 1, T0 + MIN)], T0) is None
    assert select_next(contacts, [Callback(1, 1, T0 + MIN)], T0 + MIN) is not None


def test_calling_hours_use_the_contact_time_zone() -> None:
    hours = CallingHours(time(9), time(20), frozenset(range(5)), "America/New_York")
    rules = CampaignRules(calling_hours=hours)
    contacts = [
        contact(1, time_zone="America/Los_Angeles"),  # 07:00 there
        contact(2, time_zone="America/New_York"),  # 10:00
        contact(3),  # the campaign's zone: New York
    ]
    assert ids(candidates(contacts, [], T0, rules=rules)) == [2, 3]
    assert ids(candidates(contacts, [], T0 + 2 * 60 * MIN, rules=rules)) == [1, 2, 3]
    saturday = T0 + timedelta(days=5)
    assert select_next(contacts, [], saturday, rules=rules) is None


def test_dead_numbers_are_skipped_and_contacts_without_live_numbers_never_selected() -> None:
    two = contact(1, "+12122000001", "+12122000002", dead_numbers=frozenset({0}))
    none = contact(2, "+12122000003", dead_numbers=frozenset({0}))
    picked = select_next([two, none], [], T0)
    assert picked is not None and picked.number == "+12122000002"
    assert select_next([none], [], T0) is None


def test_retry_intervals_grow_and_stop_at_the_per_result_maximum() -> None:
    c = contact(1)
    d1 = next_state(c, R.BUSY, T0, RULES)
    assert (d1.kind, d1.contact.next_eligible_at, d1.contact.attempts) == (
        DecisionKind.RETRY,
        T0 + 5 * MIN,
        1,
    )
    d2 = next_state(d1.contact, R.BUSY, T0, RULES)
    assert d2.contact.next_eligible_at == T0 + 10 * MIN
    d3 = next_state(d2.contact, R.BUSY, T0, RULES)
    assert d3.kind is DecisionKind.EXHAUSTED and d3.contact.state is ContactState.EXHAUSTED
    assert d3.contact.result_counts == {R.BUSY: 3}


def test_campaign_maximum_attempts_ends_any_retry() -> None:
    c = contact(1, attempts=3, result_counts={R.NO_ANSWER: 0})
    d = next_state(c, R.BUSY, T0, RULES)
    assert d.kind is DecisionKind.EXHAUSTED and "4 attempts" in d.reason


def test_results_without_a_rule_are_final_except_interrupted() -> None:
    assert next_state(contact(1), R.REJECTED, T0, RULES).kind is DecisionKind.DONE
    assert next_state(contact(1), R.ANSWERED_HUMAN, T0, RULES).kind is DecisionKind.DONE
    d = next_state(contact(1), R.INTERRUPTED, T0, RULES)
    assert (d.kind, d.contact.next_eligible_at) == (DecisionKind.RETRY, T0 + 15 * MIN)


def test_invalid_number_kills_it_and_moves_to_the_next_number_at_once() -> None:
    c = contact(1, "+12122000001", "+12122000002")
    d = next_state(c, R.INVALID_NUMBER, T0, RULES)
    assert d.kind is DecisionKind.NEXT_NUMBER
    assert (d.contact.number_index, d.contact.dead_numbers) == (1, frozenset({0}))
    assert d.contact.next_eligible_at == T0
    last = next_state(d.contact, R.INVALID_NUMBER, T0, RULES)
    assert last.kind is DecisionKind.EXHAUSTED and "no valid number" in last.reason


def test_dispositions_decide_over_the_result() -> None:
    c = contact(1)
    assert next_state(c, R.ANSWERED_HUMAN, T0, RULES, "SALE").kind is DecisionKind.DONE
    retry = next_state(c, R.ANSWERED_HUMAN, T0, RULES, "CALLBACK")
    assert (retry.kind, retry.contact.next_eligible_at) == (DecisionKind.RETRY, T0 + 30 * MIN)
    default = next_state(c, R.ANSWERED_HUMAN, T0, RULES, "NO_ANSWER")
    assert default.contact.next_eligible_at == T0 + 15 * MIN
    spent = next_state(contact(1, attempts=3), R.ANSWERED_HUMAN, T0, RULES, "CALLBACK")
    assert spent.kind is DecisionKind.EXHAUSTED
    with pytest.raises(SelectionError, match="BOGUS"):
        next_state(c, R.ANSWERED_HUMAN, T0, RULES, "BOGUS")


def test_a_callback_wins_and_keeps_the_number() -> None:
    c = contact(1, "+12122000001", "+12122000002", number_index=1)
    at = T0 + timedelta(days=1)
    d = next_state(c, R.ANSWERED_HUMAN, T0, RULES, "CALLBACK", callback_at=at)
    assert (d.kind, d.contact.state, d.contact.next_eligible_at) == (
        DecisionKind.CALLBACK,
        ContactState.CALLBACK,
        at,
    )
    assert d.contact.number_index == 1 and d.contact.attempts == 1


def test_after_disposition_does_not_count_an_attempt() -> None:
    c = contact(1, attempts=2, state=ContactState.RETRY)
    d = after_disposition(c, "SALE", T0, RULES)
    assert (d.kind, d.contact.attempts) == (DecisionKind.DONE, 2)
    with pytest.raises(SelectionError):
        after_disposition(c, None, T0, RULES)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        select_next([contact(1)], [], datetime(2026, 3, 2, 10))


# -- Do-Not-Call, no-repeat, callback fallback ------------------------------------------------


def test_listed_numbers_are_skipped_and_the_chain_goes_on() -> None:
    two = contact(1, "+12122000001", "+12122000002")
    one = contact(2, "+12122000003")
    blocked = frozenset({"+12122000001", "+12122000003"})
    picked = list(candidates([two, one], [], T0, rules=RULES, blocked=blocked))
    assert [(s.contact.id, s.number) for s in picked] == [(1, "+12122000002")]
    # Taking a number off the list makes it dialable again (it was never marked dead).
    assert select_next([two], [], T0, rules=RULES) == Selection(two, 0)


def test_no_repeat_after_an_abandoned_call() -> None:
    rules = CampaignRules(max_attempts=4, abandon_no_repeat=72 * 60 * MIN)
    d = next_state(contact(1), R.ABANDONED, T0, rules)
    assert d.kind is DecisionKind.RETRY
    assert d.contact.next_eligible_at == T0 + 72 * 60 * MIN
    assert "no repeat" not in d.reason  # the rule itself waits that long
    with_rule = CampaignRules(
        max_attempts=4,
        abandon_no_repeat=72 * 60 * MIN,
        retry={R.ABANDONED: RetryRule(interval=5 * MIN)},
        dispositions=RULES.dispositions,
    )
    d = next_state(contact(1), R.ABANDONED, T0, with_rule)
    assert d.contact.next_eligible_at == T0 + 72 * 60 * MIN
    assert "no repeat until" in d.reason
    assert next_state(contact(1), R.ABANDONED, T0, CampaignRules()).kind is DecisionKind.DONE


def test_personal_callback_routing() -> None:
    from dialer.core.callbacks import (
        CallbackFallback,
        CallbackPolicy,
        Route,
        handovers,
        route_callback,
    )

    due = T0
    policy = CallbackPolicy(CallbackFallback.CAMPAIGN, 10 * MIN)

    def route(now: datetime, agent: int | None, logged_in: set[int]) -> Route:
        return route_callback(due, agent, now, logged_in, policy).route

    assert route(T0 - MIN, 7, set()) is Route.NOT_DUE
    assert route(T0, None, set()) is Route.ANY_AGENT
    assert route(T0, 7, {7}) is Route.ITS_AGENT
    waiting = route_callback(due, 7, T0 + MIN, set(), policy)
    assert (waiting.route, waiting.until) == (Route.WAITING_FOR_AGENT, T0 + 10 * MIN)
    assert route(T0 + 10 * MIN, 7, {8}) is Route.HAND_OVER
    wait = CallbackPolicy(CallbackFallback.WAIT)
    assert route_callback(due, 7, T0 + 600 * MIN, set(), wait).route is Route.WAITING_FOR_AGENT
    cbs = [(1, T0, 7), (2, T0, None), (3, T0 + MIN, 7), (4, T0, 8)]
    assert handovers(cbs, T0 + 10 * MIN, {8}, policy) == [1]
