"""Call-result classification against the figures measured on our Asterisk 22 and carrier."""

from __future__ import annotations

from dataclasses import replace
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


# Measured on the real PBX and carrier (tests/integration/test_carrier_signals.py): ChannelDestroyed
# cause and tech_cause, the last Dial status, who hung up, seconds from the originate request.
MEASURED = [
    # name, cause, SIP, Dial status, hung up by, elapsed s, ring timeout s, result
    ("busy", 17, 486, "BUSY", HangupSide.CUSTOMER, 1.02, 10, R.BUSY),
    ("ring timeout", 19, 480, "RINGING", None, 3.02, 3, R.NO_ANSWER),
    ("rejects", 21, 603, "NOANSWER", HangupSide.CUSTOMER, 1.01, 10, R.REJECTED),
    ("invalid number", 1, 404, "NOANSWER", HangupSide.CUSTOMER, 0.02, 10, R.INVALID_NUMBER),
    ("incomplete number", 28, 484, "NOANSWER", HangupSide.CUSTOMER, 0.01, 10, R.INVALID_NUMBER),
    ("congestion", 34, 503, "CONGESTION", HangupSide.CUSTOMER, 0.01, 10, R.CONGESTION),
    ("gives up ringing", 19, 480, "NOANSWER", HangupSide.CUSTOMER, 2.01, 10, R.HUNG_UP_RINGING),
    ("dialer hangs up ringing", 16, None, "NOANSWER", HangupSide.DIALER, 1.51, 10, R.NO_ANSWER),
]


@pytest.mark.parametrize(("name", "cause", "sip", "dial", "side", "elapsed", "timeout",
                          "expected"), MEASURED, ids=[m[0] for m in MEASURED])
def test_measured_carrier_signals(name: str, cause: int, sip: int | None, dial: str,
                                  side: HangupSide | None, elapsed: float, timeout: int,
                                  expected: R) -> None:
    facts = CallFacts(sip_code=sip, hangup_cause=cause, dial_status=DialStatus.parse(dial),
                      hung_up_by=side, elapsed=timedelta(seconds=elapsed),
                      ring_timeout=timedelta(seconds=timeout))
    assert classify(facts) is expected
    # the cause alone (a trunk that sends no SIP code through) says the same, but for the
    # ringing ones, which need the time or the side
    if sip is not None and cause != 19:
        assert classify(CallFacts(hangup_cause=cause)) is expected


def test_invalid_number_figures_in_any_combination() -> None:
    for sip, cause in ((404, 1), (484, 28), (404, None), (484, None), (None, 1), (None, 28)):
        facts = CallFacts(sip_code=sip, hangup_cause=cause, dial_status=DialStatus.NOANSWER)
        assert classify(facts) is R.INVALID_NUMBER, (sip, cause)


def test_the_dialer_cancelling_a_ringing_call_needs_its_side() -> None:
    """16 / no SIP code / NOANSWER: only ``hung_up_by=DIALER`` makes it a no-answer; with the
    time alone it looks like a customer who gave up (the engine must pass the side)."""
    cancelled = CallFacts(hangup_cause=16, dial_status=DialStatus.NOANSWER,
                          elapsed=timedelta(seconds=1.5), ring_timeout=RING_TIMEOUT)
    assert classify(cancelled) is R.HUNG_UP_RINGING
    assert classify(replace(cancelled, hung_up_by=HangupSide.DIALER)) is R.NO_ANSWER


def test_a_fax_wins_over_amd_and_a_bridge() -> None:
    # a fax gets AMD MACHINE (LONGGREETING) about 1 s after its tone was heard
    during_amd = CallFacts(hangup_cause=16, answered=True, amd=AmdStatus.MACHINE,
                           fax_detected=True, hung_up_by=HangupSide.DIALER)
    assert classify(during_amd) is R.FAX
    # without AMD it was bridged to an agent before its tone (2 s after the answer) was heard
    bridged = CallFacts(hangup_cause=16, answered=True, agent_bridged=True, fax_detected=True,
                        dial_status=DialStatus.ANSWER, hung_up_by=HangupSide.DIALER)
    assert classify(bridged) is R.FAX
    assert R.FAX.answered and not R.FAX.reached_customer and not R.FAX.counts_as_abandoned
