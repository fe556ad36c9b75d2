"""Call-result classification: from what Asterisk and SIP reported to one ``CallResult``.

``classify(facts)`` is pure and table-driven. Decision order (first match wins):

1. fax detected                                   -> fax
2. answered (``answered`` or Dial status ANSWER; the call then ends with cause 16):
   AMD MACHINE                                    -> machine
   the safe-harbor message was played             -> abandoned
   an agent was bridged                           -> answered_human
   AMD HANGUP, or the customer hung up first      -> dropped_by_customer
   otherwise (no agent in time)                   -> abandoned
3. not answered, the first table that knows the value:
   ``SIP_RESULTS``   final SIP response (486 busy, 603 rejected, 404 invalid, 503 congestion, ...)
   ``CAUSE_RESULTS`` Q.850 hang-up cause (17 busy, 21 rejected, 1 invalid, 34 congestion, ...);
                     causes it does not list (16 normal clearing, 31, 127 interworking) say
                     nothing about why and are skipped
   ``DIAL_STATUS_RESULTS`` Dial status (BUSY, CONGESTION, CHANUNAVAIL, ...)
   nothing conclusive                             -> failed

"Ringing ended" (SIP 480, causes 18/19, Dial status NOANSWER) is ambiguous on our Asterisk 22:
both a customer who gives up while it rings and the dialer's own ring timeout (ARI originate
``timeout``) end as cause 19 / SIP 480, or cause 19 without a SIP code. ``ringing_ended`` tells
them apart by time: ``elapsed >= ring_timeout - RING_TIMEOUT_MARGIN`` (or the dialer hung up)
-> no_answer; earlier (or the customer hung up) -> hung_up_ringing; unknown -> no_answer.

Figures checked on the real PBX and carrier (ChannelDestroyed cause / tech_cause, last Dial
status; ``tests/integration/test_carrier_signals.py``): busy 17/486 BUSY, reject 21/603 NOANSWER,
invalid 1/404 NOANSWER, incomplete number 28/484 NOANSWER, congestion 34/503 CONGESTION, customer
gives up ringing 19/480 NOANSWER (after a ChannelHangupRequest without ``soft``), ring timeout
19/480 with no final Dial status and no ChannelHangupRequest, the dialer hanging up a ringing call
16/none NOANSWER (its ChannelHangupRequest is ``soft``), answered 16. So ``hung_up_by`` is
DIALER when the dialer hung up, CUSTOMER when a ChannelHangupRequest without ``soft`` came, and
None after a ring timeout; ``elapsed`` counts from the originate request (Asterisk's originate
``timeout`` runs from there, not from the first ring).
AMD NOTSURE counts as a human (the call goes to an agent). A fax (``fax_detected``: an ARI
``ChannelToneDetected`` on a channel armed by ``dialer/service/fax.py``) wins over everything,
AMD's MACHINE verdict (which a fax also gets, about 1 s after the tone is heard) and a bridge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, TypeVar

RING_TIMEOUT_MARGIN: Final = timedelta(milliseconds=500)
_E = TypeVar("_E", bound=enum.Enum)


class CallResult(enum.Enum):
    """The classified result of one call attempt."""

    ANSWERED_HUMAN = "answered_human"
    MACHINE = "machine"
    FAX = "fax"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    HUNG_UP_RINGING = "hung_up_ringing"
    REJECTED = "rejected"
    INVALID_NUMBER = "invalid_number"
    CONGESTION = "congestion"
    ABANDONED = "abandoned"
    DROPPED_BY_CUSTOMER = "dropped_by_customer"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the dialer stopped (crash) before the attempt's end was known

    @property
    def answered(self) -> bool:
        """Whether the far end answered (a person, a machine or a fax)."""
        return self in _ANSWERED

    @property
    def reached_customer(self) -> bool:
        """Whether a person answered (the customer's number is right and live)."""
        return self in _REACHED

    @property
    def counts_as_abandoned(self) -> bool:
        """Whether the attempt counts toward the campaign's abandon-rate cap."""
        return self is CallResult.ABANDONED


_REACHED: Final = frozenset(
    {CallResult.ANSWERED_HUMAN, CallResult.ABANDONED, CallResult.DROPPED_BY_CUSTOMER}
)
_ANSWERED: Final = _REACHED | {CallResult.MACHINE, CallResult.FAX}


class DialStatus(enum.Enum):
    """Asterisk's DIALSTATUS values (also in ARI ``Dial`` events' ``dialstatus``)."""

    ANSWER = "ANSWER"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    CANCEL = "CANCEL"
    CONGESTION = "CONGESTION"
    CHANUNAVAIL = "CHANUNAVAIL"
    DONTCALL = "DONTCALL"
    TORTURE = "TORTURE"
    INVALIDARGS = "INVALIDARGS"

    @classmethod
    def parse(cls, text: str | None) -> DialStatus | None:
        """Map Asterisk's string to the enum; None for empty or unknown values."""
        return _parse_enum(cls, text)


class AmdStatus(enum.Enum):
    """Asterisk AMD() results (AMDSTATUS)."""

    HUMAN = "HUMAN"
    MACHINE = "MACHINE"
    NOTSURE = "NOTSURE"
    HANGUP = "HANGUP"

    @classmethod
    def parse(cls, text: str | None) -> AmdStatus | None:
        """Map Asterisk's string to the enum; None for empty or unknown values."""
        return _parse_enum(cls, text)


def _parse_enum(cls: type[_E], text: str | None) -> _E | None:
    if not text:
        return None
    try:
        return cls(text.strip().upper())
    except ValueError:
        return None


class AttemptPhase(enum.Enum):
    """Timestamped steps of one call attempt (rows of the attempt's event log)."""

    CREATED = "created"
    ORIGINATED = "originated"
    RINGING = "ringing"
    ANSWERED = "answered"
    AMD_DONE = "amd_done"
    BRIDGED = "bridged"
    SAFE_HARBOR = "safe_harbor"
    HUNG_UP = "hung_up"
    ENDED = "ended"
    DISPOSITIONED = "dispositioned"
    INTERRUPTED = "interrupted"
    NOTE = "note"


class HangupSide(enum.Enum):
    """Who ended the call."""

    CUSTOMER = "customer"
    AGENT = "agent"
    DIALER = "dialer"


@dataclass(frozen=True)
class CallFacts:
    """Everything known about how an attempt ended; unknowns are None/False.

    ``elapsed`` runs from the origination to the hang-up; ``ring_timeout`` is the one the call
    was originated with. Both only matter for the ambiguous "ringing ended" causes.
    """

    sip_code: int | None = None
    hangup_cause: int | None = None
    dial_status: DialStatus | None = None
    answered: bool = False
    amd: AmdStatus | None = None
    fax_detected: bool = False
    agent_bridged: bool = False
    safe_harbor_played: bool = False
    hung_up_by: HangupSide | None = None
    elapsed: timedelta | None = None
    ring_timeout: timedelta | None = None


class _Ringing(enum.Enum):
    """Marker: the far end stopped ringing, for a reason ``ringing_ended`` decides."""

    ENDED = "ringing_ended"


_R = CallResult
_RINGING_ENDED: Final = _Ringing.ENDED
Verdict = CallResult | _Ringing

SIP_RESULTS: Final[dict[int, Verdict]] = {
    404: _R.INVALID_NUMBER,  # Not Found
    410: _R.INVALID_NUMBER,  # Gone
    484: _R.INVALID_NUMBER,  # Address Incomplete
    485: _R.INVALID_NUMBER,  # Ambiguous
    604: _R.INVALID_NUMBER,  # Does Not Exist Anywhere
    486: _R.BUSY,  # Busy Here
    600: _R.BUSY,  # Busy Everywhere
    480: _RINGING_ENDED,  # Temporarily Unavailable: gave up ringing, or our ring timeout
    408: _R.NO_ANSWER,  # Request Timeout
    487: _R.NO_ANSWER,  # Request Terminated (we cancelled at ring timeout)
    603: _R.REJECTED,  # Decline
    403: _R.FAILED,  # Forbidden: the trunk refused us, not the customer
    500: _R.CONGESTION,  # Server Internal Error
    502: _R.CONGESTION,  # Bad Gateway
    503: _R.CONGESTION,  # Service Unavailable
    504: _R.CONGESTION,  # Server Time-out
}

CAUSE_RESULTS: Final[dict[int, Verdict]] = {
    1: _R.INVALID_NUMBER,  # unallocated (unassigned) number
    3: _R.INVALID_NUMBER,  # no route to destination
    22: _R.INVALID_NUMBER,  # number changed
    28: _R.INVALID_NUMBER,  # invalid number format
    17: _R.BUSY,  # user busy
    18: _RINGING_ENDED,  # no user responding
    19: _RINGING_ENDED,  # no answer from user (user alerted)
    20: _R.NO_ANSWER,  # subscriber absent
    102: _R.NO_ANSWER,  # recovery on timer expiry
    21: _R.REJECTED,  # call rejected
    34: _R.CONGESTION,  # no circuit/channel available
    38: _R.CONGESTION,  # network out of order
    41: _R.CONGESTION,  # temporary failure
    42: _R.CONGESTION,  # switching equipment congestion
    44: _R.CONGESTION,  # requested circuit/channel not available
    47: _R.CONGESTION,  # resource unavailable, unspecified
    27: _R.FAILED,  # destination out of order
    58: _R.FAILED,  # bearer capability not presently available
}

DIAL_STATUS_RESULTS: Final[dict[DialStatus, Verdict]] = {
    DialStatus.BUSY: _R.BUSY,
    DialStatus.NOANSWER: _RINGING_ENDED,
    DialStatus.CANCEL: _R.NO_ANSWER,
    DialStatus.CONGESTION: _R.CONGESTION,
    DialStatus.CHANUNAVAIL: _R.FAILED,
    DialStatus.DONTCALL: _R.REJECTED,
    DialStatus.TORTURE: _R.REJECTED,
    DialStatus.INVALIDARGS: _R.FAILED,
}


def classify(facts: CallFacts) -> CallResult:
    """Classify one finished attempt (see the module docstring for the order)."""
    if facts.fax_detected:
        return _R.FAX
    if facts.answered or facts.dial_status is DialStatus.ANSWER:
        return _classify_answered(facts)
    verdict = _unanswered_verdict(facts)
    if verdict is _RINGING_ENDED:
        return ringing_ended(facts)
    assert isinstance(verdict, CallResult)
    return verdict


def ringing_ended(facts: CallFacts) -> CallResult:
    """no_answer (our ring timeout) or hung_up_ringing (the customer gave up first)."""
    if facts.hung_up_by is HangupSide.DIALER:
        return _R.NO_ANSWER
    if facts.elapsed is not None and facts.ring_timeout is not None:
        timed_out = facts.elapsed >= facts.ring_timeout - RING_TIMEOUT_MARGIN
        return _R.NO_ANSWER if timed_out else _R.HUNG_UP_RINGING
    if facts.hung_up_by is HangupSide.CUSTOMER:
        return _R.HUNG_UP_RINGING
    return _R.NO_ANSWER


def _classify_answered(facts: CallFacts) -> CallResult:
    if facts.amd is AmdStatus.MACHINE:
        return _R.MACHINE
    if facts.safe_harbor_played:
        return _R.ABANDONED
    if facts.agent_bridged:
        return _R.ANSWERED_HUMAN
    if facts.amd is AmdStatus.HANGUP or facts.hung_up_by is HangupSide.CUSTOMER:
        return _R.DROPPED_BY_CUSTOMER
    return _R.ABANDONED


def _unanswered_verdict(facts: CallFacts) -> Verdict:
    if facts.sip_code is not None and facts.sip_code in SIP_RESULTS:
        return SIP_RESULTS[facts.sip_code]
    if facts.hangup_cause is not None and facts.hangup_cause in CAUSE_RESULTS:
        return CAUSE_RESULTS[facts.hangup_cause]
    if facts.dial_status is not None:
        return DIAL_STATUS_RESULTS.get(facts.dial_status, _R.FAILED)
    return _R.FAILED
