"""The agent window against the real dialer (agent link) and PBX, driven through its widgets only:
login errors, My Campaigns, a progressive call shown in the call panel, the disposition panel, a
preview call (Get record, Skip, Dial) and push preview (Reject, Accept) with callbacks (personal
and campaign, from the date and time picker) read back from the database, and the negotiated logout
in its cases (docs/agent-protocol.md): authorized at once with no call on its way; pending while a
call is on its way that connects in time, then authorized after its disposition; the countdown
running out while the call rings; asked in wrap-up, authorized after the disposition. Each is seen
in the countdown message, My Messages, the status tooltip and the Voice channel.
The voice channel is the softphone's own SIP phone (pjsua2) on a virtual sound card that speaks
a 440 Hz tone and keeps what it plays: the customer's voice must reach the agent's headset, and
the agent's must reach the customer. The window runs offscreen."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QDate, QDateTime, QTime  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402

from dialer.config.settings import Settings  # noqa: E402
from dialer.core.audio import AudioFormat, read_wav, samples_of, tone_share  # noqa: E402
from dialer.core.campaign import CampaignStatus  # noqa: E402
from dialer.db import repository as repo  # noqa: E402
from dialer.db.campaigns import set_campaign_status  # noqa: E402
from dialer.db.exports import callback_rows  # noqa: E402
from dialer.pbx import Backend  # noqa: E402
from dialer.qa.carrier_plan import Behaviour, number_for  # noqa: E402
from softphone.app import AgentApp, phone_port  # noqa: E402
from softphone.audio.bridge import AudioBridge  # noqa: E402
from softphone.audio.virtual import VirtualAudioDevice, tone  # noqa: E402
from softphone.phone import Phone  # noqa: E402
from softphone.sip.api import AUTO_ANSWER, SipAccount  # noqa: E402
from softphone.sip.pjsua2_ua import PjsuaUserAgent  # noqa: E402
from softphone.ui.login_dialog import LoginRequest  # noqa: E402
from softphone.ui.main_window import MainWindow  # noqa: E402
from tests.integration.dialer_env import DialerEnv, dialer_env, password  # noqa: E402
from tests.integration.qt_wait import until  # noqa: E402

pytestmark = pytest.mark.pbx

SEAT = 1014


def _shot(widget: object, name: str) -> None:
    """Save a picture of the window when OPENDIALER_SCREENSHOTS names a folder (to look at)."""
    folder = os.environ.get("OPENDIALER_SCREENSHOTS")
    if folder:
        QApplication.processEvents()        # widgets just added are shown by a queued call
        widget.grab().save(str(Path(folder) / f"{name}.png"))  # type: ignore[attr-defined]


def _login(app: AgentApp, agent: str, pw: str) -> None:
    app.login.agent.setText(agent)
    app.login.password.setText(pw)
    app.login.on_accept()


def _phone_factory(settings: Settings, headset: VirtualAudioDevice, fmt: AudioFormat,
                   phones: list[Phone]) -> Callable[[object], Phone]:
    """The window's own SIP phone, on the virtual headset, with the SIP account the dialer
    handed at login (the dialog's SIP fields are left empty, as an agent leaves them)."""
    def open_phone(req: LoginRequest) -> Phone:
        assert (req.sip_user, req.sip_password) == (f"agent{SEAT}",
                                                    settings.agents.sip_password(SEAT))
        ua = PjsuaUserAgent(SipAccount(req.sip_user, req.sip_password,
                                       f"127.0.0.1:{settings.pbx.sip_port}"),
                            AudioBridge(headset, fmt), AUTO_ANSWER)
        phones.append(Phone(ua))
        ua.register()
        return phones[-1]
    return open_phone


@contextlib.asynccontextmanager
async def _agent_window(settings: Settings, env: DialerEnv) -> AsyncIterator[MainWindow]:
    """agent1014 logged in through the login dialog, its voice channel connected; closed after."""
    fmt = AudioFormat(rate=16000)
    phones: list[Phone] = []
    app = AgentApp(phone_factory=_phone_factory(
        settings, VirtualAudioDevice(fmt, tone(440, fmt)), fmt, phones), dialer_url=env.url,
        port_probe=phone_port)
    app.login.show()
    try:
        _login(app, f"agent{SEAT}", password(SEAT))
        await until(lambda: app.window is not None and app.window.isVisible(), 10, "window")
        w = app.window
        assert w is not None
        await until(lambda: w.channels.state.text() == "connected", 15, "voice channel")
        yield w
    finally:
        app.link.close()
        if app.window is not None:
            app.window.close()
        for phone in phones:
            phone.close()


def _call_record(w: MainWindow) -> dict[str, str]:
    """The customer record in the call panel, field -> value."""
    table = w.call.record
    cells = [(table.item(i, 0), table.item(i, 1)) for i in range(table.rowCount())]
    return {k.text(): v.text() for k, v in cells if k is not None and v is not None}


def _status(w: MainWindow) -> str:
    """The first line of the status icon's tooltip, e.g. 'Status: Ready'."""
    return str(w.status_icon.toolTip()).split("\n")[0]


def _seconds_left(text: str) -> int:
    """The seconds of the last countdown in a text ('... 1 min 05 s' -> 65, '... 3 s' -> 3)."""
    m = re.search(r"(?:(\d+) min )?(\d+) s$", text.strip())
    assert m, f"no countdown in {text!r}"
    return int(m.group(1) or 0) * 60 + int(m.group(2))


async def _dispose_with_callback(w: MainWindow, day: QDate, at: QTime, personal: bool) -> datetime:
    """Pick 'Call back' with a callback at `day` `at` (local time) in the disposition panel and
    save it; returns that time, in UTC, as the dialer must store it."""
    await until(lambda: w.disposition.isEnabled(), 15, "the disposition panel")
    panel = w.disposition
    assert [panel.codes.itemData(i) for i in range(panel.codes.count())] == ["SALE", "CALLBACK"]
    assert not panel.when.isEnabled()
    panel.codes.setCurrentIndex(panel.codes.findData("CALLBACK"))
    panel.note.setText("call back later")
    panel.callback.click()
    assert panel.when.isEnabled() and panel.personal.isEnabled()
    panel.when.setDateTime(QDateTime(day, at))
    assert panel.when.text() == f"{day.toString('yyyy-MM-dd')} {at.toString('HH:mm')}"
    (panel.personal if personal else panel.campaign).click()
    _shot(w, "wrap-up-callback")
    panel.save.click()
    await until(lambda: not w.disposition.isEnabled(), 5, "the disposition saved")
    local = datetime.combine(day.toPyDate(), time(at.hour(), at.minute()))
    return local.astimezone(UTC)


def _callbacks(env: DialerEnv) -> list[dict[str, object]]:
    """The campaign's callbacks as stored, with their due time read back as an aware UTC time."""
    rows = callback_rows(env.db, env.campaign_id)
    for r in rows:
        due = datetime.fromisoformat(str(r["due_at"]))
        r["due_at"] = due if due.tzinfo else due.replace(tzinfo=UTC)
    return rows


async def test_agent_window_call_disposition_and_negotiated_logout(
        qapp: QApplication, pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 3, 2, tag=8, area_code="602")]
    fmt = AudioFormat(rate=16000)
    headset = VirtualAudioDevice(fmt, tone(440, fmt))
    phones: list[Phone] = []
    async with dialer_env(settings, tmp_path, [SEAT], numbers, logout_delay="30s",
                          phones=False) as env:
        app = AgentApp(phone_factory=_phone_factory(settings, headset, fmt, phones),
                       dialer_url=env.url, port_probe=phone_port)
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
        # the wrong password was the login dialog's to say, not a message of the session
        assert not any("password" in line for line in w.messages.lines())

        w.ready_action.trigger()
        await until(lambda: _status(w) == "Status: Ready (call coming)", 10, "reserved")
        w.logout_action.trigger()                   # negotiated logout from the menu
        await until(lambda: w.countdown.isVisible(), 5, "the countdown message")
        assert "Time remaining:" in w.countdown.text.text()
        assert " s" in w.countdown.text.text()
        assert "Logout pending:" in w.status_icon.toolTip()
        assert w.channels.state.text() == "connected - logout pending"
        _shot(w, "logout-pending")
        _shot(w.countdown, "countdown")
        w.countdown.hide()                          # dismissed: still in the tooltip/messages
        assert any("Awaiting logoff authorization:" in line for line in w.messages.lines())

        await until(lambda: w.call.number.text() == numbers[0], 15, "the call panel")
        headset.clear_capture()
        # connected in time: the countdown stops, logoff follows the disposition
        assert w.status_icon.toolTip().endswith("Logout pending: after this call's disposition")
        assert w.messages.lines()[-1].endswith("Logoff after this call's disposition")
        assert _call_record(w) == {"Name": "Customer 0"}
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


async def test_preview_skip_dial_and_a_personal_callback(
        qapp: QApplication, pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 1, 2, tag=t, area_code="602") for t in (1, 2)]
    async with dialer_env(settings, tmp_path, [SEAT], numbers, mode="preview",
                          phones=False) as env:
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        await env.refreshed()
        async with _agent_window(settings, env) as w:
            # started before the login: in My Campaigns and said in My Messages
            await until(lambda: w.campaigns.rows() == [("it", "preview", "Started")], 5,
                        "My Campaigns")
            assert any("Campaign it has started" in line for line in w.messages.lines())
            assert not w.preview.get.isEnabled()            # not ready yet
            w.ready_action.trigger()
            await until(lambda: w.preview.get.isEnabled(), 5, "Get record")
            w.preview.get.click()
            await until(lambda: w.preview.record().get("Name") == "Customer 0", 5, "a record")
            assert w.preview.record() == {"Number": numbers[0], "Name": "Customer 0",
                                          "Attempts": "0"}
            assert w.preview.title() == "Preview (it)"
            assert (w.preview.dial_button.text(), w.preview.skip_button.text()) == ("Dial",
                                                                                    "Skip")
            _shot(w, "preview")
            w.preview.skip_button.click()                   # the next record, at once
            await until(lambda: w.preview.record().get("Name") == "Customer 1", 5,
                        "the next record")
            assert w.preview.record()["Number"] == numbers[1]
            w.preview.dial_button.click()
            await until(lambda: w.call.number.text() == numbers[1], 15, "the call panel")
            assert _call_record(w) == {"Name": "Customer 1"}
            assert w.preview.record() == {} and w.call.hang.isEnabled()
            tomorrow = QDate.currentDate().addDays(1)
            due = await _dispose_with_callback(w, tomorrow, QTime(10, 30), personal=True)
        s = repo.campaign_summary(env.db, env.campaign_id)
        assert (s.attempts, s.connected, s.dispositions) == (1, 1, {"CALLBACK": 1})
        [cb] = _callbacks(env)
        assert (cb["kind"], cb["agent"], cb["number"], cb["due_at"], cb["done"]) == (
            "personal", f"agent{SEAT}", numbers[1], due, "no")


async def test_push_preview_reject_accept_and_a_campaign_callback_then_logout_in_wrap_up(
        qapp: QApplication, pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 1, 2, tag=t, area_code="602") for t in (3, 4)]
    async with dialer_env(settings, tmp_path, [SEAT], numbers, mode="push_preview",
                          phones=False) as env:
        set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
        await env.refreshed()
        async with _agent_window(settings, env) as w:
            w.ready_action.trigger()
            await until(lambda: w.preview.record().get("Number") in numbers, 10, "a push offer")
            assert w.preview.title() == "Push preview: a record for you (it)"
            assert (w.preview.dial_button.text(), w.preview.skip_button.text()) == ("Accept",
                                                                                    "Reject")
            assert not w.preview.get.isEnabled()
            _shot(w, "push-preview")
            first = w.preview.record()["Number"]
            w.preview.skip_button.click()                   # Reject: the dialer offers another
            await until(lambda: w.preview.record().get("Number") not in (None, first), 10,
                        "the next offer")
            second = w.preview.record()["Number"]
            w.dial_action.trigger()                         # Ctrl+D: Accept
            await until(lambda: w.call.number.text() == second, 15, "the call panel")
            # logout in wrap-up: no countdown, logged off once the disposition is saved
            await until(lambda: w.disposition.isEnabled(), 15, "the disposition panel")
            w.channels.logout.click()
            await until(lambda: w.countdown.isVisible(), 5, "the logout message")
            assert w.countdown.text.text().endswith("after this call's disposition.")
            assert w.status_icon.toolTip() == ("Status: Wrap-up\n"
                                               "Logout pending: after this call's disposition")
            assert w.messages.lines()[-1].endswith("Logoff after this call's disposition")
            assert w.channels.state.text() == "connected - logout pending"
            in_two_days = QDate.currentDate().addDays(2)
            due = await _dispose_with_callback(w, in_two_days, QTime(16, 45), personal=False)
            await until(lambda: "Logoff authorized" in w.status_icon.toolTip(), 5,
                        "the confirmation")
            assert w.countdown.text.text() == "Logoff authorized."
            assert w.messages.lines()[-1].endswith("Logoff authorized. You are logged out.")
            assert w.channels.state.text() == "disconnected"
        s = repo.campaign_summary(env.db, env.campaign_id)
        assert (s.attempts, s.connected, s.dispositions) == (1, 1, {"CALLBACK": 1})
        [cb] = _callbacks(env)
        assert (cb["kind"], cb["agent"], cb["number"], cb["due_at"], cb["done"]) == (
            "campaign", "", second, due, "no")


async def test_logout_with_no_call_on_its_way_is_authorized_at_once(
        qapp: QApplication, pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    async with dialer_env(settings, tmp_path, [SEAT], [number_for(Behaviour.ANSWER, 1, 2)],
                          mode="preview", phones=False) as env:
        async with _agent_window(settings, env) as w:
            w.ready_action.trigger()
            await until(lambda: _status(w) == "Status: Ready", 5, "ready")
            w.channels.logout.click()                       # Logout from the Voice channel
            await until(lambda: "Logoff authorized" in w.status_icon.toolTip(), 5,
                        "the confirmation")
            assert w.status_icon.toolTip() == "Status: Logged out\nLogoff authorized"
            assert w.messages.lines()[-1].endswith("Logoff authorized. You are logged out.")
            assert not any("Awaiting logoff" in line for line in w.messages.lines())
            assert not w.countdown.isVisible()              # no countdown: nothing to wait for
            assert w.channels.state.text() == "disconnected"
            assert not w.channels.logout.isEnabled() and not w.ready_action.isEnabled()


async def test_logout_countdown_runs_out_while_the_call_rings(
        qapp: QApplication, pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    number = number_for(Behaviour.ANSWER, 5, 0, tag=9, area_code="602")
    async with dialer_env(settings, tmp_path, [SEAT], [number], logout_delay="3s",
                          phones=False) as env:
        async with _agent_window(settings, env) as w:
            w.ready_action.trigger()
            await until(lambda: _status(w) == "Status: Ready", 5, "ready")
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            await until(lambda: _status(w) == "Status: Ready (call coming)", 10, "reserved")
            w.logout_action.trigger()
            await until(lambda: w.countdown.isVisible(), 5, "the countdown message")
            text = w.countdown.text.text()
            assert text.startswith("You are awaiting logoff authorization.\nTime remaining: ")
            left = _seconds_left(text)
            assert 1 <= left <= 3
            assert _status(w) == "Status: Logout pending"
            assert re.fullmatch(r"Logout pending: \d s until logoff authorization",
                                w.status_icon.toolTip().split("\n")[1])
            assert re.search(r"Awaiting logoff authorization: \d s$", w.messages.lines()[-1])
            assert w.channels.state.text() == "connected - logout pending"
            assert not w.logout_action.isEnabled() and not w.channels.logout.isEnabled()
            await until(lambda: _seconds_left(w.countdown.text.text()) < left, 3,
                        "the countdown to count down")
            await until(lambda: "Logoff authorized" in w.status_icon.toolTip(), 5,
                        "the confirmation")
            # the deadline passed: logged off without the call, confirmed in all three places
            assert w.countdown.isVisible() and w.countdown.text.text() == "Logoff authorized."
            assert w.status_icon.toolTip() == "Status: Logged out\nLogoff authorized"
            assert w.messages.lines()[-2].endswith("Awaiting logoff authorization")
            assert w.messages.lines()[-1].endswith("Logoff authorized. You are logged out.")
            assert w.channels.state.text() == "disconnected"
            assert w.call.number.text() == "No call" and not w.disposition.isEnabled()
            assert w.campaigns.rows() == []
        # nobody else is free: the customer who answers is abandoned with the message
        s = await env.settled()
        assert (s.attempts, s.connected, s.abandoned) == (1, 0, 1)
