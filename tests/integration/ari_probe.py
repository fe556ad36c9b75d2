"""The test's side of the PBX: ARI calls to agent seats and what Asterisk hears from them.

`AriProbe` opens one ARI application, collects its events, originates calls to agent endpoints
into Stasis (as the dialer does for the nailed-up agent leg), plays tones to them, and records
what Asterisk receives from a channel through a snoop channel (WAV files in the PBX's spool).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

from dialer.ari import AriClient, AriError
from dialer.config.settings import Settings
from dialer.core.audio import read_wav


class AriProbe:
    def __init__(self, settings: Settings, app: str | None = None) -> None:
        self.settings = settings
        self.app = app or f"sip-ua-test-{uuid.uuid4().hex[:8]}"
        self.ari = AriClient.from_settings(settings.pbx, app=self.app)
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._pump: asyncio.Task[None] | None = None
        self.channels: list[str] = []

    async def __aenter__(self) -> AriProbe:
        await self.ari.__aenter__()
        self._pump = asyncio.create_task(self._read_events())
        for _ in range(200):
            try:
                await self.ari.get(f"applications/{self.app}")
                return self
            except AriError as exc:
                if exc.status != 404:
                    raise
            await asyncio.sleep(0.02)
        raise AriError(f"ARI application {self.app} did not register")

    async def __aexit__(self, *exc: object) -> None:
        for ch in self.channels:
            with contextlib.suppress(AriError):
                await self.ari.delete(f"channels/{ch}")
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, AriError):
                await self._pump
        await self.ari.close()

    async def _read_events(self) -> None:
        async for ev in self.ari.events():
            async with self._changed:
                self.events.append(ev)
                self._changed.notify_all()

    async def wait_event(self, kind: str, channel: str | None = None, timeout: float = 10.0,
                         since: int = 0, **match: Any) -> dict[str, Any]:
        """The first event of `kind` (about `channel`) at or after index `since`."""
        def find() -> dict[str, Any] | None:
            for ev in self.events[since:]:
                if ev["type"] != kind:
                    continue
                subject = ev.get("channel", {}).get("id")
                if channel is not None and subject != channel:
                    continue
                if all(ev.get(k) == v for k, v in match.items()):
                    return ev
            return None

        async def wait() -> dict[str, Any]:
            async with self._changed:
                while (ev := find()) is None:
                    await self._changed.wait()
                return ev
        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = [e["type"] for e in self.events[since:]][-15:]
            raise AssertionError(f"no {kind} for {channel} in {timeout} s; saw {seen}") from None

    async def call_agent(self, endpoint: str, timeout: int = 10) -> str:
        """Originate to `endpoint` (e.g. PJSIP/agent1015) into our app; the answered channel id.

        The caller number is the channel id, so the agent's side can tell this call from any
        other that reaches the same seat (the SIP From user)."""
        channel = f"agentleg{uuid.uuid4().hex[:10]}"
        since = len(self.events)
        await self.ari.post("channels", endpoint=endpoint, app=self.app, channelId=channel,
                            timeout=timeout, callerId=f"opendialer <{channel}>")
        self.channels.append(channel)
        await self.wait_event("StasisStart", channel, timeout=timeout + 5, since=since)
        return channel

    async def play(self, channel: str, media: str) -> str:
        playback = f"pb-{uuid.uuid4().hex[:10]}"
        await self.ari.post(f"channels/{channel}/play/{playback}", media=media)
        return playback

    async def stop_playback(self, playback: str) -> None:
        with contextlib.suppress(AriError):
            await self.ari.delete(f"playbacks/{playback}")

    async def record_heard(self, channel: str, seconds: float) -> tuple[int, array[int]]:
        """What Asterisk receives from `channel` for `seconds`, via a snoop channel."""
        snoop = f"snoop-{uuid.uuid4().hex[:10]}"
        name = f"heard-{snoop}"
        since = len(self.events)
        await self.ari.post(f"channels/{channel}/snoop", spy="in", app=self.app, snoopId=snoop)
        await self.wait_event("StasisStart", snoop, since=since)
        await self.ari.post(f"channels/{snoop}/record", name=name, format="wav",
                            ifExists="overwrite")
        await asyncio.sleep(seconds)
        await self.ari.post(f"recordings/live/{name}/stop")
        await self._recording_done(name, since)
        with contextlib.suppress(AriError):
            await self.ari.delete(f"channels/{snoop}")
        path = self.recording_path(name)
        rate, samples = read_wav(path)
        path.unlink(missing_ok=True)
        return rate, samples

    async def _recording_done(self, name: str, since: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for ev in self.events[since:]:
                if ev["type"] in ("RecordingFinished", "RecordingFailed") and \
                        ev.get("recording", {}).get("name") == name:
                    return
            await asyncio.sleep(0.02)
        raise AssertionError(f"recording {name} did not finish")

    def recording_path(self, name: str) -> Path:
        return self.settings.runtime_dir / "state/pbx/spool/recording" / f"{name}.wav"

    async def hangup(self, channel: str) -> None:
        with contextlib.suppress(AriError):
            await self.ari.delete(f"channels/{channel}")
