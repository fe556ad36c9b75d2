"""The pre-shift headset check, run from the agent window's Audio menu against the real PBX echo
extension (9196): the softphone's own SIP phone (pjsua2, seat agent1018 only) on a virtual sound
card. A microphone that speaks passes (and the beeps are played in the earpiece); a silent
microphone gets the failure said in plain words. The window runs offscreen; no dialer runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtWidgets import QAction  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from dialer.config.settings import Settings  # noqa: E402
from dialer.core.audio import AudioFormat, samples_of, tone_share  # noqa: E402
from dialer.pbx import Backend  # noqa: E402
from softphone.audio.bridge import AudioBridge  # noqa: E402
from softphone.audio.virtual import Silence, VirtualAudioDevice, tone  # noqa: E402
from softphone.link import AgentLink  # noqa: E402
from softphone.phone import Phone  # noqa: E402
from softphone.sip.api import AUTO_ANSWER, RegState, SipAccount  # noqa: E402
from softphone.sip.pjsua2_ua import PjsuaStack, PjsuaUserAgent  # noqa: E402
from softphone.ui.audio_menu import install_audio_menu  # noqa: E402
from softphone.ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.pbx

SEAT = 1018
FMT = AudioFormat()


@pytest.fixture(scope="module")
def stack(pbx: Backend) -> PjsuaStack:
    return PjsuaStack.shared(bind="127.0.0.1")   # stopped at the end of the session (conftest)


def test_headset_check_from_the_window_passes_then_says_the_microphone_is_silent(
        qtbot: QtBot, stack: PjsuaStack, settings: Settings, tmp_path: Path) -> None:
    headset = VirtualAudioDevice(FMT, tone(440, FMT), keep_seconds=60)   # the agent "speaks"
    ua = PjsuaUserAgent(SipAccount(f"agent{SEAT}", settings.agents.sip_password(SEAT),
                                   f"{settings.pbx.bind}:{settings.pbx.sip_port}"),
                        AudioBridge(headset, FMT), AUTO_ANSWER, stack=stack)
    phone = Phone(ua)
    try:
        ua.register()
        window = MainWindow(AgentLink())
        qtbot.addWidget(window)
        menu = install_audio_menu(window, phone, tmp_path / "softphone-audio.json")
        assert menu is not None
        window.show()
        qtbot.waitUntil(lambda: ua.registration is RegState.REGISTERED, timeout=10_000)

        bar = window.menuBar()
        assert bar is not None
        audio_menu = bar.actions()[-1].menu()
        assert audio_menu is not None and audio_menu.title() == "A&udio"
        action = window.findChild(QAction, "menuHeadsetCheck")
        assert action is not None and action in audio_menu.actions()
        action.trigger()
        dialog = menu.check
        assert dialog.isVisible()

        # a working headset: the beeps come back and play, the "voice" goes out and comes back
        progress: list[str] = []
        menu.control.check_progress.connect(progress.append)
        headset.clear_capture()
        dialog.start.click()
        assert dialog.status.text() == "Calling the echo test..."
        qtbot.waitUntil(lambda: dialog.start.isEnabled(), timeout=30_000)
        assert dialog.status.text() == "Your headset works both ways.", dialog.details.toPlainText()
        details = dialog.details.toPlainText()
        assert "Line to the PBX: works (3/3 beeps came back" in details
        assert "Earpiece (output: system default): played the three beeps" in details
        assert "Microphone (input: system default): works" in details
        assert progress == ["beeps", "voice", "done"], progress
        played = samples_of(headset.captured())
        chunks = [played[i:i + FMT.rate // 10] for i in range(0, len(played), FMT.rate // 10)]
        beeps = sum(tone_share(c, FMT.rate, 697) > 0.7 for c in chunks)
        voice = sum(tone_share(c, FMT.rate, 440) > 0.7 for c in chunks)
        assert beeps >= 3 and voice >= 20, (beeps, voice)   # both played in the earpiece

        # a silent microphone: said plainly, and the rest still reported as working
        headset.set_signal(Silence(FMT))
        dialog.start.click()
        qtbot.waitUntil(lambda: dialog.start.isEnabled(), timeout=30_000)
        assert dialog.status.text() == ("Your headset does not work both ways: the microphone "
                                        "failed."), dialog.details.toPlainText()
        details = dialog.details.toPlainText()
        assert "Microphone (input: system default): silent, it picked up nothing" in details
        assert "Line to the PBX: works" in details
        assert ua.calls() == {}
    finally:
        phone.close()
