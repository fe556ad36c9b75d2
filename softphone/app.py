"""The agent desktop: login dialog, then the main window, over one `AgentLink`.

The SIP phone (softphone.sip) registers with the seat's SIP account, which the dialer hands over
the authenticated link at login (or with one typed in the dialog, for another PBX), and
auto-answers the dialer's voice-channel call; the window's mute, hold and keypad drive it. The
login names the phone's SIP port, so the dialer calls this phone and no other.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import Any

from PyQt5.QtWidgets import QApplication

from dialer import protocol as p
from softphone.link import AgentLink
from softphone.ui.audio_menu import install_audio_menu
from softphone.ui.login_dialog import LoginDialog, LoginRequest
from softphone.ui.main_window import MainWindow


class AgentApp:
    """Owns the link, the login dialog and the main window; `phone` is optional (tests)."""

    def __init__(self, phone_factory: Any = None, dialer_url: str | None = None,
                 port_probe: Any = None) -> None:
        self.link = AgentLink()
        self.port_probe = port_probe      # LoginRequest -> the SIP port the phone will use
        self.login = LoginDialog(**({"dialer_url": dialer_url} if dialer_url else {}))
        self.window: MainWindow | None = None
        self.phone_factory = phone_factory
        self.phone: Any = None
        self._request: LoginRequest | None = None
        self.login.submitted.connect(self.on_submitted)
        self.link.opened.connect(self.on_opened)
        self.link.closed.connect(self.on_closed)
        self.link.message.connect(self.on_message)

    def on_submitted(self, req: LoginRequest) -> None:
        self._request = req
        if self.phone_factory is not None and self.phone is None and req.sip_password:
            if not self._open_phone(req):
                return
        if self.link.is_open():
            self._send_login(req)
        else:
            self.link.open(req.dialer_url)

    def _open_phone(self, req: LoginRequest) -> bool:
        try:
            self.phone = self.phone_factory(req)
        except Exception as exc:   # say it plainly in the dialog
            self.login.show_error(f"Your SIP phone could not register: {exc}")
            return False
        return True

    def _send_login(self, req: LoginRequest) -> None:
        sip_port = tls_port = None
        if self.phone_factory is not None and self.port_probe is not None:
            try:
                ports = self.port_probe(req)
            except Exception as exc:
                self.login.show_error(f"Your SIP phone cannot start: {exc}")
                return
            sip_port, tls_port = ports if isinstance(ports, tuple) else (ports, None)
        self.link.login(req.agent, req.password, sip_port, tls_port)

    def on_opened(self) -> None:
        if self._request is not None:
            self._send_login(self._request)

    def on_closed(self, reason: str) -> None:
        if self.window is None:
            url = self._request.dialer_url if self._request else "the dialer"
            self.login.show_error(f"Cannot reach the dialer at {url}: {reason}")

    def on_message(self, msg: p.ServerMessage) -> None:
        if isinstance(msg, p.Error) and self.window is None and msg.re:
            text = ("Wrong agent name or password." if msg.code is p.ErrorCode.BAD_CREDENTIALS
                    else msg.message or "Login failed.")
            self.login.show_error(text)
        elif isinstance(msg, p.LoginOk):
            req = self._request
            if self.phone_factory is not None and self.phone is None and req is not None:
                if msg.sip is None:
                    self.login.show_error("The dialer has no SIP account for this agent's "
                                          "phone: type the SIP account and password.")
                    return
                if not self._open_phone(with_account(req, msg.sip)):
                    return
            self.login.hide()
            if self.window is None:
                self.window = MainWindow(self.link)
                self._wire_phone(self.window)
            self.window.show()

    def _wire_phone(self, window: MainWindow) -> None:
        phone = self.phone
        if phone is None:
            return
        window.call.mute_toggled.connect(phone.set_mute)
        window.call.hold_toggled.connect(phone.set_hold)
        window.call.digit.connect(phone.send_digit)
        phone.registration.connect(
            lambda state, reason: window.statusBar().showMessage(
                f"SIP phone: {state}" + (f" ({reason})" if reason else ""), 8000))
        install_audio_menu(window, phone)   # Audio menu: audio settings, headset check


def with_account(req: LoginRequest, sip: dict[str, Any]) -> LoginRequest:
    """`req` with the seat's SIP account from `login_ok.sip`: user, password, and with TLS the
    transport and the PBX's TLS port (at the SIP server's host)."""
    transport = str(sip.get("transport", "udp"))
    server = req.sip_server
    if transport == "tls" and isinstance(sip.get("port"), int):
        server = f"{server.rpartition(':')[0] or server}:{sip['port']}"
    return replace(req, sip_user=str(sip["user"]), sip_password=str(sip["password"]),
                   sip_server=server, sip_transport=transport)


def open_phone(req: LoginRequest) -> Any:
    from softphone.phone import Phone

    return Phone.open(req.sip_user, req.sip_password, req.sip_server, req.sip_transport,
                      os.environ.get("OPENDIALER_CA_FILE", ""))


def phone_port(req: LoginRequest) -> tuple[int, int | None]:
    """The ports the SIP stack takes SIP on: UDP, and TLS when this softphone has the PBX's CA
    (OPENDIALER_CA_FILE, `--ca`) to verify it with (the stack starts here if it has not yet)."""
    from softphone.phone import agent_stack

    host, _, port = req.sip_server.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"the SIP server must be HOST:PORT, got {req.sip_server!r}")
    stack = agent_stack(host, int(port))
    ca = os.environ.get("OPENDIALER_CA_FILE", "")
    tls = stack.tls_transport(ca).port if ca else None
    return int(stack.local_address[1]), tls


def main(argv: list[str] | None = None) -> int:
    """`softphone [--dialer ws://...] [--no-phone]`: the agent window."""
    import argparse

    parser = argparse.ArgumentParser(prog="softphone", description="the agent desktop")
    parser.add_argument("--dialer", help="the dialer's agent link, e.g. ws://127.0.0.1:8765/agent")
    parser.add_argument("--ca", metavar="FILE",
                        help="trust a wss:// dialer, and a PBX taking SIP over TLS, whose "
                        "certificate chains to FILE (env OPENDIALER_CA_FILE; e.g. the dialer's "
                        "development certificate)")
    parser.add_argument("--no-phone", action="store_true",
                        help="no SIP phone in this window (use a desk phone or another softphone)")
    args = parser.parse_args(argv)
    if args.ca:
        os.environ["OPENDIALER_CA_FILE"] = args.ca
    app = QApplication(sys.argv[:1])
    agent_app = AgentApp(phone_factory=None if args.no_phone else open_phone,
                         dialer_url=args.dialer, port_probe=None if args.no_phone else phone_port)
    agent_app.login.show()
    code = app.exec_()
    if agent_app.phone is not None:
        agent_app.phone.close()
        from softphone.sip.pjsua2_ua import PjsuaStack

        stack = PjsuaStack.current()     # its thread left running can crash the exit
        if stack is not None:
            stack.shutdown()
    return int(code)
