"""Fax detection on the real PBX: TONE_DETECT armed over ARI, the carrier's fax and person answer.

Each call is originated over ARI into a Stasis application of the test's own and, as the dialer
does with an answered customer, put into a mixing bridge (the agent's) the moment it answers,
without waiting for any detection. The carrier's fax (behaviour 7) sends its answer tone CED
(2100 Hz) 2 s after answering; its person (behaviour 0) says "hello" and talks in 1004 Hz bursts.
Figures are printed (run with -s): detection time from the answer, and answer-to-bridge time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import pytest

from dialer.ari import AriError
from dialer.config.settings import Settings
from dialer.core.audio import read_wav, tone_share
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.fax import (
    FAX_TONE_HZ,
    arm_fax_detection,
    disarm_fax_detection,
    fax_detect_variables,
    fax_detected,
    fax_detection_available,
    fax_tone_count,
)
from tests.integration.ari_probe import AriProbe

pytestmark = pytest.mark.pbx

FAX_DEADLINE_S = 5.0      # CED starts 2 s after the answer; detected about 1 s later
LISTEN_S = 8.0            # how long a person is listened to for a false detection


class TimedProbe(AriProbe):
    """AriProbe whose events carry the monotonic time they arrived (``_at``), and which deletes
    the bridges it made."""

    bridges: list[str]

    async def __aexit__(self, *exc: object) -> None:
        for bridge in getattr(self, "bridges", []):
            with contextlib.suppress(AriError):
                await self.ari.delete(f"bridges/{bridge}")
        await super().__aexit__(*exc)

    async def _read_events(self) -> None:
        async for ev in self.ari.events():
            ev["_at"] = time.monotonic()
            async with self._changed:
                self.events.append(ev)
                self._changed.notify_all()

    def tones(self, channel: str) -> list[dict[str, Any]]:
        return [ev for ev in self.events if fax_detected(ev) and ev["channel"]["id"] == channel]


async def _originate(probe: TimedProbe, number: str, *, arm: bool) -> str:
    channel = f"faxt-{uuid.uuid4().hex[:10]}"
    body = {"variables": fax_detect_variables()} if arm else None
    await probe.ari.post("channels", body, endpoint=f"PJSIP/{number}@carrier", app=probe.app,
                         channelId=channel, timeout=10)
    probe.channels.append(channel)
    return channel


async def _answer_into_bridge(probe: TimedProbe, channel: str) -> tuple[float, str, float]:
    """Wait for the answer (StasisStart), then bridge at once. (answered at, bridge id,
    seconds from the StasisStart's arrival to the addChannel answer)."""
    start = await probe.wait_event("StasisStart", channel, timeout=15)
    bridge = await probe.ari.post("bridges", type="mixing")
    probe.bridges = [*getattr(probe, "bridges", []), bridge["id"]]
    await probe.ari.post(f"bridges/{bridge['id']}/addChannel", channel=channel)
    return start["_at"], bridge["id"], time.monotonic() - start["_at"]


@pytest.mark.parametrize("armed", ["at_originate", "after_bridge"])
async def test_a_fax_is_reported_and_a_person_is_not(pbx: Backend, settings: Settings,
                                                     armed: str) -> None:
    async with TimedProbe(settings, app=f"fax-test-{uuid.uuid4().hex[:6]}") as probe:
        at_originate = armed == "at_originate"
        started = time.time()
        person_number = number_for(Behaviour.ANSWER, 0, 0, tag=7)
        fax = await _originate(probe, number_for(Behaviour.FAX, 0, 0, tag=7), arm=at_originate)
        person = await _originate(probe, person_number, arm=at_originate)
        (fax_answered, _, fax_bridge_s), (person_answered, person_bridge, person_bridge_s) = \
            await asyncio.gather(_answer_into_bridge(probe, fax),
                                 _answer_into_bridge(probe, person))
        if not at_originate:
            t = time.monotonic()
            await asyncio.gather(arm_fax_detection(probe.ari, fax),
                                 arm_fax_detection(probe.ari, person))
            print(f"\narming over ARI (two channels): {1000 * (time.monotonic() - t):.1f} ms")
        # what the agent's side sends never counts: the fax tone itself, played to the person
        await probe.ari.post(f"bridges/{person_bridge}/play", media=f"tone:{FAX_TONE_HZ}")

        tone = await probe.wait_event("ChannelToneDetected", fax, timeout=FAX_DEADLINE_S + 2)
        detected_s = tone["_at"] - fax_answered
        print(f"fax ({armed}): detected {detected_s:.2f} s after the answer; answer -> bridged "
              f"{1000 * fax_bridge_s:.1f} ms (fax), {1000 * person_bridge_s:.1f} ms (person)")
        assert detected_s < FAX_DEADLINE_S
        assert detected_s > 2.0, "CED starts 2 s after the answer: detected before it was sent"
        assert await fax_tone_count(probe.ari, fax) == 1
        # still in its bridge: detection moved nothing
        channel = await probe.ari.get(f"channels/{fax}")
        assert channel["state"] == "Up" and channel["dialplan"]["app_name"] == "Stasis"

        await asyncio.sleep(max(0.0, person_answered + LISTEN_S - time.monotonic()))
        assert probe.tones(person) == [], "a person was reported as a fax"
        await probe.hangup(person)
        await probe.wait_event("ChannelDestroyed", person)
    # the person really heard 2100 Hz from our side (the carrier records what its customer hears)
    calls = settings.runtime_dir / "state/carrier/spool/calls"
    for _ in range(50):      # the carrier closes the file as its side of the call ends
        heard = [p for p in calls.glob(f"{person_number}-*-heard.wav")
                 if p.stat().st_mtime >= started]
        if heard:
            break
        await asyncio.sleep(0.1)
    assert heard, "the carrier kept no recording of the person's call"
    rate, samples = read_wav(max(heard, key=lambda p: p.stat().st_mtime))
    assert tone_share(samples, rate, FAX_TONE_HZ) > 0.5


async def test_a_disarmed_detector_reports_nothing(pbx: Backend, settings: Settings) -> None:
    async with TimedProbe(settings, app=f"fax-test-{uuid.uuid4().hex[:6]}") as probe:
        assert await fax_detection_available(probe.ari)
        fax = await _originate(probe, number_for(Behaviour.FAX, 0, 0, tag=8), arm=True)
        answered, _, _ = await _answer_into_bridge(probe, fax)
        assert await fax_tone_count(probe.ari, fax) == 0     # armed at origination, not heard
        await disarm_fax_detection(probe.ari, fax)           # before CED starts (2 s)
        assert await fax_tone_count(probe.ari, fax) is None
        await asyncio.sleep(max(0.0, answered + FAX_DEADLINE_S + 1 - time.monotonic()))
        assert probe.tones(fax) == []


async def test_the_fax_is_reported_while_amd_runs(pbx: Backend, settings: Settings) -> None:
    """AMD campaigns send the answered call to the [dialer-amd] dialplan (subscribed, as the
    dialer does): the detector armed at origination reports the fax there, before AMD's verdict
    (about 4 s after the answer: MACHINE, LONGGREETING, when measured)."""
    async with TimedProbe(settings, app=f"fax-test-{uuid.uuid4().hex[:6]}") as probe:
        fax = await _originate(probe, number_for(Behaviour.FAX, 0, 0, tag=9), arm=True)
        start = await probe.wait_event("StasisStart", fax, timeout=15)
        await probe.ari.post(f"applications/{probe.app}/subscription",
                             eventSource=f"channel:{fax}")
        await probe.ari.post(f"channels/{fax}/continue", context="dialer-amd", extension="s",
                             priority=1)
        tone = await probe.wait_event("ChannelToneDetected", fax, timeout=FAX_DEADLINE_S + 2)
        print(f"\nfax during AMD: detected {tone['_at'] - start['_at']:.2f} s after the answer")
        assert tone["channel"]["dialplan"]["context"] == "dialer-amd"
        assert not [ev for ev in probe.events if ev["type"] == "ChannelVarset"
                    and ev.get("variable") == "AMDSTATUS" and ev["channel"]["id"] == fax]
        await probe.hangup(fax)      # before AMD ends and sends it to the dialer's application


async def test_a_pbx_without_the_tone_module_is_named(pbx: Backend, settings: Settings,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Arming cannot tell (ARI answers 204 to a write of an unknown function), so the service
    asks once per connection; without res_tonedetect it says so, naming the module."""
    pbx.rx("pbx", "module unload res_tonedetect.so")
    try:
        async with TimedProbe(settings, app=f"fax-test-{uuid.uuid4().hex[:6]}") as probe:
            assert not await fax_detection_available(probe.ari)
    finally:
        pbx.rx("pbx", "module load res_tonedetect.so")
    assert "res_tonedetect.so is not running" in caplog.text
    async with TimedProbe(settings, app=f"fax-test-{uuid.uuid4().hex[:6]}") as probe:
        assert await fax_detection_available(probe.ari)
