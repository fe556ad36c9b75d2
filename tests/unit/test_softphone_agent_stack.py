"""The agent window's SIP stack is started once, by whichever asks first (the login's port probe
runs before the phone opens): both must start it with the headset's clock, or the GUI phone runs
on two clocks (docs/sip-ua.md). Wiring only: the stack itself is stood in for."""

from __future__ import annotations

from typing import Any

import pytest

from softphone.sip import pjsua2_ua
from softphone.ui.login_dialog import LoginRequest


class _Stack:
    local_address = ("127.0.0.1", 40123)

    def tls_transport(self, ca: str) -> Any:
        return type("Listener", (), {"port": 40124})()


def test_the_login_port_probe_starts_the_stack_with_the_headsets_clock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from softphone.app import phone_port

    asked: list[dict[str, Any]] = []

    def shared(**kwargs: Any) -> _Stack:
        asked.append(kwargs)
        return _Stack()

    monkeypatch.setattr(pjsua2_ua.PjsuaStack, "shared", staticmethod(shared))
    monkeypatch.delenv("OPENDIALER_CA_FILE", raising=False)
    req = LoginRequest("agent1001", "pw", "ws://127.0.0.1:8765/agent", "", "", "127.0.0.1:5060")
    assert phone_port(req) == (40123, None)
    monkeypatch.setenv("OPENDIALER_CA_FILE", "/tmp/ca.pem")
    assert phone_port(req) == (40123, 40124)
    assert [a["device_clock"] for a in asked] == [True, True]
    assert all(a["bind"] == "127.0.0.1" for a in asked)
