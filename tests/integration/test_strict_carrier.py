"""Nothing unrequested toward the carrier: a strict SIP peer sees only INVITE, ACK and BYE.

A real carrier may refuse a re-INVITE or UPDATE it did not ask for, or drop the call on it. So the
customer's leg must carry no connected-line update when the dialer bridges it to an agent (before
the fix, Asterisk sent a re-INVITE with `Remote-Party-ID: "Dialer" <sip:0@...>`, the agent leg's
identity, about 5 ms after every ACK).

The strict carrier is sipp running `sipp/strict_uas.xml`: it answers one INVITE and aborts (a failed
call, a non-zero exit) on any request other than the closing BYE. The session PBX gets one more
trunk, `strict-carrier`, rendered by the trunks renderer and loaded by `reload_trunks` (what
`dialer trunk reload` does), and loses it again at the end. The test is its own Stasis
application: it dials a customer through that trunk, and when the customer answers puts them in a
mixing bridge (as the dialer does: `mixing,proxy_media`) with a second channel whose caller ID is
the dialer's agent-leg identity ("Dialer" <0>), holds the call 3 s, and hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialer.ari import AriError
from dialer.cli.trunk import reload_trunks
from dialer.config.settings import Settings
from dialer.config.trunks import ENV_PATH, trunks_path
from dialer.pbx import Backend
from tests.integration.ari_probe import AriProbe

pytestmark = pytest.mark.pbx

SCENARIO = Path(__file__).parent / "sipp" / "strict_uas.xml"
TRUNK = "strict-carrier"
# the strict peer's SIP and media ports (no other test uses these)
SIPP_PORT = int(os.environ.get("OPENDIALER_TEST_STRICT_SIP_PORT", "5290"))
SIPP_MEDIA_PORT = int(os.environ.get("OPENDIALER_TEST_STRICT_MEDIA_PORT", "13900"))
CUSTOMER = "+12125550123"
CAMPAIGN_CALLER_ID = '"Acme Sales" <+12125550100>'
AGENT_LEG_CALLER_ID = "Dialer <0>"            # what the dialer's agent legs carry (calls.py)
# the agent side: any answered channel of the PBX with another identity (the echo test)
AGENT_SIDE = "Local/9196@agents"
HOLD_S = 3.0
# one received message in sipp's -trace_msg log
RECEIVED = re.compile(r"message received \[\d+\] bytes :\n\n(.*?)(?=\n-{20,} |\Z)", re.S)


def strict_trunk_toml(port: int) -> str:
    # qualify_s = 0: no OPTIONS pings (they would reach sipp as calls of their own)
    return f"""
[[trunk]]
name = "{TRUNK}"
kind = "ip"
host = "127.0.0.1:{port}"
max_channels = 2
qualify_s = 0
"""


@pytest.fixture
def strict_trunk(pbx: Backend, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The PBX's trunks plus `strict-carrier` (to the sipp below); the trunks as before after."""
    shipped = trunks_path()
    extra = tmp_path / "trunks.toml"
    extra.write_text(shipped.read_text() + strict_trunk_toml(SIPP_PORT))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_PATH, str(extra))
        report = reload_trunks(settings, pbx)
    assert report.ok, f"the PBX did not take trunks {report.missing}"
    try:
        yield TRUNK
    finally:
        reload_trunks(settings, pbx)
        assert "Unable to find" in pbx.rx("pbx", f"pjsip show endpoint {TRUNK}")


def _udp_bound(host: str, port: int) -> bool:
    """Whether a UDP socket is bound to host:port (read from /proc/net/udp)."""
    a, b, c, d = (int(x) for x in host.split("."))
    local = f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"
    lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(line.split()[1] == local for line in lines)


@dataclass
class SippRun:
    returncode: int | None      # None: it had not ended, and was stopped
    messages: str      # every SIP message sent and received (-trace_msg)
    errors: str        # the unexpected messages (-trace_err); empty when none

    def received(self, method: str) -> list[str]:
        """The requests of `method` sipp received, each message's text, in order."""
        return [m.group(1) for m in RECEIVED.finditer(self.messages)
                if m.group(1).startswith(f"{method} ")]


class StrictPeer:
    """sipp as the strict carrier: one call, then it exits (0 only if nothing unexpected came)."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp is not installed (Debian package sip-tester); "
                               "run scripts/setup")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.screen = (self.dir / "screen.log").open("wb")
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(SIPP_PORT),
             "-mp", str(SIPP_MEDIA_PORT), "-m", "1", "-nostdin",
             "-timeout", "25s", "-timeout_error",
             "-trace_msg", "-message_file", str(self.dir / "messages.log"),
             "-trace_err", "-error_file", str(self.dir / "errors.log")],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.screen,
            stderr=subprocess.STDOUT)

    async def listening(self, timeout: float = 5.0) -> None:
        """Returns once sipp's SIP port is bound."""
        for _ in range(int(timeout / 0.05)):
            if self.proc.poll() is not None:
                raise AssertionError(f"sipp exited at start ({self.proc.returncode}):\n"
                                     + self.tail())
            if _udp_bound("127.0.0.1", SIPP_PORT):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"sipp did not bind 127.0.0.1:{SIPP_PORT} in {timeout} s:\n"
                             + self.tail())

    async def finish(self, timeout: float) -> SippRun:
        """Wait up to `timeout` s for sipp to end (it does after its one call); stopped then."""
        try:
            rc: int | None = await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            rc = None
        self.screen.close()
        return SippRun(rc, self._read("messages.log"), self._read("errors.log"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self) -> str:
        return self._read("screen.log")[-1500:]

    def _read(self, name: str) -> str:
        path = self.dir / name
        return path.read_text(errors="replace") if path.exists() else ""


async def _bridge_a_customer(settings: Settings, trunk: str) -> None:
    """Dial CUSTOMER through `trunk`; when they answer, bridge them with the agent side for
    HOLD_S seconds, as the dialer bridges a customer to an agent's leg; then hang up."""
    async with AriProbe(settings, app=f"strict-carrier-{uuid.uuid4().hex[:8]}") as probe:
        ari, tag = probe.ari, uuid.uuid4().hex[:8]
        customer, agent, bridge = f"cust-s{tag}", f"agent-s{tag}", f"br-s{tag}"
        await ari.post("bridges", bridgeId=bridge, type="mixing,proxy_media",
                       name="strict carrier test")
        try:
            await ari.post("channels", endpoint=f"PJSIP/{CUSTOMER}@{trunk}", app=probe.app,
                           channelId=customer, timeout=10, callerId=CAMPAIGN_CALLER_ID)
            probe.channels.append(customer)
            await ari.post("channels", endpoint=AGENT_SIDE, app=probe.app, channelId=agent,
                           timeout=10, callerId=AGENT_LEG_CALLER_ID)
            probe.channels.append(agent)
            await probe.wait_event("StasisStart", agent)
            await probe.wait_event("StasisStart", customer)     # the customer answered
            await ari.post(f"bridges/{bridge}/addChannel", channel=f"{agent},{customer}")
            await probe.wait_event("ChannelEnteredBridge", customer)
            await probe.wait_event("ChannelEnteredBridge", agent)
            since = len(probe.events)
            await asyncio.sleep(HOLD_S)
            gone = [e for e in probe.events[since:] if e["type"] == "ChannelDestroyed"]
            assert not gone, f"a channel ended before the dialer hung up: {gone}"
            await probe.hangup(customer)
            await probe.wait_event("ChannelDestroyed", customer, since=since)
        finally:
            await probe.hangup(agent)
            await probe.hangup(customer)
            with contextlib.suppress(AriError):
                await ari.delete(f"bridges/{bridge}")


async def test_the_carrier_gets_no_request_after_the_ack_when_its_customer_is_bridged(
        strict_trunk: str, settings: Settings, tmp_path: Path) -> None:
    peer = StrictPeer(tmp_path / "sipp")
    call_failed: BaseException | None = None
    try:
        await peer.listening()
        try:
            await _bridge_a_customer(settings, strict_trunk)
        except (AssertionError, AriError) as exc:    # judged after what the carrier saw
            call_failed = exc
        # sipp ends right after the call's BYE; a call that failed may never have reached it
        run = await peer.finish(timeout=2.0 if call_failed else 10.0)
    finally:
        peer.stop()
    context = f"sipp exit {run.returncode}; its errors:\n{run.errors}\n{peer.tail()}"
    # it saw the call: one INVITE with the caller ID the dialer set, then the ACK
    invites = run.received("INVITE")
    assert invites, f"the strict carrier got no call ({call_failed})\n{context}"
    assert '"Acme Sales" <sip:+12125550100@' in invites[0], invites[0]
    assert len(run.received("ACK")) == 1, context
    # nothing else but the BYE: no re-INVITE or UPDATE with the agent leg's identity, no INFO
    assert len(invites) == 1, "the PBX sent the carrier a re-INVITE:\n" + invites[1]
    others = [m for m in RECEIVED.findall(run.messages)
              if m.split(" ", 1)[0] not in ("INVITE", "ACK", "BYE", "SIP/2.0")]
    assert not others, "the PBX sent the carrier unrequested requests:\n" + "\n".join(others)
    assert "Dialer" not in run.messages, context
    assert run.errors.strip() == "" and run.returncode == 0, context
    # and the call itself went as the dialer meant: bridged, held, ended by the dialer's BYE
    assert call_failed is None, f"the call failed: {call_failed}"
    assert len(run.received("BYE")) == 1, context
