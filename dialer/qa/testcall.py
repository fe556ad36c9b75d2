"""One test call through the carrier trunk, observed over ARI: what a QA engineer or the demo runs.

Originates a channel to `PJSIP/<number>@carrier` into a Stasis application of its own, times
ringing and answer from the events, and on answer plays a 697 Hz tone to the customer while it
records what comes back, then hangs up. Reports Asterisk's hang-up cause and the SIP status the
carrier sent (`tech_cause`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.ari import AriClient, AriError
from dialer.config.settings import Settings
from dialer.core.audio import read_wav, rms_dbfs, tone_share

PROBE_TONE_HZ = 697
CUSTOMER_TONE_HZ = 1004


@dataclass
class TestCallResult:
    number: str
    channel_id: str
    ringing_ms: float | None = None
    answered_ms: float | None = None
    ended_ms: float | None = None
    cause: int | None = None
    cause_txt: str = ""
    sip_status: int | None = None
    dial_status: str = ""
    hung_up_by: str = ""
    recording: Path | None = None
    heard_dbfs: float | None = None
    heard_customer_tone: float | None = None
    customer_heard_probe: float | None = None
    events: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.answered_ms is not None

    def describe(self) -> str:
        parts = [f"call {self.number}:"]
        if self.answered:
            parts.append(f"answered after {self.answered_ms:.0f} ms")
        else:
            parts.append("not answered")
        if self.ringing_ms is not None:
            parts.append(f"(ringing at {self.ringing_ms:.0f} ms)")
        parts.append(f"dial status {self.dial_status or '-'},")
        parts.append(f"hang-up cause {self.cause} ({self.cause_txt})")
        if self.sip_status is not None:
            parts.append(f"SIP {self.sip_status}")
        if self.answered or self.hung_up_by == "dialer":
            parts.append(f"hung up by the {self.hung_up_by}")
        if self.heard_dbfs is not None:
            parts.append(f"; heard {self.heard_dbfs:.1f} dBFS, customer tone share "
                         f"{self.heard_customer_tone or 0:.2f}")
        if self.customer_heard_probe is not None:
            parts.append(f"; the customer heard our {PROBE_TONE_HZ} Hz probe with share "
                         f"{self.customer_heard_probe:.2f}")
        return " ".join(parts)


async def place_test_call(settings: Settings, number: str, ring_timeout: float = 30.0,
                          talk: float = 3.0, app: str | None = None,
                          trunk: str = "carrier") -> TestCallResult:
    """Dial `number` through `trunk` (a PJSIP trunk endpoint) and return what happened.

    Each call has a Stasis application of its own (`opendialer-testcall-<id>`): a name shared by
    calls in a row was sometimes deregistered by the previous call's WebSocket closing late."""
    channel_id = f"test-{uuid.uuid4().hex[:12]}"
    app = app or f"opendialer-testcall-{channel_id[5:]}"
    placed_at = time.time()
    result = TestCallResult(number, channel_id)
    async with AriClient.from_settings(settings.pbx, app=app) as ari:
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        connected = asyncio.Event()

        async def pump() -> None:
            async for ev in ari.events():
                connected.set()
                await events.put(ev)

        # the application exists once its WebSocket is up; a first event may take a while
        reader = asyncio.create_task(pump())
        await _wait_app(ari, app)
        started = time.monotonic()

        def ms() -> float:
            return (time.monotonic() - started) * 1000

        try:
            await ari.post("channels", endpoint=f"PJSIP/{number}@{trunk}", app=app,
                           channelId=channel_id, timeout=int(ring_timeout),
                           callerId="opendialer test <+15550100000>")
            talk_deadline: float | None = None
            recording = f"{channel_id}-heard"
            bridge_id = f"{channel_id}-bridge"
            snoop_id = f"{channel_id}-snoop"
            recording_done = False
            while True:
                wait = None if talk_deadline is None else max(0.0, talk_deadline - time.monotonic())
                try:
                    ev = await asyncio.wait_for(events.get(), timeout=wait or ring_timeout + 10)
                except TimeoutError:
                    if talk_deadline is None:
                        raise AriError(
                            f"no event for {number} in {ring_timeout + 10:.0f} s") from None
                    result.hung_up_by = "dialer"
                    with contextlib.suppress(AriError):
                        await ari.post(f"recordings/live/{recording}/stop")
                    with contextlib.suppress(AriError):
                        await ari.delete(f"channels/{channel_id}")
                    talk_deadline = time.monotonic() + 10
                    continue
                subject = ev.get("channel", ev.get("peer", {})).get("id")
                kind = ev["type"]
                if kind == "RecordingFinished" and ev.get("recording", {}).get("name") == recording:
                    recording_done = True
                if subject == snoop_id and kind == "StasisStart":
                    # the snoop channel hears what the customer sends (a channel in a bridge
                    # cannot be recorded itself)
                    await ari.post(f"channels/{snoop_id}/record", name=recording,
                                   format="wav", ifExists="overwrite",
                                   maxDurationSeconds=int(talk) + 5)
                    continue
                if subject not in (channel_id, None):
                    continue
                result.events.append(f"{ms():.0f} {kind}")
                if kind == "ChannelStateChange" and ev["channel"]["state"] == "Ringing":
                    result.ringing_ms = result.ringing_ms or ms()
                elif kind == "Dial" and ev.get("dialstatus"):
                    result.dial_status = ev["dialstatus"]
                elif kind == "StasisStart":
                    result.answered_ms = ms()
                    # the probe tone is played to the customer through a bridge, where the
                    # bridge reads the customer's audio for the snoop channel to record
                    await ari.post(f"bridges/{bridge_id}", type="mixing")
                    await ari.post(f"bridges/{bridge_id}/addChannel", channel=channel_id)
                    await ari.post(f"bridges/{bridge_id}/play", media=f"tone:{PROBE_TONE_HZ}")
                    await ari.post(f"channels/{channel_id}/snoop", spy="in", app=app,
                                   snoopId=snoop_id)
                    talk_deadline = time.monotonic() + talk
                elif kind == "ChannelHangupRequest" and not result.hung_up_by:
                    result.hung_up_by = "dialer" if ev.get("soft") else "customer"
                elif kind == "ChannelDestroyed":
                    result.ended_ms = ms()
                    result.cause = ev.get("cause")
                    result.cause_txt = ev.get("cause_txt", "")
                    result.sip_status = ev.get("tech_cause")
                    if not result.hung_up_by:
                        result.hung_up_by = "customer" if result.answered else "network"
                    if not result.answered:
                        break
                    # the snoop channel's recording is complete once RecordingFinished arrives
                    talk_deadline = None
                    if not recording_done:
                        await _wait_event(events, "RecordingFinished", recording, 5.0)
                    break
        finally:
            with contextlib.suppress(AriError):
                await ari.delete(f"bridges/{channel_id}-bridge")
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, AriError):
                await reader
    if result.answered:
        path = settings.runtime_dir / "state/pbx/spool/recording" / f"{channel_id}-heard.wav"
        if path.exists():
            rate, samples = read_wav(path)
            result.recording = path
            result.heard_dbfs = rms_dbfs(samples)
            result.heard_customer_tone = tone_share(samples, rate, CUSTOMER_TONE_HZ)
        # the carrier records what its customer heard (MixMonitor r()), named after the number
        calls = settings.runtime_dir / "state/carrier/spool/calls"
        heard = [p for p in calls.glob(f"{number}-*-heard.wav") if p.stat().st_mtime >= placed_at]
        if heard:
            rate, samples = read_wav(max(heard, key=lambda p: p.stat().st_mtime))
            result.customer_heard_probe = tone_share(samples, rate, PROBE_TONE_HZ)
    return result


async def _wait_event(events: asyncio.Queue[dict[str, Any]], kind: str, name: str,
                      seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            ev = await asyncio.wait_for(events.get(), timeout=left)
        except TimeoutError:
            return False
        if ev["type"] == kind and ev.get("recording", {}).get("name") == name:
            return True
    return False


async def _wait_app(ari: AriClient, app: str) -> None:
    for _ in range(100):
        try:
            await ari.get(f"applications/{app}")
            return
        except AriError as exc:
            if exc.status != 404:
                raise
        await asyncio.sleep(0.02)
    raise AriError(f"ARI application {app} did not register")
