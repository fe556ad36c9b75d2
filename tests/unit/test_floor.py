"""The call floor driven through whole scenarios on a hand-stepped clock (no Asterisk, no
database, no event loop): what it answers each fact with, in what order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.core.campaign import DialMode
from dialer.core.floor import CallPhase, CallPhaseError, FloorRefused
from dialer.core.floor import messages as m
from dialer.core.results import AttemptPhase, CallResult
from tests.unit.floor_harness import FloorHarness, campaign


def _progressive_call(h: FloorHarness, agent: int = 1) -> m.Originate:
    h.login(agent)
    h.advance(0.3)
    dials = h.originates()
    assert len(dials) == 1 and dials[0].agent_id == agent
    return dials[0]


# -- progressive ----------------------------------------------------------------------------


def test_progressive_reserves_the_agent_then_bridges_before_storing() -> None:
    h = FloorHarness()
    dial = _progressive_call(h)
    assert h.state(1) == "reserved"
    assert dial.trunk == "carrier" and dial.caller_id == "+12125550100"
    h.clear()
    cmds = h.answer(dial.attempt_id)
    # the bridge is the first command out: nothing waits for a write before it
    assert isinstance(cmds[0], m.Bridge) and cmds[0].bridge_id == "bridge-agent-1"
    h.clear()
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    assert h.state(1) == "on_call"
    assert [n.fields["attempt"] for n in h.notes(1, "call_connected")] == [dial.attempt_id]
    phases = [w.phase for w in h.writes(m.AttemptEvent)]
    assert phases == [AttemptPhase.ANSWERED, AttemptPhase.BRIDGED]
    h.clear()
    h.gone(dial.attempt_id)
    assert h.state(1) == "wrap_up"
    finish = h.writes(m.FinishAttempt)[0]
    assert finish.result is CallResult.ANSWERED_HUMAN and finish.await_disposition
    assert h.notes(1, "call_ended")[0].fields["disposition_required"] is True


def test_a_disposition_is_checked_then_stored_and_the_agent_is_ready_again() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    h.gone(dial.attempt_id)
    with pytest.raises(FloorRefused, match="unknown disposition code 'NOPE'"):
        h.feed(m.DispositionGiven(1, dial.attempt_id, "NOPE", None, None, False))
    assert h.state(1) == "wrap_up"
    with pytest.raises(FloorRefused, match="not waiting for your disposition"):
        h.feed(m.DispositionGiven(1, 999, "SALE", None, None, False))
    h.feed(m.DispositionGiven(1, dial.attempt_id, "SALE", "ok", None, False, re="7"))
    assert h.writes(m.SaveDisposition)[0].code == "SALE"
    assert h.state(1) == "ready"


def test_an_unanswered_call_frees_its_agent_with_its_result() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.feed(m.Originated(dial.attempt_id))
    h.feed(m.CustomerRinging(dial.attempt_id))
    h.gone(dial.attempt_id, cause=17, tech=486, dial="BUSY", customer=False)
    assert h.writes(m.FinishAttempt)[0].result is CallResult.BUSY
    assert h.state(1) == "ready"
    assert h.notes(1, "call_ended")[0].fields["disposition_required"] is False


def test_a_customer_who_hangs_up_while_ringing_is_hung_up_ringing() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.feed(m.Originated(dial.attempt_id))
    h.feed(m.CustomerRinging(dial.attempt_id))
    h.advance(4)
    h.gone(dial.attempt_id, cause=19, tech=480, dial="NOANSWER", customer=True)
    assert h.writes(m.FinishAttempt)[0].result is CallResult.HUNG_UP_RINGING


def test_an_illegal_event_for_a_call_raises_and_changes_nothing() -> None:
    h = FloorHarness()
    dial = _progressive_call(h)
    h.clear()
    with pytest.raises(CallPhaseError):
        h.feed(m.CustomerBridged(dial.attempt_id, 1))
    assert h.floor.calls[dial.attempt_id].phase is CallPhase.DIALING
    assert h.out == []


def test_no_contact_releases_the_agent_and_waits_before_asking_again() -> None:
    h = FloorHarness(contacts=0)
    h.login(1)
    h.advance(0.3)
    assert h.state(1) == "ready" and not h.originates()
    claims = len(h.sent(m.Claim))
    h.advance(1.0)
    assert len(h.sent(m.Claim)) == claims       # idle: not asked again at every tick
    h.advance(3.0)
    assert len(h.sent(m.Claim)) > claims


# -- predictive -----------------------------------------------------------------------------


def _predictive(h: FloorHarness, agents: int = 1) -> list[m.Originate]:
    for a in range(1, agents + 1):
        h.login(a)
    h.advance(1.0)
    dials = h.originates()
    assert dials and all(d.agent_id is None for d in dials)
    return dials


def test_predictive_answer_goes_to_a_free_agent() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    dial = _predictive(h)[0]
    cmds = h.answer(dial.attempt_id)
    bridge = [c for c in cmds if isinstance(c, m.Bridge)]
    assert bridge and bridge[0].agent_id == 1
    assert cmds.index(bridge[0]) < min(
        (i for i, c in enumerate(cmds) if isinstance(c, m.Store)), default=len(cmds))
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    assert h.state(1) == "on_call"


def test_predictive_answer_with_no_agent_gets_the_message_before_two_seconds() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    dials = _predictive(h)
    first = dials[0]
    h.answer(first.attempt_id)
    h.feed(m.CustomerBridged(first.attempt_id, 1))          # the one agent is busy now
    second = next(d for d in h.originates() if d.attempt_id != first.attempt_id)
    h.clear()
    h.answer(second.attempt_id)
    assert h.floor.calls[second.attempt_id].phase is CallPhase.WAITING
    h.advance(1.4)
    assert not h.sent(m.PlayMessage)
    h.advance(0.2)
    play = h.sent(m.PlayMessage)
    assert play and play[0].media == "sound:msg-1"
    h.advance(0.1)
    h.feed(m.MessageStarted(second.attempt_id))
    h.advance(3)
    h.feed(m.MessageFinished(second.attempt_id))
    assert h.sent(m.Hangup, channel_id=second.channel_id)
    event = [w for w in h.writes(m.AttemptEvent) if w.phase is AttemptPhase.SAFE_HARBOR][0]
    assert event.detail["after_answer_ms"] < 2000
    h.gone(second.attempt_id, customer=False)
    assert h.writes(m.FinishAttempt)[-1].result is CallResult.ABANDONED
    assert max(h.floor.message_delays) < 2.0


def test_a_failed_message_is_recorded_as_failed_not_played() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    dial, other, *_ = _predictive(h)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    h.answer(other.attempt_id)
    h.advance(2)
    h.feed(m.MessageStarted(other.attempt_id))
    h.feed(m.MessageFailed(other.attempt_id, "no such file"))
    notes = [w for w in h.writes(m.AttemptEvent) if w.phase is AttemptPhase.NOTE]
    assert "safe-harbor message failed: no such file" in notes[0].detail["note"]
    assert not [w for w in h.writes(m.AttemptEvent) if w.phase is AttemptPhase.SAFE_HARBOR]
    assert h.sent(m.Hangup, channel_id=other.channel_id)


def test_a_waiting_customer_goes_to_the_next_agent_who_is_ready() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    first, *_ = _predictive(h)
    h.answer(first.attempt_id)
    h.feed(m.CustomerBridged(first.attempt_id, 1))
    second = next(d for d in h.originates() if d.attempt_id != first.attempt_id)
    h.answer(second.attempt_id)
    assert h.floor.calls[second.attempt_id].phase is CallPhase.WAITING
    h.advance(0.5)
    h.login(2)                                       # a new agent becomes ready in time
    bridge = h.sent(m.Bridge, attempt_id=second.attempt_id)
    assert bridge and bridge[0].agent_id == 2
    h.advance(2)
    assert not h.sent(m.PlayMessage, attempt_id=second.attempt_id)


# -- negotiated logout ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
def test_logout_with_nothing_on_the_way_is_at_once(mode: DialMode) -> None:
    h = FloorHarness(campaign(mode=mode), contacts=0)
    h.login(1)
    h.advance(0.5)
    h.feed(m.AgentAsks(1, "logout"))
    assert h.notes(1, "logout_authorized") and 1 not in h.floor.seats
    assert h.sent(m.DropBridge, bridge_id="bridge-agent-1")


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
def test_logout_while_a_call_rings_for_the_agent_waits_then_is_authorized(
        mode: DialMode) -> None:
    h = FloorHarness(campaign(mode=mode, logout_delay=10))
    dial = _progressive_call(h) if mode is DialMode.PROGRESSIVE else _predictive(h)[0]
    h.feed(m.Originated(dial.attempt_id))
    h.feed(m.CustomerRinging(dial.attempt_id))
    h.feed(m.AgentAsks(1, "logout"))
    assert h.state(1) == "logout_pending"
    pending = h.notes(1, "logout_pending")[0]
    assert pending.fields["remaining_s"] == 10.0
    h.advance(5)
    assert h.state(1) == "logout_pending"
    h.advance(6)                                   # the deadline passed
    assert h.notes(1, "logout_authorized") and 1 not in h.floor.seats
    assert h.floor.calls[dial.attempt_id].agent_id is None     # not left on them
    # the customer who answers later is not bridged to anyone gone: waits, then the message
    h.answer(dial.attempt_id)
    h.advance(2)
    assert h.sent(m.PlayMessage, attempt_id=dial.attempt_id)


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
def test_a_call_that_connects_in_time_is_handled_before_logout(mode: DialMode) -> None:
    h = FloorHarness(campaign(mode=mode, logout_delay=10), contacts=3)
    dial = _progressive_call(h) if mode is DialMode.PROGRESSIVE else _predictive(h)[0]
    h.feed(m.Originated(dial.attempt_id))
    h.feed(m.AgentAsks(1, "logout"))
    assert h.state(1) == "logout_pending"
    h.advance(3)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    assert h.state(1) == "on_call"
    h.advance(20)                                   # past the deadline: on a call, no reroute
    assert h.state(1) == "on_call"
    h.gone(dial.attempt_id)
    h.feed(m.DispositionGiven(1, dial.attempt_id, "SALE", None, None, False))
    assert h.notes(1, "logout_authorized") and 1 not in h.floor.seats


def test_predictive_logout_is_authorized_once_the_ringing_calls_end() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE, logout_delay=30))
    dials = _predictive(h)
    for d in dials:
        h.feed(m.Originated(d.attempt_id))
    h.feed(m.AgentAsks(1, "logout"))
    assert h.state(1) == "logout_pending"
    h.advance(4)
    for d in dials:
        h.gone(d.attempt_id, cause=19, dial="NOANSWER", customer=False)
    assert h.notes(1, "logout_authorized")
    assert not any(isinstance(c, m.Claim) for c in h.out[-3:])


# -- trunks, links, timeouts ----------------------------------------------------------------


def test_a_failing_trunk_sends_the_same_attempt_through_the_next() -> None:
    h = FloorHarness(campaign(trunk="a,b"), trunk_names=("a", "b"), contacts=1)
    dial = _progressive_call(h)
    assert dial.trunk == "a"
    h.feed(m.Originated(dial.attempt_id))
    h.gone(dial.attempt_id, cause=34, tech=503, dial="CONGESTION", customer=False)
    again = h.originates()[-1]
    assert (again.attempt_id, again.trunk, again.failed_over_from) == (dial.attempt_id, "b",
                                                                      ("a",))
    assert not h.writes(m.FinishAttempt)
    assert h.state(1) == "reserved"


def test_a_refused_originate_fails_over_then_fails_the_attempt() -> None:
    h = FloorHarness(campaign(trunk="a,b"), trunk_names=("a", "b"), contacts=1)
    dial = _progressive_call(h)
    h.feed(m.OriginateFailed(dial.attempt_id, "500 Allocation failed"))
    assert h.originates()[-1].trunk == "b"
    h.feed(m.OriginateFailed(dial.attempt_id, "500 Allocation failed"))
    finish = h.writes(m.FinishAttempt)[0]
    assert finish.result is CallResult.FAILED and "originate through trunk b" in finish.note
    assert h.state(1) == "ready"


def test_a_link_drop_while_bridging_ends_the_call_without_a_disposition() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.answer(dial.attempt_id)                        # Bridge sent, no answer yet
    h.feed(m.LinkLost(1))
    assert 1 not in h.floor.seats
    h.feed(m.CustomerBridged(dial.attempt_id, 1))    # the bridge lands after the agent left
    assert h.sent(m.Hangup, channel_id=dial.channel_id)
    h.gone(dial.attempt_id, customer=False)
    assert not h.writes(m.FinishAttempt)[0].await_disposition


def test_a_link_drop_on_a_call_hangs_up_the_customer_and_settles() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    h.feed(m.LinkLost(1))
    assert h.sent(m.Hangup, channel_id=dial.channel_id)
    h.gone(dial.attempt_id, customer=False)
    assert h.writes(m.FinishAttempt)[0].await_disposition is False


def test_a_disposition_never_given_settles_after_the_wrap_up_limit() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    h.gone(dial.attempt_id)
    h.advance(14 * 60)
    assert h.state(1) == "wrap_up"
    h.advance(2 * 60)
    assert h.writes(m.SettleWithoutDisposition)[0].attempt_id == dial.attempt_id
    assert h.notes(1, "disposition_timeout") and h.state(1) == "ready"


def test_a_preview_record_left_undialed_goes_back() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREVIEW), contacts=2)
    h.login(1)
    h.feed(m.AgentAsks(1, "preview_request", {}, re="p1"))
    record = h.notes(1, "preview_record")[0]
    assert record.re == "p1" and h.state(1) == "reserved"
    h.advance(6 * 60)
    assert h.writes(m.ReleaseContact)[0].contact_id == record.fields["offer"]
    assert h.state(1) == "ready"


def test_preview_dial_and_skip() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREVIEW), contacts=2)
    h.login(1)
    h.feed(m.AgentAsks(1, "preview_request"))
    offer = h.notes(1, "preview_record")[-1].fields["offer"]
    h.feed(m.AgentAsks(1, "preview_skip", {"contact": offer}))
    assert h.writes(m.ReleaseContact)[0].delay_s == 30 * 60
    h.feed(m.AgentAsks(1, "preview_request"))
    offer = h.notes(1, "preview_record")[-1].fields["offer"]
    with pytest.raises(FloorRefused, match="not the one offered"):
        h.feed(m.AgentAsks(1, "preview_dial", {"contact": offer + 1}))
    h.feed(m.AgentAsks(1, "preview_dial", {"contact": offer}, re="d"))
    dial = h.originates()[-1]
    assert dial.agent_id == 1 and h.notes(1, "ok")[-1].re == "d"


# -- Asterisk restarts ----------------------------------------------------------------------


def test_resync_ends_vanished_calls_calls_agents_again_and_removes_leftovers() -> None:
    h = FloorHarness(contacts=3)
    h.login(1)
    h.login(2)
    h.advance(0.3)
    one, two = h.originates()[:2]
    h.answer(one.attempt_id)
    h.feed(m.CustomerBridged(one.attempt_id, one.agent_id))
    h.feed(m.Originated(two.attempt_id))
    h.feed(m.PbxLost("WebSocket closed"))
    h.advance(1)
    assert len(h.originates()) == 2               # nothing dialed while Asterisk is away
    h.clear()
    h.feed(m.PbxConnected(frozenset({"cust-999", "agent-7-old1"}),
                          frozenset({"bridge-agent-7"})))
    finished = {w.attempt_id: w for w in h.writes(m.FinishAttempt)}
    assert finished[two.attempt_id].result is CallResult.INTERRUPTED
    assert finished[one.attempt_id].await_disposition       # talked: wrap-up follows
    assert h.state(one.agent_id) == "wrap_up"
    assert {c.agent_id for c in h.sent(m.CallAgent)} == {1, 2}
    assert {c.channel_id for c in h.sent(m.Hangup)} >= {"cust-999", "agent-7-old1"}
    assert h.sent(m.DropBridge, bridge_id="bridge-agent-7")
    # the agent who was ready is ready again when the phone answers, without logging in
    other = two.agent_id
    leg = h.sent(m.CallAgent, agent_id=other)[-1]
    h.feed(m.LegAnswered(other, leg.channel_id))
    assert h.state(other) == "ready"


def test_a_lost_voice_channel_is_placed_again_with_backoff() -> None:
    h = FloorHarness(contacts=0)
    h.login(1)
    leg = h.sent(m.CallAgent, agent_id=1)[-1]
    h.feed(m.LegGone(1, leg.channel_id, "hung up"))
    assert h.state(1) == "not_ready"
    h.advance(0.6)
    second = h.sent(m.CallAgent, agent_id=1)[-1]
    assert second.channel_id != leg.channel_id
    h.feed(m.LegGone(1, second.channel_id, "no answer"))
    h.advance(0.6)
    assert len(h.sent(m.CallAgent, agent_id=1)) == 2          # backoff doubled
    h.advance(0.5)
    assert len(h.sent(m.CallAgent, agent_id=1)) == 3


def test_bridging_to_a_vanished_bridge_tries_another_agent_and_calls_the_phone_again() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    dial = _predictive(h, agents=2)[0]
    cmds = h.answer(dial.attempt_id)
    first = next(c for c in cmds if isinstance(c, m.Bridge))
    h.clear()
    h.feed(m.BridgeFailed(dial.attempt_id, first.agent_id, "404 Bridge not found"))
    retry = h.sent(m.Bridge, attempt_id=dial.attempt_id)
    assert retry and retry[0].agent_id != first.agent_id
    assert h.sent(m.CallAgent, agent_id=first.agent_id) or h.floor.seats[
        first.agent_id].leg_retry_at is not None


def test_next_timer_is_the_earliest_thing_due() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    dial = _predictive(h)[0]
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    other = next(d for d in h.originates() if d.attempt_id != dial.attempt_id)
    h.answer(other.attempt_id)
    due = h.floor.next_timer()
    assert due is not None and due <= h.now + timedelta(seconds=1.5)


# -- compliance in the pacing loop -----------------------------------------------------------


def test_a_predictive_campaign_over_its_30_day_cap_dials_progressively() -> None:
    info = campaign(mode=DialMode.PREDICTIVE)
    h = FloorHarness(info)
    h.feed(m.CampaignsRead((info,), holds={1: "30-day abandon rate 3.3% is at or over the cap"}))
    h.login(1)
    h.login(2)
    h.advance(1.0)
    dials = h.originates()
    assert sorted(d.agent_id for d in dials) == [1, 2]       # one reserved call per agent
    assert "30-day abandon rate" in h.floor.runs[1].last_decision
    h.feed(m.CampaignsRead((info,), holds={}))                # back under the cap
    h.feed(m.Originated(dials[0].attempt_id))
    h.gone(dials[0].attempt_id, cause=17, tech=486, dial="BUSY", customer=False)
    h.advance(1.0)                                            # its agent is ready again
    assert any(d.agent_id is None for d in h.originates())    # predictive again


def test_a_new_predictive_run_takes_the_warm_pacer_it_is_given() -> None:
    from dialer import pacing as pc

    info = campaign(cid=2, mode=DialMode.PREDICTIVE)
    h = FloorHarness(campaign())
    warm = pc.create_pacer("ratio", ratio=1.0)
    h.feed(m.CampaignsRead((campaign(), info), pacers={2: warm}))
    assert h.floor.runs[2].pacer is warm


def test_resync_catches_up_on_answers_missed_while_the_events_were_away() -> None:
    h = FloorHarness(contacts=1)
    h.feed(m.AgentLogin(2, "agent2", "B", "PJSIP/agent2", (1,)))     # its phone is ringing
    h.login(1)
    h.advance(0.3)
    dial = h.originates()[0]
    h.feed(m.Originated(dial.attempt_id))
    h.feed(m.PbxLost("WebSocket closed"))
    leg2 = h.sent(m.CallAgent, agent_id=2)[-1].channel_id
    leg1 = h.floor.seats[1].leg_channel
    assert leg1 is not None
    h.clear()
    h.feed(m.PbxConnected(frozenset({dial.channel_id, leg1, leg2}),
                          frozenset({"bridge-agent-1"}),
                          up=frozenset({dial.channel_id, leg1, leg2})))
    assert h.sent(m.Bridge, attempt_id=dial.attempt_id)        # the answer is not forgotten
    assert h.sent(m.JoinBridge, agent_id=2)                    # nor the phone that answered
    assert not h.sent(m.CallAgent)


def test_a_fax_is_hung_up_and_never_an_agents_work() -> None:
    h = FloorHarness(contacts=2)
    dial = _progressive_call(h)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))          # bridged at once, as people are
    h.clear()
    h.feed(m.FaxDetected(dial.attempt_id))                  # the CED tone, ~3 s later
    assert h.sent(m.Hangup, channel_id=dial.channel_id)
    h.gone(dial.attempt_id, customer=False)
    finish = h.writes(m.FinishAttempt)[0]
    assert finish.result is CallResult.FAX and not finish.await_disposition
    assert h.notes(1, "call_ended")[0].fields["disposition_required"] is False
    assert h.state(1) == "ready"


def test_a_fax_heard_while_bridging_is_hung_up_when_the_bridge_answers() -> None:
    h = FloorHarness(contacts=1)
    dial = _progressive_call(h)
    h.answer(dial.attempt_id)
    h.feed(m.FaxDetected(dial.attempt_id))
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    assert h.state(1) == "reserved"                          # never on a call with a fax
    h.gone(dial.attempt_id, customer=False)
    assert h.writes(m.FinishAttempt)[0].result is CallResult.FAX
    assert h.state(1) == "ready"


def test_resync_removes_only_what_our_application_holds() -> None:
    h = FloorHarness(contacts=0)
    h.clear()
    h.feed(m.PbxConnected(frozenset({"cust-7", "cust-8", "agent-3-x1"}),
                          frozenset({"bridge-agent-3", "bridge-agent-4"}),
                          ours=frozenset({"cust-7", "bridge-agent-3"})))
    assert [c.channel_id for c in h.sent(m.Hangup)] == ["cust-7"]   # cust-8: another dialer's
    assert [c.bridge_id for c in h.sent(m.DropBridge)] == ["bridge-agent-3"]
    h.clear()
    h.feed(m.CustomerAnswered(8))            # an earlier run's call answering late
    assert [c.channel_id for c in h.sent(m.Hangup)] == ["cust-8"]


def test_a_customer_who_hangs_up_during_the_message_heard_it() -> None:
    h = FloorHarness(campaign(mode=DialMode.PREDICTIVE))
    dial, other, *_ = _predictive(h)
    h.answer(dial.attempt_id)
    h.feed(m.CustomerBridged(dial.attempt_id, 1))
    h.answer(other.attempt_id)
    h.advance(2)
    h.feed(m.MessageStarted(other.attempt_id))
    h.advance(3)
    h.gone(other.attempt_id, customer=True)
    played = [w for w in h.writes(m.AttemptEvent) if w.phase is AttemptPhase.SAFE_HARBOR]
    assert played and played[0].detail["played"].startswith("cut short")
    assert h.writes(m.FinishAttempt)[-1].result is CallResult.ABANDONED
