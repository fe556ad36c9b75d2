"""What the carrier signals for each unanswered behaviour, as ARI reports it, and its result.

Each case originates over ARI to a number of the carrier's plan (config/carrier/numbering.md) into
a Stasis application of the test's own, collects the events the dialer sees (Dial, StasisStart,
ChannelHangupRequest, ChannelDestroyed), checks the figures Asterisk reports, builds ``CallFacts``
from them the way the engine must, and checks what ``classify`` makes of them.

How the facts come from the events (the engine's part):
  sip_code      ChannelDestroyed ``tech_cause`` (the SIP final response; absent if none came)
  hangup_cause  ChannelDestroyed ``cause``
  dial_status   the last non-empty ``Dial.dialstatus`` (the ring timeout sends no final one)
  answered      a StasisStart (the channel enters Stasis only once answered)
  hung_up_by    DIALER if the dialer hung up (its own DELETE); CUSTOMER if a ChannelHangupRequest
                without ``soft`` came first (the far end ended it); None otherwise: the ring
                timeout (originate ``timeout``) ends the call with no ChannelHangupRequest at all
  elapsed       from the originate request to ChannelDestroyed
  ring_timeout  the originate ``timeout``
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from dialer.config.settings import Settings
from dialer.core.results import CallFacts, CallResult, DialStatus, HangupSide, classify
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from tests.integration.ari_probe import AriProbe

pytestmark = pytest.mark.pbx
R = CallResult


@dataclass(frozen=True)
class Case:
    name: str
    number: str
    ring_timeout: int            # the originate timeout, seconds
    cause: int                   # ChannelDestroyed cause
    tech_cause: int | None       # ChannelDestroyed tech_cause (SIP)
    dial_status: str | None      # the last Dial status
    request: tuple[int, int | None, bool] | None   # ChannelHangupRequest (cause, tech, soft)
    result: CallResult
    dialer_hangs_up_at: float | None = None


CASES = [
    Case("busy", number_for(Behaviour.BUSY, 1, 0), 10, 17, 486, "BUSY", (17, 486, False),
         R.BUSY),
    Case("ring timeout", number_for(Behaviour.NO_ANSWER), 3, 19, 480, "RINGING", None,
         R.NO_ANSWER),
    Case("rejects", number_for(Behaviour.REJECT, 1, 0), 10, 21, 603, "NOANSWER",
         (21, 603, False), R.REJECTED),
    Case("invalid number", number_for(Behaviour.INVALID), 10, 1, 404, "NOANSWER",
         (1, 404, False), R.INVALID_NUMBER),
    Case("number outside the plan", "+442079460000", 10, 1, 404, "NOANSWER",
         (1, 404, False), R.INVALID_NUMBER),
    Case("incomplete number", "+1212555", 10, 28, 484, "NOANSWER", (28, 484, False),
         R.INVALID_NUMBER),
    Case("congestion", number_for(Behaviour.CONGESTION), 10, 34, 503, "CONGESTION",
         (34, 503, False), R.CONGESTION),
    Case("hangs up while ringing", number_for(Behaviour.HANGUP_RINGING, 2, 0), 10, 19, 480,
         "NOANSWER", (19, 480, False), R.HUNG_UP_RINGING),
    Case("the dialer hangs up while ringing", number_for(Behaviour.NO_ANSWER, tag=1), 10, 16,
         None, "NOANSWER", (32, None, True), R.NO_ANSWER, dialer_hangs_up_at=1.5),
    Case("answers, hangs up before an agent", number_for(Behaviour.HANGUP_ANSWERED, 0, 1), 10,
         16, None, "ANSWER", (16, None, False), R.DROPPED_BY_CUSTOMER),
]


@dataclass
class Observed:
    events: list[dict[str, Any]]
    elapsed: float
    dialer_hung_up: bool

    def last(self, kind: str) -> dict[str, Any] | None:
        found = [ev for ev in self.events if ev["type"] == kind]
        return found[-1] if found else None

    def facts(self, ring_timeout: int) -> CallFacts:
        destroyed = self.last("ChannelDestroyed")
        assert destroyed is not None
        statuses = [ev["dialstatus"] for ev in self.events
                    if ev["type"] == "Dial" and ev.get("dialstatus")]
        request = self.last("ChannelHangupRequest")
        side = (HangupSide.DIALER if self.dialer_hung_up
                else HangupSide.CUSTOMER if request is not None and not request.get("soft")
                else None)
        return CallFacts(
            sip_code=destroyed.get("tech_cause"), hangup_cause=destroyed.get("cause"),
            dial_status=DialStatus.parse(statuses[-1] if statuses else None),
            answered=self.last("StasisStart") is not None, hung_up_by=side,
            elapsed=timedelta(seconds=self.elapsed), ring_timeout=timedelta(seconds=ring_timeout))


async def _place(probe: AriProbe, case: Case) -> Observed:
    channel = f"sig-{uuid.uuid4().hex[:10]}"
    since = len(probe.events)
    started = time.monotonic()
    await probe.ari.post("channels", endpoint=f"PJSIP/{case.number}@carrier", app=probe.app,
                         channelId=channel, timeout=case.ring_timeout)
    probe.channels.append(channel)
    if case.dialer_hangs_up_at is not None:
        await asyncio.sleep(case.dialer_hangs_up_at)
        await probe.hangup(channel)
    await probe.wait_event("ChannelDestroyed", channel, timeout=case.ring_timeout + 10,
                           since=since)
    elapsed = time.monotonic() - started
    mine = [ev for ev in probe.events[since:]
            if channel in (ev.get("channel", {}).get("id"), ev.get("peer", {}).get("id"))]
    return Observed(mine, elapsed, case.dialer_hangs_up_at is not None)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_carrier_signal_and_its_result(pbx: Backend, settings: Settings,
                                             case: Case) -> None:
    async with AriProbe(settings, app=f"signals-{uuid.uuid4().hex[:6]}") as probe:
        seen = await _place(probe, case)
    destroyed = seen.last("ChannelDestroyed")
    request = seen.last("ChannelHangupRequest")
    assert destroyed is not None
    facts = seen.facts(case.ring_timeout)
    print(f"\n{case.name}: {case.number}: Dial {facts.dial_status}, ChannelHangupRequest "
          f"{request and (request.get('cause'), request.get('tech_cause'), request.get('soft'))},"
          f" ChannelDestroyed cause {destroyed.get('cause')} tech_cause "
          f"{destroyed.get('tech_cause')}, {seen.elapsed:.2f} s -> {classify(facts).value}")
    assert (destroyed.get("cause"), destroyed.get("tech_cause")) == (case.cause, case.tech_cause)
    statuses = [ev["dialstatus"] for ev in seen.events
                if ev["type"] == "Dial" and ev.get("dialstatus")]
    assert (statuses[-1] if statuses else None) == case.dial_status
    got = request and (request.get("cause"), request.get("tech_cause"), bool(request.get("soft")))
    assert got == case.request
    assert classify(facts) is case.result


async def test_ringing_ended_is_told_apart_by_time_alone_and_by_side_alone(
        pbx: Backend, settings: Settings) -> None:
    """A ring timeout and a customer who gives up ringing both end 19 / SIP 480: either fact the
    engine has (elapsed against the ring timeout, or who hung up) is enough on its own."""
    by_name = {c.name: c for c in CASES}
    timeout_case, gave_up = by_name["ring timeout"], by_name["hangs up while ringing"]
    async with AriProbe(settings, app=f"signals-{uuid.uuid4().hex[:6]}") as probe:
        timed_out, hung_up = await asyncio.gather(_place(probe, timeout_case),
                                                  _place(probe, gave_up))
    for seen, case in ((timed_out, timeout_case), (hung_up, gave_up)):
        facts = seen.facts(case.ring_timeout)
        by_time = CallFacts(sip_code=facts.sip_code, hangup_cause=facts.hangup_cause,
                            dial_status=facts.dial_status, elapsed=facts.elapsed,
                            ring_timeout=facts.ring_timeout)
        by_side = CallFacts(sip_code=facts.sip_code, hangup_cause=facts.hangup_cause,
                            dial_status=facts.dial_status, hung_up_by=facts.hung_up_by)
        assert classify(by_time) is case.result, case.name
        assert classify(by_side) is case.result, case.name
