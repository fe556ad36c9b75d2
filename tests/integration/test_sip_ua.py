"""Conformance of the softphone's SIP user agent (pjsua2) against the real Asterisk 22.

Each point of the SIP UA requirement is checked against the PBX, with the dialer's side played
over ARI: digest registration (and a refused password), refreshes, OPTIONS, auto-answering the
nailed-up agent leg, calls to the echo (9196) and milliwatt (9197) extensions, RFC 4733 DTMF,
hold and mute as Asterisk hears them, a call kept up for two minutes, 20 calls in a row without
leaked sockets or threads, re-registration after a (second, isolated) Asterisk restarts, and the
headless scripted agent in its own process. Only agent seats 1015-1020 are used here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dialer.config.settings import REPO_ROOT, Settings, load_settings
from dialer.core.audio import AudioFormat, dominant_frequency, read_wav, rms_dbfs, samples_of
from dialer.core.audio import tone_share as share_at
from dialer.pbx import Backend
from dialer.pbx.chroot import ChrootBackend
from softphone.audio.bridge import AudioBridge
from softphone.audio.check import run_echo_check
from softphone.audio.virtual import VirtualAudioDevice, tone
from softphone.sip.api import (
    AUTO_ANSWER,
    CallMediaChanged,
    CallState,
    CallStateChanged,
    Direction,
    EventQueue,
    MediaState,
    RegistrationChanged,
    RegState,
    SipAccount,
    SipError,
)
from softphone.sip.pjsua2_ua import MAX_ACCOUNTS, PjsuaStack, PjsuaUserAgent
from tests.integration.ari_probe import AriProbe

pytestmark = [pytest.mark.pbx]

FMT = AudioFormat()
AGENT_VOICE_HZ = 697.0


class Agent:
    """A user agent on a virtual sound card whose microphone plays AGENT_VOICE_HZ."""

    def __init__(self, stack: PjsuaStack, settings: Settings, number: int,
                 password: str | None = None, registrar: str | None = None,
                 **account: Any) -> None:
        self.device = VirtualAudioDevice(FMT, tone(AGENT_VOICE_HZ, FMT), keep_seconds=30)
        self.bridge = AudioBridge(self.device, FMT)
        acc = SipAccount(f"agent{number}",
                         password or settings.agents.sip_password(number),
                         registrar or f"{settings.pbx.bind}:{settings.pbx.sip_port}", **account)
        self.ua = PjsuaUserAgent(acc, self.bridge, AUTO_ANSWER, stack=stack)
        self.events = EventQueue()
        self.ua.add_listener(self.events)

    def wait(self, kind: type[Any], timeout: float = 10.0,
             where: Callable[[Any], bool] = lambda _e: True) -> Any:
        return self.events.wait_for(kind, timeout, where)

    async def await_(self, kind: type[Any], timeout: float = 10.0,
                     where: Callable[[Any], bool] = lambda _e: True) -> Any:
        return await asyncio.to_thread(self.events.wait_for, kind, timeout, where)

    def register(self) -> RegistrationChanged:
        self.ua.register()
        ev: RegistrationChanged = self.wait(RegistrationChanged, 10, lambda e: e.code > 0)
        assert ev.state is RegState.REGISTERED, ev.reason
        return ev

    def call_state(self, state: CallState, call: int | None = None,
                   timeout: float = 10.0) -> CallStateChanged:
        ev: CallStateChanged = self.wait(
            CallStateChanged, timeout,
            lambda e: e.state is state and (call is None or e.call == call))
        return ev

    def heard(self) -> Any:
        return samples_of(self.device.captured())


@pytest.fixture(scope="module")
def stack(pbx: Backend) -> PjsuaStack:
    return PjsuaStack.shared(bind="127.0.0.1")   # stopped at the end of the session (conftest)


@pytest.fixture
def agents(stack: PjsuaStack, settings: Settings) -> Iterator[Callable[..., Agent]]:
    made: list[Agent] = []

    def make(number: int, **kw: Any) -> Agent:
        assert 1015 <= number <= 1020, "this suite uses agent seats 1015-1020 only"
        a = Agent(stack, settings, number, **kw)
        made.append(a)
        return a

    yield make
    for a in made:
        a.ua.close()


@pytest_asyncio.fixture(loop_scope="function")
async def ari(pbx: Backend, settings: Settings) -> AsyncIterator[AriProbe]:
    async with AriProbe(settings) as probe:
        yield probe


def contacts(pbx: Backend, aor: str) -> str:
    out = pbx.rx("pbx", f"pjsip show aor {aor}")
    return "\n".join(ln for ln in out.splitlines() if "Contact:" in ln and f"{aor}/" in ln)


async def wait_contact_avail(pbx: Backend, aor: str, tries: int = 100) -> str:
    for _ in range(tries):
        line = contacts(pbx, aor)
        if "Avail" in line:
            return line
        await asyncio.sleep(0.1)
    raise AssertionError(f"{aor} never showed Avail: {contacts(pbx, aor)!r}")


def confirmed(channel: str) -> Callable[[CallStateChanged], bool]:
    """The agent's side of the ARI call `channel` is up (the caller number names the channel)."""
    return lambda e: e.state is CallState.CONFIRMED and channel in e.remote


def middle(samples: Any, rate: int, skip_s: float = 0.3) -> Any:
    """The recording without its first and last `skip_s` (settling after a change)."""
    n = int(rate * skip_s)
    return samples[n:len(samples) - n]


# ---------------------------------------------------------------------------- registration
async def test_registers_with_digest_auth_and_answers_options(
        agents: Callable[..., Agent], pbx: Backend, stack: PjsuaStack) -> None:
    a = agents(1015)
    ev = await asyncio.to_thread(a.register)
    assert ev.code == 200 and ev.expires_s > 0
    # Asterisk qualifies the contact with OPTIONS; "Avail" means our 200 OK came back
    pbx.rx("pbx", "pjsip qualify agent1015")
    line = await wait_contact_avail(pbx, "agent1015")
    assert f"sip:agent1015@127.0.0.1:{stack.local_address[1]}" in line
    assert re.search(r"Avail\s+\d+\.\d+", line), line  # with a round-trip time
    endpoint = pbx.rx("pbx", "pjsip show endpoint agent1015")
    state = re.search(r"Endpoint:\s+agent1015/\S+\s+(\S+(?: \S+)*?)\s{2,}", endpoint)
    assert state is not None and state[1] in ("Not in use", "In use"), endpoint


async def test_wrong_password_is_refused_with_a_clear_error(
        agents: Callable[..., Agent], pbx: Backend) -> None:
    a = agents(1016, password="not-the-password")
    a.ua.register()
    ev = await a.await_(RegistrationChanged, 10, lambda e: e.code > 0)
    assert ev.state is RegState.FAILED and ev.code == 401
    assert "refused the credentials of agent1016" in ev.reason
    assert "wrong user name or password" in ev.reason
    assert a.ua.registration is RegState.FAILED
    assert contacts(pbx, "agent1016") == ""


async def test_registration_is_refreshed_before_it_expires(
        agents: Callable[..., Agent], pbx: Backend) -> None:
    # 60 s registrations (Asterisk's minimum) refreshed 50 s early: every ~10 s
    a = agents(1017, expires_s=60, refresh_margin_s=50)
    await asyncio.to_thread(a.register)
    for _ in range(2):
        ev = await a.await_(RegistrationChanged, 30, lambda e: e.code > 0)
        assert ev.state is RegState.REGISTERED and ev.code == 200
    assert "Avail" in await wait_contact_avail(pbx, "agent1017")


# ---------------------------------------------------------------------------- the agent leg
async def test_auto_answers_the_dialers_call_with_audio_both_ways(
        agents: Callable[..., Agent], ari: AriProbe) -> None:
    a = agents(1015)
    await asyncio.to_thread(a.register)
    channel = await ari.call_agent("PJSIP/agent1015")
    up = await a.await_(CallStateChanged, 10, confirmed(channel))
    assert up.direction is Direction.INBOUND
    media = [e for e in a.events.seen if isinstance(e, CallMediaChanged) and e.call == up.call]
    assert media and media[-1].state is MediaState.ACTIVE and media[-1].codec == "PCMU/8000"

    # what the agent says reaches Asterisk
    rate, heard = await ari.record_heard(channel, 1.5)
    assert dominant_frequency(heard, rate) == pytest.approx(AGENT_VOICE_HZ, abs=3)
    assert rms_dbfs(middle(heard, rate)) > -20

    # what Asterisk plays reaches the agent's speaker
    a.device.clear_capture()
    playback = await ari.play(channel, "tone:1209")
    await asyncio.sleep(1.5)
    await ari.stop_playback(playback)
    assert dominant_frequency(a.heard(), FMT.rate) == pytest.approx(1209, abs=3)

    await ari.hangup(channel)
    await a.await_(CallStateChanged, 10,
                   lambda e: e.call == up.call and e.state is CallState.DISCONNECTED)
    assert a.ua.calls() == {}


async def test_dtmf_reaches_asterisk_as_rfc4733(
        agents: Callable[..., Agent], ari: AriProbe) -> None:
    a = agents(1015)
    await asyncio.to_thread(a.register)
    channel = await ari.call_agent("PJSIP/agent1015")
    up = await a.await_(CallStateChanged, 10, confirmed(channel))
    since = len(ari.events)
    a.ua.send_dtmf(up.call, "159#")
    digits = ""
    for _ in range(4):
        ev = await ari.wait_event("ChannelDtmfReceived", channel, since=since)
        since = ari.events.index(ev) + 1
        digits += ev["digit"]
    assert digits == "159#"


async def test_mute_and_hold_change_what_asterisk_receives(
        agents: Callable[..., Agent], ari: AriProbe) -> None:
    a = agents(1015)
    await asyncio.to_thread(a.register)
    channel = await ari.call_agent("PJSIP/agent1015")
    up = await a.await_(CallStateChanged, 10, confirmed(channel))

    def voice_dbfs(rate: int, samples: Any) -> float:
        s = middle(samples, rate)
        return rms_dbfs(s) if share_at(s, rate, AGENT_VOICE_HZ) > 0.5 else -120.0

    assert voice_dbfs(*await ari.record_heard(channel, 1.5)) > -20

    a.ua.set_mute(True)
    rate, muted = await ari.record_heard(channel, 1.5)
    assert rms_dbfs(middle(muted, rate)) < -60  # silence, still sent (the call stays alive)
    a.ua.set_mute(False)
    assert voice_dbfs(*await ari.record_heard(channel, 1.5)) > -20

    since = len(ari.events)
    a.ua.hold(up.call)
    await ari.wait_event("ChannelHold", channel, since=since)
    await a.await_(CallMediaChanged, 10,
                   lambda e: e.call == up.call and e.state is MediaState.LOCAL_HOLD)
    rate, on_hold = await ari.record_heard(channel, 1.5)
    assert rms_dbfs(middle(on_hold, rate)) < -60

    a.ua.unhold(up.call)
    await ari.wait_event("ChannelUnhold", channel, since=since)
    await a.await_(CallMediaChanged, 10,
                   lambda e: e.call == up.call and e.state is MediaState.ACTIVE)
    assert voice_dbfs(*await ari.record_heard(channel, 1.5)) > -20


# ---------------------------------------------------------------------------- calls out
def test_echo_check_hears_its_bursts_come_back(agents: Callable[..., Agent]) -> None:
    a = agents(1018)
    a.register()
    result = run_echo_check(a.ua, "9196")
    assert result.ok, result.message
    assert (result.bursts_sent, result.bursts_back) == (3, 3)
    assert result.echo_delay_ms is not None and result.echo_delay_ms > 0
    assert result.returned_dbfs > -25 and result.tone_share > 0.8


def test_echo_through_the_device_returns_the_microphone_tone(
        agents: Callable[..., Agent]) -> None:
    a = agents(1018)
    a.register()
    call = a.ua.make_call("9196")
    a.call_state(CallState.CONFIRMED, call)
    a.device.clear_capture()
    threading.Event().wait(2.0)  # let two seconds of echo play
    heard = a.heard()
    a.ua.hangup(call)
    a.call_state(CallState.DISCONNECTED, call)
    assert dominant_frequency(heard, FMT.rate) == pytest.approx(AGENT_VOICE_HZ, abs=3)
    assert share_at(middle(heard, FMT.rate), FMT.rate, AGENT_VOICE_HZ) > 0.8


def test_milliwatt_is_heard_at_1004_hz(agents: Callable[..., Agent]) -> None:
    a = agents(1018)
    a.register()
    call = a.ua.make_call("9197")
    up = a.call_state(CallState.CONFIRMED, call)
    assert up.direction is Direction.OUTBOUND and up.code == 200
    a.device.clear_capture()
    threading.Event().wait(1.5)
    heard = a.heard()
    a.ua.hangup(call)
    a.call_state(CallState.DISCONNECTED, call)
    assert dominant_frequency(heard, FMT.rate) == pytest.approx(1004, abs=3)
    assert rms_dbfs(middle(heard, FMT.rate)) > -10  # milliwatt: about -6 dBFS in G.711


def _udp_sockets() -> set[int]:
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            next(f)
            inodes |= {int(ln.split()[9]) for ln in f if ln.strip()}
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m and int(m[1]) in inodes:
            mine.add(int(m[1]))
    return mine


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_twenty_calls_in_a_row_leak_no_ports_or_threads(agents: Callable[..., Agent]) -> None:
    a = agents(1018)
    a.register()

    def one_call(n: int) -> None:
        call = a.ua.make_call("9197" if n % 2 else "9196")
        a.call_state(CallState.CONFIRMED, call)
        a.ua.hangup(call)
        a.call_state(CallState.DISCONNECTED, call)

    one_call(0)  # the first call creates the account's audio port and the device clock
    while a.bridge.running:
        threading.Event().wait(0.01)
    sockets, threads = _udp_sockets(), _threads()
    for n in range(1, 21):
        one_call(n)
        assert a.ua.calls() == {}
    while a.bridge.running:
        threading.Event().wait(0.01)
    assert _udp_sockets() == sockets
    assert _threads() == threads


@pytest.mark.timeout(240)
def test_a_call_kept_up_for_two_minutes_stays_up(agents: Callable[..., Agent]) -> None:
    """The nailed-up agent leg lasts a whole session: nothing may tear it down (pyVoIP's calls
    died at ~32 s on a bad ACK)."""
    a = agents(1019)
    a.register()
    call = a.ua.make_call("9196")
    a.call_state(CallState.CONFIRMED, call)
    ended = threading.Event()

    def watch(ev: Any) -> None:
        if isinstance(ev, CallStateChanged) and ev.call == call and \
                ev.state is CallState.DISCONNECTED:
            ended.set()

    a.ua.add_listener(watch)
    assert not ended.wait(120.0), "the call ended by itself"
    assert a.ua.calls() == {call: CallState.CONFIRMED}
    a.device.clear_capture()
    threading.Event().wait(1.0)
    assert dominant_frequency(a.heard(), FMT.rate) == pytest.approx(AGENT_VOICE_HZ, abs=3)
    a.ua.hangup(call)
    a.call_state(CallState.DISCONNECTED, call)


async def test_every_agent_a_stack_holds_can_be_on_a_call_at_once(
        agents: Callable[..., Agent], ari: AriProbe, stack: PjsuaStack) -> None:
    """A headless process puts several agents on one stack; each keeps the dialer's agent leg up.
    This PJSIP build handles 4 calls per process (pjsua_call_get_max_count), so a stack takes
    no more agents than that, and says so."""
    team = [agents(n) for n in range(1015, 1015 + MAX_ACCOUNTS)]
    for a in team:
        await asyncio.to_thread(a.register)
    channels = [await ari.call_agent(f"PJSIP/{a.ua.account.user}") for a in team]
    for a, channel in zip(team, channels, strict=True):
        up = await a.await_(CallStateChanged, 10, confirmed(channel))
        assert up.direction is Direction.INBOUND
    assert [len(a.ua.calls()) for a in team] == [1] * MAX_ACCOUNTS
    with pytest.raises(SipError, match=f"at most {MAX_ACCOUNTS} agents"):
        agents(1015 + MAX_ACCOUNTS)
    for channel in channels:
        await ari.hangup(channel)


# ---------------------------------------------------------------------------- PBX restart
@pytest.fixture
def isolated(tmp_path: Path, settings: Settings) -> Iterator[Settings]:
    """A second PBX on other ports with its own runtime directory (as in test_pbx_lifecycle)."""
    text = (REPO_ROOT / "config/opendialer.toml").read_text()
    moves = [("sip_port = 5060", "sip_port = 5260"), ("http_port = 8088", "http_port = 8288"),
             ("rtp_start = 10000", "rtp_start = 12200"), ("rtp_end = 10999", "rtp_end = 12299"),
             ("sip_port = 5080", "sip_port = 5280"), ("rtp_start = 11000", "rtp_start = 12300"),
             ("rtp_end = 11999", "rtp_end = 12399")]
    for old, new in moves:
        assert old in text
        text = text.replace(old, new)
    config = tmp_path / "opendialer.toml"
    config.write_text(text)
    # its own runtime directory, but the test PBX's seat key: the agents' passwords are the same
    second = load_settings({"OPENDIALER_CONFIG": str(config),
                            "OPENDIALER_RUNTIME_DIR": str(tmp_path / "var"),
                            "OPENDIALER_SEAT_KEY": settings.agents.seat_key})
    be = ChrootBackend(second, log=lambda _m: None)
    try:
        be.up()
        yield second
    finally:
        be.down()


@pytest.mark.skipif(os.environ.get("OPENDIALER_PBX_BACKEND") == "docker",
                    reason="restarts a second Docker-less PBX")
@pytest.mark.timeout(240)
async def test_reregisters_by_itself_after_asterisk_restarts(
        agents: Callable[..., Agent], isolated: Settings) -> None:
    be = ChrootBackend(isolated, log=lambda _m: None)
    a = agents(1020, registrar=f"127.0.0.1:{isolated.pbx.sip_port}", expires_s=60,
               refresh_margin_s=50, retry_s=2)
    await asyncio.to_thread(a.register)

    await asyncio.to_thread(be.down)
    # the next refresh goes unanswered: the agent learns it is no longer registered
    lost = await a.await_(RegistrationChanged, 90, lambda e: e.state is RegState.FAILED)
    assert lost.code in (408, 503) and "retrying" in lost.reason

    await asyncio.to_thread(be.up)
    back = await a.await_(RegistrationChanged, 60, lambda e: e.state is RegState.REGISTERED)
    assert back.code == 200

    # the restarted Asterisk reaches the agent: its call is auto-answered
    async with AriProbe(isolated) as ari:
        channel = await ari.call_agent("PJSIP/agent1020")
        up = await a.await_(CallStateChanged, 10, confirmed(channel))
        await ari.hangup(channel)
        await a.await_(CallStateChanged, 10,
                       lambda e: e.call == up.call and e.state is CallState.DISCONNECTED)


# ---------------------------------------------------------------------------- headless mode
def test_headless_call_reports_the_milliwatt_tone_and_echoed_dtmf(stack: PjsuaStack,
                                                                 settings: Settings) -> None:
    from io import StringIO

    from softphone.headless import main

    pbx = ["--registrar", f"{settings.pbx.bind}:{settings.pbx.sip_port}"]
    out = StringIO()
    assert main(["--agent", "1019", *pbx, "--call", "9197", "--talk", "1", "--json"], out) == 0
    out2 = StringIO()
    assert main(["--agent", "1019", *pbx, "--call", "9196", "--dtmf", "42#", "--json"],
                out2) == 0
    reports = [json.loads(ln) for ln in (out.getvalue() + out2.getvalue()).splitlines()]
    tone_report, echo_report = [r for r in reports if r["event"] == "call report"]
    assert tone_report["heard_hz"] == pytest.approx(1004, abs=3)
    assert echo_report["dtmf_back"] == "42#"
    assert echo_report["echo_delay_ms"] > 0


async def test_headless_agents_in_their_own_process_auto_answer_and_record(
        ari: AriProbe, tmp_path: Path, settings: Settings) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "softphone", "--headless", "--agent", "1016-1017",
         "--registrar", f"{settings.pbx.bind}:{settings.pbx.sip_port}",
         "--voice", "tone:440", "--record", str(tmp_path), "--json"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[dict[str, Any]] = []

    async def line_where(pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
            assert raw, f"softphone exited ({proc.poll()}); said {lines}"
            lines.append(json.loads(raw))
            if pred(lines[-1]):
                return lines[-1]

    def said(agent: str, event: str, call: int | None = None,
             remote_has: str = "") -> Callable[[dict[str, Any]], bool]:
        return lambda e: bool(e["agent"] == agent and e["event"] == event
                              and (call is None or e.get("call") == call)
                              and remote_has in e.get("remote", ""))

    try:
        registered: set[str] = set()
        while registered != {"agent1016", "agent1017"}:
            ev = await line_where(lambda e: e["event"] == "registration registered")
            registered.add(ev["agent"])
        for agent in ("agent1016", "agent1017"):
            channel = await ari.call_agent(f"PJSIP/{agent}")
            answered = await line_where(said(agent, "call answered", remote_has=channel))
            rate, heard = await ari.record_heard(channel, 1.0)
            assert dominant_frequency(heard, rate) == pytest.approx(440, abs=3)
            playback = await ari.play(channel, "tone:1004")
            await asyncio.sleep(1.0)
            await ari.stop_playback(playback)
            await ari.hangup(channel)
            ended = await line_where(said(agent, "call ended", call=answered["call"]))
            rate, recorded = read_wav(Path(ended["recording"]))
            assert dominant_frequency(recorded, rate) == pytest.approx(1004, abs=3)
        proc.send_signal(signal.SIGTERM)
        await line_where(lambda e: e["event"] == "stopped")
        assert await asyncio.to_thread(proc.wait, 10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_agent_holds_two_test_calls_at_once_not_three(pbx: Backend,
                                                        agents: Callable[..., Agent]) -> None:
    """Test extensions cost the PBX's ports: a third at once from one agent's phone is busy."""
    phones = [agents(1019) for _ in range(3)]
    for a in phones:
        a.register()                    # (each takes the seat's one contact in turn)
    calls = []
    for a in phones[:2]:
        calls.append(a.ua.make_call("9194"))
        a.call_state(CallState.RINGING, calls[-1])     # 9194 rings and never answers
    third = phones[2].ua.make_call("9194")
    busy = phones[2].call_state(CallState.DISCONNECTED, third)
    assert busy.code == 486, busy
    # Asterisk's logger thread writes the line a moment after the 486 goes out: read until it is
    # there (or 10 s have passed, then say what the log holds)
    line = "security: agent1019 asked for a third test call at once, refused busy"
    deadline = time.monotonic() + 10
    while True:
        log = pbx.log_files()["pbx"].read_text(errors="replace")
        if line in log or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert line in log, log[-2000:]
    for a, call in zip(phones, calls, strict=False):
        a.ua.hangup(call)
        a.call_state(CallState.DISCONNECTED, call)
    again = phones[2].ua.make_call("9197")             # once they end, test calls go through
    phones[2].call_state(CallState.CONFIRMED, again)
    phones[2].ua.hangup(again)
    phones[2].call_state(CallState.DISCONNECTED, again)
