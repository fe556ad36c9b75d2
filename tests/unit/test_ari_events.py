"""ARI events -> the call floor's events (dialer/service/ari_events.py), event by event."""

from __future__ import annotations

from typing import Any

from dialer.core.floor import messages as m
from dialer.core.floor.seats import AGENT_PREFIX, CUSTOMER_PREFIX
from dialer.service.ari_events import AriEvents, agent_of
from dialer.service.fax import TONE_EVENT

CUSTOMER = f"{CUSTOMER_PREFIX}42"


def ev(kind: str, channel: str = CUSTOMER, **more: Any) -> dict[str, Any]:
    return {"type": kind, "channel": {"id": channel, **more.pop("chan", {})}, **more}


def test_a_busy_call_ends_with_the_last_dial_status_and_the_carrier_hanging_up() -> None:
    t = AriEvents()
    t.placing(CUSTOMER)
    assert t.translate(ev("Dial", dialstatus="RINGING")) == [m.CustomerRinging(42)]
    assert t.translate(ev("Dial", dialstatus="BUSY")) == []
    assert t.translate(ev("ChannelDestroyed", cause=17, tech_cause=486)) == [
        m.CustomerGone(42, 17, 486, "BUSY", customer_hung_up=False)]
    assert t.customers == {}


def test_who_hung_up_is_the_customer_only_when_the_dialer_did_not_ask() -> None:
    t = AriEvents()
    t.placing(CUSTOMER)
    assert t.translate(ev("StasisStart", args=["customer", "42"])) == [m.CustomerAnswered(42)]
    assert t.translate(ev("ChannelHangupRequest", cause=16)) == []
    gone = t.translate(ev("ChannelDestroyed", cause=16))
    assert gone == [m.CustomerGone(42, 16, None, "", customer_hung_up=True)]

    t.placing(CUSTOMER)
    t.hanging_up(CUSTOMER)
    t.translate(ev("ChannelHangupRequest", cause=16))
    assert t.translate(ev("ChannelDestroyed", cause=16))[0].customer_hung_up is False
    # a soft hang-up request (a transfer, a masquerade) is nobody's hang-up
    t.placing(CUSTOMER)
    t.translate(ev("ChannelHangupRequest", soft=True))
    assert t.translate(ev("ChannelDestroyed", cause=16))[0].customer_hung_up is False


def test_the_machine_detector_and_the_fax_tone_report_on_the_customer_channel() -> None:
    t = AriEvents()
    assert t.translate(ev("StasisStart", args=["amd", "MACHINE", "LONGGREETING"])) == [
        m.MachineVerdict(42, "MACHINE", "LONGGREETING")]
    assert t.translate(ev("StasisStart", args=["amd"])) == [m.MachineVerdict(42, "", "")]
    assert t.translate(ev(TONE_EVENT)) == [m.FaxDetected(42)]
    assert t.translate(ev("ChannelStateChange", chan={"state": "Ringing"})) == [
        m.CustomerRinging(42)]
    assert t.translate(ev("ChannelStateChange", chan={"state": "Up"})) == []


def test_the_message_played_failed_or_cut_short_by_the_customer() -> None:
    t = AriEvents()
    play = {"target_uri": f"channel:{CUSTOMER}", "media_uri": "sound:safe-harbor"}
    assert t.translate({"type": "PlaybackStarted", "playback": play}) == [m.MessageStarted(42)]
    failed = {**play, "state": "failed"}
    assert t.translate({"type": "PlaybackFinished", "playback": failed}) == [
        m.MessageFailed(42, "Asterisk could not play sound:safe-harbor")]
    # the customer hung up during the message: Asterisk says "failed", but it did play
    t.translate(ev("ChannelHangupRequest"))
    assert t.translate({"type": "PlaybackFinished", "playback": failed}) == [
        m.MessageFinished(42)]
    assert t.translate({"type": "PlaybackFailed", "playback": play}) == [
        m.MessageFailed(42, "Asterisk could not play sound:safe-harbor")]


def test_agent_legs_and_strangers() -> None:
    t = AriEvents()
    leg = f"{AGENT_PREFIX}7-3"
    assert agent_of(leg) == 7 and agent_of(f"{AGENT_PREFIX}x-1") is None
    assert t.translate(ev("StasisStart", leg)) == [m.LegAnswered(7, leg)]
    assert t.translate(ev("ChannelDestroyed", leg, cause=16, cause_txt="Normal Clearing")) == [
        m.LegGone(7, leg, "hung up (cause 16 Normal Clearing)")]
    # not the floor's channels, or a name that is not an attempt: nothing, and nothing kept
    assert t.translate(ev("StasisStart", "PJSIP/carrier-0001")) == []
    assert t.translate(ev("StasisStart", f"{CUSTOMER_PREFIX}abc")) == []
    assert t.translate({"type": "DeviceStateChanged"}) == []
    assert t.customers == {}


def test_a_reconnection_forgets_calls_asterisk_no_longer_has() -> None:
    t = AriEvents()
    for cid in (CUSTOMER, f"{CUSTOMER_PREFIX}43"):
        t.placing(cid)
    t.translate(ev("Dial", dialstatus="RINGING"))
    t.keep_only({f"{CUSTOMER_PREFIX}43", "other"})
    assert set(t.customers) == {f"{CUSTOMER_PREFIX}43"}
    t.not_placed(f"{CUSTOMER_PREFIX}43")
    assert t.customers == {}
