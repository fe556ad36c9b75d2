"""Pacing: how many outbound calls to launch now (pure logic, no I/O, no clock).

Interface (the live dialer and the simulator use the same objects)::

    pacer = create_pacer("predictive", cap=0.03)            # see available_pacers()
    pacer.observe(CallLaunched(call_id), now)               # feed every fact, in order
    pacer.observe(CallAnswered(call_id, AnswerKind.LIVE, ring_seconds), now)
    ...
    decision = pacer.decide(Snapshot(agents, calls), now)   # e.g. once a second
    originate(decision.launch)                              # the caller places calls
    log.info(decision.as_log())                             # why: inputs and reason

``now`` is seconds on any monotonic clock, always passed in.  Facts are the frozen
dataclasses of :mod:`dialer.pacing.events` (``CallLaunched``, ``CallAnswered``,
``CallFailed``, ``CallConnected``, ``CallAbandoned``, ``TalkEnded``, ``WrapUpEnded``,
``AgentLoggedIn``, ``AgentLoggedOut``).  A :class:`Snapshot` lists the logged-in
agents (state, since) and the calls in flight (state, since, launched_at).  A
:class:`Decision` carries ``launch`` plus its mode, reason and inputs.

Algorithms (``available_pacers()``): ``progressive`` (zero abandons by construction),
``ratio`` (fixed calls per agent), ``predictive`` (ours: marginal abandon risk from
the ring, talk and wrap-up distributions and the elapsed time of every call, under an
abandon budget; see :mod:`dialer.pacing.predictive`), and the baselines
``vicidial_adapt`` and ``omnidialer``.
"""

from dialer.pacing.base import Pacer, available_pacers, create_pacer, register_pacer
from dialer.pacing.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    CallLaunched,
    CallState,
    CallView,
    Decision,
    FailReason,
    PacingEvent,
    PacingMode,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
)
from dialer.pacing.omnidialer import OmniDialerPacer
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.simple import FixedRatioPacer, ProgressivePacer
from dialer.pacing.vicidial import VicidialAdaptPacer

register_pacer("progressive", ProgressivePacer)
register_pacer("ratio", FixedRatioPacer)
register_pacer("predictive", PredictivePacer)
register_pacer("vicidial_adapt", VicidialAdaptPacer)
register_pacer("omnidialer", OmniDialerPacer)

__all__ = [
    "AgentLoggedIn",
    "AgentLoggedOut",
    "AgentState",
    "AgentView",
    "AnswerKind",
    "CallAbandoned",
    "CallAnswered",
    "CallConnected",
    "CallFailed",
    "CallLaunched",
    "CallState",
    "CallView",
    "Decision",
    "FailReason",
    "FixedRatioPacer",
    "OmniDialerPacer",
    "Pacer",
    "PacingEvent",
    "PacingMode",
    "PredictivePacer",
    "ProgressivePacer",
    "Snapshot",
    "TalkEnded",
    "VicidialAdaptPacer",
    "WrapUpEnded",
    "available_pacers",
    "create_pacer",
    "register_pacer",
]
