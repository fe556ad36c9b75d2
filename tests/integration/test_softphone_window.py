"""The agent window against the real dialer (agent link) and PBX: login errors, My Campaigns,
a progressive call shown in the call panel, the disposition panel, and the negotiated logout with
its countdown in the message, My Messages and the status tooltip, then the confirmation.
The voice channel is the softphone's own SIP phone (pjsua2) on a virtual sound card that speaks
a 440 Hz tone and keeps what it plays: the customer's voice must reach the agent's headset, and
the agent's must reach the customer. The window runs offscreen."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtWidgets import QApplication  # noqa: E402

from dialer.audio import read_wav, tone_share  # noqa: E402
from dialer.carrier_plan import Behaviour, number_for  # noqa: E402
from dialer.core.campaign import CampaignStatus  # noqa: E402
from dialer.db import repository as repo  # noqa: E402
from dialer.db.campaigns import set_campaign_status  # noqa: E402
from dialer.pbx import Backend  # noqa: E402
from dialer.settings import Settings  # noqa: E402
from softphone.app import AgentApp  # noqa: E402
from softphone.audio.bridge import AudioBridge  # noqa: E402
from softphone.audio.pcm import AudioFormat, samples_of  # noqa: E402
from softphone.audio.virtual import VirtualAudioDevice, tone  # noqa: E402
from softphone.phone import Phone  # noqa: E402
from softphone.sip.api import AUTO_ANSWER, SipAccount  # noqa: E402
from softphone.sip.pjsua2_ua import PjsuaUserAgent  # noqa: E402
from tests.integration.dialer_env import dialer_env, password  # noqa: E402

pytestmark = pytest.mark.pbx


async def until(check: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Run Qt's and asyncio's loops together until `check()` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        QApplication.processEvents()
        await asyncio.sleep(0.02)


def _shot(widget: object, name: str) -> None:
    """Save a picture of the window when OPENDIALER_SCREENSHOTS names a folder (to look at)."""
    folder = os.environ.get("OPENDIALER_SCREENSHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / f"{name}.png"))  # type: ignore[attr-defined]


def _login(app: AgentApp, agent: str, pw: str) -> None:
    app.login.agent.setText(agent)
    app.login.password.setText(pw)
    app.login.on_accept()


async def test_agent_window_call_disposition_and_negotiated_logout(
        qapp: QApplication, pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 3, 2, tag=8, area_code="602")]
    fmt = AudioFormat(rate=16000)
    headset = VirtualAudioDevice(fmt, tone(440, fmt))
    phones: list[Phone] = []

    def open_phone(req: object) -> Phone:
        ua = PjsuaUserAgent(SipAccount("agent1014", settings.agents.sip_password(1014),
                                       f"127.0.0.1:{settings.pbx.sip_port}"),
                            AudioBridge(headset, fmt), AUTO_ANSWER)
        phones.append(Phone(ua))
        ua.register()
        return phones[-1]

    async with dialer_env(settings, tmp_path, [1014], numbers, logout_delay="30s",
                          phones=False) as env:
        app = AgentApp(phone_factory=open_phone, dialer_url=env.url)
        app.login.show()
        _login(app, "agent1014", "wrong password")
        await until(lambda: app.login.error.isVisible(), 15, "the login error")
        assert app.login.error.text() == "Wrong agent name or password."
        _login(app, "agent1014", password(1014))
        await until(lambda: app.window is not None and app.window.isVisible(), 10, "window")
        w = app.window
        assert w is not None
        await until(lambda: w.channels.state.text() == "connected", 15, "voice channel")
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        await until(lambda: w.campaigns.rows() == [("it", "progressive", "Started")], 5,
                    "My Campaigns")
        assert any("Campaign it has started" in line for line in w.messages.lines())

        w.ready_action.trigger()
        await until(lambda: app.link.model.status.value == "reserved", 10, "reserved")
        w.logout_action.trigger()                   # negotiated logout from the menu
        await until(lambda: w.countdown.isVisible(), 5, "the countdown message")
        assert "Time remaining:" in w.countdown.text.text()
        assert " s" in w.countdown.text.text()
        assert "Logout pending:" in w.status_icon.toolTip()
        _shot(w, "logout-pending")
        _shot(w.countdown, "countdown")
        w.countdown.hide()                          # dismissed: still in the tooltip/messages
        assert any("Awaiting logoff authorization:" in line for line in w.messages.lines())

        await until(lambda: w.call.number.text() == numbers[0], 15, "the call panel")
        headset.clear_capture()
        assert w.call.record.item(0, 1).text() == "Customer 0"
        _shot(w, "on-call")
        await until(lambda: w.disposition.isEnabled(), 15, "the disposition panel")
        heard = samples_of(headset.captured())
        assert w.disposition.codes.count() == 2
        assert not any("Logoff authorized" in line for line in w.messages.lines())
        w.disposition.codes.setCurrentIndex(0)
        w.disposition.note.setText("spoke to the customer")
        w.dispose_action.trigger()              # Ctrl+S
        await until(lambda: "Logoff authorized" in w.status_icon.toolTip(), 10,
                    "the confirmation")
        assert any("Logoff authorized" in line for line in w.messages.lines())
        _shot(w, "logged-off")
        assert w.channels.state.text() == "disconnected"
        s = repo.campaign_summary(env.db, env.campaign_id)
        assert s.dispositions == {"SALE": 1} and s.connected == 1
        app.link.close()
        w.close()
        for phone in phones:
            phone.close()
    # the customer's voice (hello, then 1004 Hz) reached the agent's headset ...
    assert len(heard) > fmt.rate
    assert tone_share(heard, fmt.rate, 1004) > 0.2
    # ... and the agent's voice (440 Hz) reached the customer
    calls = settings.runtime_dir / "state/carrier/spool/calls"
    customer = sorted(calls.glob(f"{numbers[0]}-*-heard.wav"), key=lambda p: p.stat().st_mtime)
    rate, samples = read_wav(customer[-1])
    assert tone_share(samples, rate, 440) > 0.5
