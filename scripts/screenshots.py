"""Screenshots of the agent window in each state, on a real X server (Xvfb), to look at.

    .venv/bin/python scripts/screenshots.py [--out DIR] [--display :N]

Starts Xvfb (Debian package `xvfb`, installed by scripts/setup) on a free display, unless
`--display` names a running X server, and runs the real agent desktop there
(`softphone.app.AgentApp` with the xcb platform: the login dialog, then the main window). No dialer,
PBX or SIP phone is needed: the login is clicked against a closed port (the real "cannot reach the
dialer" error), then the window's link is fed, message by message, what a dialer sends
(docs/agent-protocol.md), so each state is drawn by the same code paths as in a real session. The
requests the window sends go nowhere.

Saves into DIR (default var/screenshots), one PNG per state:

    login, login-error, not-ready, ready, preview, push-preview, on-call, wrap-up,
    logout-pending, logged-off                     the window (or the login dialog) alone
    logout-pending-screen, logged-off-screen       the whole screen: the window, the countdown
                                                   message and the status icon's tooltip (the
                                                   pointer rests on the icon; taken 2 s after
                                                   the tooltip opened: it must keep counting)

The end-to-end tests save the same states from a real session when OPENDIALER_SCREENSHOTS names a
folder (tests/integration/test_softphone_window.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCREEN = (1400, 900)
DISPOSITIONS = [{"code": "SALE", "label": "Sale", "final": True},
                {"code": "CALLBACK", "label": "Call back", "final": False},
                {"code": "NO_INTEREST", "label": "Not interested", "final": True}]
CAMPAIGNS = [{"id": i, "name": name, "mode": mode, "status": "Started",
              "dispositions": DISPOSITIONS}
             for i, (name, mode) in enumerate((("renewals", "preview"),
                                               ("winback", "push_preview"),
                                               ("collections-west", "progressive")), start=1)]


def contact(cid: int, number: str, name: str, city: str) -> dict[str, Any]:
    return {"id": cid, "number": number, "numbers": [number], "time_zone": "America/Phoenix",
            "attempts": 1, "fields": {"name": name, "city": city, "account_no": f"AC-{cid:06d}",
                                      "plan": "Family 4 lines, renews 2026-12-01"}}


@contextlib.contextmanager
def x_server(display: str | None) -> Iterator[str]:
    """`display` if given, else a fresh Xvfb on a free display, stopped afterwards."""
    if display:
        yield display
        return
    n = next(n for n in range(90, 200) if not Path(f"/tmp/.X{n}-lock").exists()
             and not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"screenshots: Xvfb :{n} did not start (is `xvfb` installed?)")
            time.sleep(0.05)
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(10)


class Shooter:
    """Drives the app: feeds dialer messages, lets Qt draw, saves pictures."""

    def __init__(self, out: Path) -> None:
        from PyQt5.QtWidgets import QApplication

        from softphone.app import AgentApp

        self.out = out
        self.qt = QApplication.instance() or QApplication(["opendialer-agent"])
        self.app = AgentApp(dialer_url="ws://127.0.0.1:9/agent")   # nothing listens there
        self.saved: list[Path] = []

    def settle(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.qt.processEvents()
            time.sleep(0.01)

    def feed(self, *messages: dict[str, Any]) -> None:
        for m in messages:
            self.app.link.on_text(json.dumps({"v": 1, **m}))
        self.settle()

    def shot(self, name: str, widget: Any = None) -> None:
        widget = widget or self.app.window
        self.settle()
        path = self.out / f"{name}.png"
        widget.grab().save(str(path))
        self.saved.append(path)

    def screen(self, name: str) -> None:
        from PyQt5.QtWidgets import QApplication

        self.settle(0.6)
        path = self.out / f"{name}.png"
        screen = QApplication.primaryScreen()
        assert screen is not None
        screen.grabWindow(0).save(str(path))  # type: ignore[arg-type]  # 0: the root window
        self.saved.append(path)

    def window(self) -> Any:
        assert self.app.window is not None, "not logged in"
        return self.app.window

    def hover_status(self) -> None:
        """Rest the pointer on the status icon and show its tooltip, as hovering does."""
        from PyQt5.QtCore import QPoint
        from PyQt5.QtGui import QCursor
        from PyQt5.QtWidgets import QToolTip

        icon = self.window().status_icon
        QCursor.setPos(icon.mapToGlobal(QPoint(12, icon.height() // 2)))
        self.settle()                   # the pointer's enter/leave events first
        QToolTip.showText(QCursor.pos(), icon.toolTip(), icon)

    def run(self) -> None:
        login = self.app.login
        login.show()
        login.agent.setText("agent1014")
        login.password.setText("secret")
        self.shot("login", login)
        login.on_accept()                           # the dialer is not there: said plainly
        deadline = time.monotonic() + 10
        while not login.error.isVisible() and time.monotonic() < deadline:
            self.settle(0.05)
        self.shot("login-error", login)

        self.feed({"type": "welcome", "protocol": 1, "server": "opendialer"},
                  {"type": "state", "state": "not_ready"},
                  {"type": "login_ok", "re": "q1", "agent": "agent1014", "name": "Ada",
                   "state": "not_ready", "campaigns": CAMPAIGNS},
                  *({"type": "campaign_started", "campaign": c} for c in CAMPAIGNS),
                  {"type": "channel", "channel": "voice", "state": "connected"})
        w = self.window()
        w.move(0, 0)
        self.shot("not-ready")
        self.feed({"type": "state", "state": "ready"})
        self.shot("ready")
        self.feed({"type": "state", "state": "reserved"},
                  {"type": "preview_record", "re": "q3", "offer": 41, "campaign": 1,
                   "contact": contact(41, "+16025550141", "Grace Hopper", "Phoenix")})
        self.shot("preview")
        self.feed({"type": "ok", "re": "q3", "request": "preview_skip"},
                  {"type": "push_offer", "offer": 42, "campaign": 2,
                   "contact": contact(42, "+16025550142", "Katherine Johnson", "Tucson")})
        self.shot("push-preview")
        on_call = contact(43, "+16025550143", "Dorothy Vaughan", "Flagstaff")
        self.feed({"type": "state", "state": "on_call"},
                  {"type": "call_connected", "attempt": 7, "campaign": 3, "contact": on_call})
        self.settle(1.2)                            # the call timer runs
        self.shot("on-call")
        self.feed({"type": "state", "state": "wrap_up"},
                  {"type": "call_ended", "attempt": 7, "result": "answered_human",
                   "disposition_required": True})
        w.disposition.codes.setCurrentIndex(w.disposition.codes.findData("CALLBACK"))
        w.disposition.note.setText("wants the new plan next week")
        w.disposition.callback.click()
        self.shot("wrap-up")
        self.feed({"type": "state", "state": "ready"},
                  {"type": "disposition_saved", "re": "q9", "attempt": 7, "code": "CALLBACK",
                   "callback": 3},
                  {"type": "state", "state": "reserved"},
                  {"type": "state", "state": "logout_pending", "logout_remaining_s": 95.0},
                  {"type": "logout_pending", "deadline": "2026-01-01T00:01:35+00:00",
                   "remaining_s": 95.0})
        w.countdown.move(w.width() // 2 - 150, w.height() // 2 - 60)
        self.shot("logout-pending")
        self.hover_status()
        self.settle(2.0)
        self.screen("logout-pending-screen")
        self.feed({"type": "state", "state": "logged_out"},
                  {"type": "logout_authorized"},
                  {"type": "channel", "channel": "voice", "state": "disconnected",
                   "cause": "logout"})
        self.shot("logged-off")
        self.hover_status()
        self.screen("logged-off-screen")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var/screenshots")
    parser.add_argument("--display", help="a running X server (default: start Xvfb)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with x_server(args.display) as display:
        os.environ["DISPLAY"] = display
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        shooter = Shooter(args.out)
        shooter.run()
        if shooter.app.window is not None:
            shooter.app.window.close()
        shooter.app.login.close()
    for path in shooter.saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
