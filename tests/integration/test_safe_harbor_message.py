"""A campaign's safe-harbor message plays on the real PBX, and the customer hears it.

The campaign is stored as `dialer campaign create` stores it, its message is written where the PBX
reads it (`install_safe_harbor`), and the media URI the service will use is played over ARI to a
real customer of the simulated carrier (a number that answers and stays), from a Stasis
application of the test's own. Asterisk must report the playback started and finished "done"
after the message's length, its log must not complain, and the carrier's recording of what the
customer heard must follow the message's loudness, syllable by syllable.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
import wave
from array import array
from pathlib import Path

from dialer.config.campaign import loads_campaign
from dialer.config.settings import REPO_ROOT, Settings
from dialer.core.audio import read_wav
from dialer.db.campaigns import create_campaign, get_campaign
from dialer.db.database import open_database
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.safe_harbor import install_safe_harbor, safe_harbor_media
from tests.integration.ari_probe import AriProbe

CAMPAIGNS = REPO_ROOT / "config" / "campaigns"
CAMPAIGN = """
[campaign]
name = "safe-harbor-it"
mode = "predictive"
trunk = "carrier"

[safe_harbor]
message = "../sounds/demo-safe-harbor.wav"
seller = "Example Energy"
callback_number = "+1 212 555 0100"

[[disposition]]
code = "SALE"
final = true
"""
FRAME_S = 0.02


def envelope(rate: int, samples: array[int]) -> list[float]:
    """Loudness per 20 ms frame, in dB."""
    step = int(rate * FRAME_S)
    out = []
    for start in range(0, len(samples) - step + 1, step):
        energy = sum(s * s for s in samples[start:start + step]) / step
        out.append(10 * math.log10(energy + 1.0))
    return out


def best_match(message: list[float], heard: list[float], max_lag: int) -> tuple[float, int]:
    """The highest correlation of the message's envelope with the heard one, and its lag."""
    def corr(a: list[float], b: list[float]) -> float:
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        num = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
        den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
        return num / den if den else 0.0

    best = (-1.0, 0)
    for lag in range(max_lag + 1):
        window = heard[lag:lag + len(message)]
        if len(window) < len(message):
            break
        best = max(best, (corr(message, window), lag))
    return best


async def heard_file(calls: Path, number: str, since: float) -> Path:
    """The carrier's recording of what the customer heard on this call, once it is complete
    (MixMonitor writes the WAV header when the call ends, then the size stays put)."""
    last = -1
    for _ in range(100):
        found = [p for p in calls.glob(f"{number}-*-heard.wav") if p.stat().st_mtime >= since]
        if found:
            size = found[0].stat().st_size
            with contextlib.suppress(wave.Error, EOFError), wave.open(str(found[0])) as w:
                if size == last and 44 + 2 * w.getnframes() == size:
                    return found[0]
            last = size
        await asyncio.sleep(0.2)
    raise AssertionError(f"the carrier recorded nothing complete heard on {number} in {calls}")


async def test_the_campaign_message_plays_on_the_pbx_and_reaches_the_customer(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    db = open_database(tmp_path / "dialer.sqlite3")
    cfg = loads_campaign(CAMPAIGN, base=CAMPAIGNS)
    assert cfg.safe_harbor is not None
    cid = create_campaign(db, cfg)
    uris = install_safe_harbor(db, settings.runtime_dir)
    media = safe_harbor_media(get_campaign(db, cid))
    db.close()
    assert uris == {cid: media}
    name = media.rsplit("/", 1)[1]
    assert (settings.runtime_dir / "sounds" / f"{name}.wav").read_bytes() == cfg.safe_harbor.audio

    log = settings.runtime_dir / "state" / "pbx" / "log" / "messages.log"
    log_start = log.stat().st_size
    number = number_for(Behaviour.ANSWER, tag=int(uuid.uuid4().int % 10))
    placed = time.time() - 1
    async with AriProbe(settings, app=f"safe-harbor-{uuid.uuid4().hex[:8]}") as probe:
        channel = await probe.call_agent(f"PJSIP/{number}@carrier", timeout=15)

        # the check can fail: a message that is not there "plays" and fails at once
        since = len(probe.events)
        missing = await probe.play(channel, "sound:/opendialer/sounds/safe-harbor-not-there")
        failed = await probe.wait_event("PlaybackFinished", since=since, timeout=5)
        assert (failed["playback"]["id"], failed["playback"]["state"]) == (missing, "failed")

        since = len(probe.events)
        playback = await probe.play(channel, media)
        started = await probe.wait_event("PlaybackStarted", since=since, timeout=5)
        t0 = time.monotonic()
        finished = await probe.wait_event("PlaybackFinished", since=since,
                                          timeout=cfg.safe_harbor.seconds + 5)
        took = time.monotonic() - t0
        assert started["playback"]["id"] == finished["playback"]["id"] == playback
        assert started["playback"]["media_uri"] == media
        assert finished["playback"]["state"] == "done"
        assert abs(took - cfg.safe_harbor.seconds) < 0.5, (took, cfg.safe_harbor.seconds)
        await asyncio.sleep(1.0)  # the carrier's recording catches up before the hang-up
        await probe.ari.delete(f"channels/{channel}")
        probe.channels.remove(channel)

    with log.open("rb") as f:
        f.seek(log_start)
        pbx_log = f.read().decode(errors="replace")
    assert f"Playback failed for {media}" not in pbx_log
    assert f"{media.removeprefix('sound:')} does not exist" not in pbx_log
    assert "safe-harbor-not-there does not exist" in pbx_log  # the log is the right one

    rate, heard = read_wav(await heard_file(
        settings.runtime_dir / "state" / "carrier" / "spool" / "calls", number, placed))
    assert rate == 8000
    message_rate, message = read_wav(REPO_ROOT / "config" / "sounds" / "demo-safe-harbor.wav")
    score, lag = best_match(envelope(message_rate, message), envelope(rate, heard),
                            max_lag=int(3 / FRAME_S))
    print(f"safe harbor: played {took:.2f} s of {cfg.safe_harbor.seconds:.2f} s; heard by the "
          f"customer {lag * FRAME_S:.2f} s after the answer, envelope correlation {score:.3f}")
    assert score > 0.8
