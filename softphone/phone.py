"""The agent window's SIP phone: the project's user agent (softphone.sip) on the headset
(softphone.audio), re-posted to Qt's thread.

`Phone` registers the agent's SIP account, auto-answers the dialer's voice-channel call, and
carries out the call panel's mute, hold and keypad on that call. The user agent's events arrive on
its own thread; `Phone` re-emits them as Qt signals:

    registration(str, str)   state (registered/failed/...), reason
    call_state(str)          the voice channel's call state (confirmed, disconnected, ...)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PyQt5.QtCore import QObject, pyqtSignal

from softphone.sip.api import (
    AUTO_ANSWER,
    CallStateChanged,
    RegistrationChanged,
    SipAccount,
    UaEvent,
)

if TYPE_CHECKING:
    from softphone.sip.pjsua2_ua import PjsuaStack


class Phone(QObject):
    registration = pyqtSignal(str, str)
    call_state = pyqtSignal(str)
    _event = pyqtSignal(object)

    def __init__(self, ua: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ua = ua
        self.call: int | None = None
        self._event.connect(self.on_event)          # queued: runs on Qt's thread
        ua.add_listener(self._event.emit)

    @classmethod
    def open(cls, user: str, password: str, registrar: str, transport: str = "udp",
             ca_file: str = "") -> Phone:
        """A phone on the system's sound devices (the ones remembered, else the defaults).

        The headset's clock ticks the SIP stack's conference (one clock instead of two: ~25 ms
        less delay, docs/sip-ua.md); this process has one agent, so one headset drives it."""
        from softphone.audio.bridge import AudioBridge
        from softphone.audio.sd_device import SounddeviceAudio
        from softphone.audio.steady import steady_interpreter
        from softphone.sip.pjsua2_ua import PjsuaUserAgent

        host, _, port = registrar.partition(":")
        stack = agent_stack(host, int(port or 5060))
        ua = PjsuaUserAgent(SipAccount(user, password, registrar, transport=transport,
                                       ca_file=ca_file),
                            AudioBridge(SounddeviceAudio()), AUTO_ANSWER, stack=stack)
        phone = cls(ua)
        ua.register()
        steady_interpreter()        # the window and the stack are up: keep their objects still
        return phone

    def on_event(self, ev: UaEvent) -> None:
        if isinstance(ev, RegistrationChanged):
            self.registration.emit(ev.state.value, ev.reason)
        elif isinstance(ev, CallStateChanged):
            if ev.state.value == "disconnected":
                if self.call == ev.call:
                    self.call = None
            else:
                self.call = ev.call
            self.call_state.emit(ev.state.value)

    def set_mute(self, muted: bool) -> None:
        self.ua.set_mute(muted)

    def set_hold(self, held: bool) -> None:
        if self.call is not None:
            (self.ua.hold if held else self.ua.unhold)(self.call)

    def send_digit(self, digit: str) -> None:
        if self.call is not None:
            self.ua.send_dtmf(self.call, digit)

    def close(self) -> None:
        self.ua.close()


def agent_stack(host: str, port: int) -> PjsuaStack:
    """The agent window's SIP stack (the process's one), bound towards the PBX at `host:port`,
    its conference ticked by the headset's clock. Whoever asks first starts it: the login's port
    probe (`softphone.app.phone_port`) does, before the phone opens, so both ask here; a stack
    started without the device clock would run the GUI phone on two clocks (docs/sip-ua.md)."""
    from softphone.sip.pjsua2_ua import PjsuaStack, local_address_towards

    return PjsuaStack.shared(bind=local_address_towards(host, port), device_clock=True)

