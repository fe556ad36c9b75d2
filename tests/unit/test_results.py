"""Call-result classification against the figures measured on our Asterisk 22 and carrier."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.core.results import (
    AmdStatus,
    CallFacts,
    CallResult,
    DialStatus,
    HangupSide,
    classify,
)

R = CallResult
RING_TIMEOUT = timedelta(seconds=20)


@pytest.mark.parametrize(
    ("cause", "sip", "expected"),
    [
        (17, 486, R.BUSY),
        (21, 603, R.REJECTED),
        (1, 404, R.INVALID_NUMBER),
        (34, 503, R.CONGESTION),
        # either figure alone is enough
        (17, None, R.BUSY),
        (None, 486, R.BUSY),
        (21, None, R.REJECTED),
        (None, 603, R.REJECTED),
        (1, None, R.INVALID_NUMBER),
        (None, 404, R.INVALID_NUMBER),
        (34, None, R.CONGESTION),
        (None, 503, R.CONGESTION),
    ],
)
def test_measured_unanswered_results(cause: int | None, sip: int | None, expected: R) -> None:
    assert classify(CallFacts(sip_code=sip, hangup_cause=cause)) is expected


def test_customer_giving_up_while_ringing_is_told_from_our_ring_timeout() -> None:
    early = CallFacts(
        sip_code=480, hangup_cause=19, elapsed=timedelta(seconds=6), ring_timeout=RING_TIMEOUT
    )
    assert classify(early) is R.HUNG_UP_RINGING
    timed_out = CallFacts(
        sip_code=480, hangup_cause=19, elapsed=timedelta(seconds=20.1), ring_timeout=RING_TIMEOUT
    )
    assert classify(timed_out) is R.NO_ANSWER
    # the originate timeout may end the call with cause 19 and no SIP code
    no_tech_cause = CallFacts(
        hangup_cause=19, elapsed=timedelta(seconds=19.8), ring_timeout=RING_TIMEOUT
    )
    assert classify(no_tech_cause) is R.NO_ANSWER


def test_ringing_ended_without_timing_uses_who_hung_up() -> None:
    assert classify(CallFacts(hangup_cause=19, hung_up_by=HangupSide.CUSTOMER)) is (
        R.HUNG_UP_RINGING
    )
    assert classify(CallFacts(hangup_cause=19, hung_up_by=HangupSide.DIALER)) is R.NO_ANSWER
    assert classify(CallFacts(hangup_cause=19)) is R.NO_ANSWER
    assert classify(CallFacts(dial_status=DialStatus.NOANSWER)) is R.NO_ANSWER
    assert classify(CallFacts(sip_code=487, hangup_cause=16)) is R.NO_ANSWER


def test_answered_calls() -> None:
    answered = CallFacts(hangup_cause=16, answered=True, dial_status=DialStatus.ANSWER)
    assert classify(CallFacts(hangup_cause=16, dial_status=DialStatus.ANSWER)) is R.ABANDONED
    bridged = CallFacts(hangup_cause=16, answered=True, agent_bridged=True)
    assert classify(bridged) is R.ANSWERED_HUMAN
    human = CallFacts(hangup_cause=16, answered=True, amd=AmdStatus.NOTSURE, agent_bridged=True)
    assert classify(human) is R.ANSWERED_HUMAN
    machine = CallFacts(hangup_cause=16, answered=True, amd=AmdStatus.MACHINE)
    assert classify(machine) is R.MACHINE
    assert classify(CallFacts(answered=True, fax_detected=True)) is R.FAX
    assert classify(answered) is R.ABANDONED  # answered, nobody connected it


def test_abandoned_versus_dropped_by_the_customer() -> None:
    # the safe-harbor message was played: abandoned, whoever hung up afterwards
    played = CallFacts(answered=True, safe_harbor_played=True, hung_up_by=HangupSide.CUSTOMER)
    assert classify(played) is R.ABANDONED
    assert R.ABANDONED.counts_as_abandoned and R.ABANDONED.reached_customer
    # the customer hung up before an agent or the message could be connected
    gone = CallFacts(answered=True, hung_up_by=HangupSide.CUSTOMER)
    assert classify(gone) is R.DROPPED_BY_CUSTOMER
    assert classify(CallFacts(answered=True, amd=AmdStatus.HANGUP)) is R.DROPPED_BY_CUSTOMER
    assert not R.DROPPED_BY_CUSTOMER.counts_as_abandoned


def test_sip_code_wins_over_a_vaguer_cause_and_unknown_codes_fall_through() -> None:
    assert classify(CallFacts(sip_code=486, hangup_cause=16)) is R.BUSY
    assert classify(CallFacts(sip_code=499, hangup_cause=34)) is R.CONGESTION
    assert classify(CallFacts(sip_code=499, hangup_cause=16)) is R.FAILED
    assert classify(CallFacts(hangup_cause=16, dial_status=DialStatus.CHANUNAVAIL)) is R.FAILED
    assert classify(CallFacts(dial_status=DialStatus.BUSY)) is R.BUSY
    assert classify(CallFacts()) is R.FAILED


def test_parsing_asterisk_strings() -> None:
    assert DialStatus.parse(" noanswer ") is DialStatus.NOANSWER
    assert DialStatus.parse("") is None and DialStatus.parse("WHATEVER") is None
    assert AmdStatus.parse("MACHINE") is AmdStatus.MACHINE
    assert AmdStatus.parse(None) is None


def test_result_groups() -> None:
    assert {r for r in CallResult if r.answered} == {
        R.ANSWERED_HUMAN,
        R.ABANDONED,
        R.DROPPED_BY_CUSTOMER,
        R.MACHINE,
        R.FAX,
    }
    assert not R.MACHINE.reached_customer
    assert R("interrupted") is R.INTERRUPTED
