"""A trunk is its carrier's address, never a From user (issue 14).

Before, the trunk endpoints kept PJSIP's default `identify_by = username,ip`: an INVITE with
`From: <sip:carrier@...>` from any host and port was taken as the carrier, unchallenged, and
landed in the trunk's context. Now trunks say `identify_by = ip`, so such a request is an unknown
peer and gets a digest challenge (401), while a request from the trunk's own address is still
the trunk's (it lands in `from-carrier`, which refuses inbound calls with cause 21: 403).

sipp is the caller, one INVITE per run. The session PBX gets one more IP trunk, `ident-carrier`,
at 127.0.0.1:TRUNK_PORT (what `dialer trunk reload` does), and loses it again at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.cli.trunk import reload_trunks
from dialer.config.settings import Settings
from dialer.config.trunks import ENV_PATH, trunks_path
from dialer.pbx import Backend

pytestmark = pytest.mark.pbx

TRUNK = "ident-carrier"
# the trunk's own address, and another port on the same host (no other test uses these)
TRUNK_PORT = int(os.environ.get("OPENDIALER_TEST_IDENT_TRUNK_PORT", "5292"))
OTHER_PORT = int(os.environ.get("OPENDIALER_TEST_IDENT_OTHER_PORT", "5294"))
EXTENSION = "9194"      # any extension: the context the request lands in decides

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="from-user probe">
  <send>
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[local_ip]:[local_port]>;tag=[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="{code}"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""


@pytest.fixture(scope="module")
def ident_trunk(pbx: Backend, settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    shipped = trunks_path()
    extra = tmp_path_factory.mktemp("ident") / "trunks.toml"
    # qualify_s = 0: no OPTIONS pings toward a port nobody listens on between runs
    extra.write_text(shipped.read_text() + f"""
[[trunk]]
name = "{TRUNK}"
kind = "ip"
host = "127.0.0.1:{TRUNK_PORT}"
max_channels = 2
qualify_s = 0
""")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_PATH, str(extra))
        report = reload_trunks(settings, pbx)
    assert report.ok, f"the PBX did not take trunks {report.missing}"
    try:
        yield TRUNK
    finally:
        assert reload_trunks(settings, pbx).ok


def _invite(settings: Settings, directory: Path, from_user: str, port: int,
            expect: int) -> None:
    """One INVITE from 127.0.0.1:`port` with From user `from_user`; fails unless the PBX's
    final answer is `expect`."""
    assert shutil.which("sipp"), "sipp is not installed (Debian package sip-tester)"
    directory.mkdir(parents=True, exist_ok=True)
    scenario = directory / "probe.xml"
    scenario.write_text(SCENARIO.format(user=from_user, code=expect))
    run = subprocess.run(
        ["sipp", f"{settings.pbx.bind}:{settings.pbx.sip_port}", "-sf", str(scenario),
         "-s", EXTENSION, "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-nostdin",
         "-timeout", "15s", "-timeout_error", "-trace_msg",
         "-message_file", str(directory / "messages.log")],
        cwd=directory, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    messages = (directory / "messages.log").read_text(errors="replace") \
        if (directory / "messages.log").exists() else ""
    assert run.returncode == 0, (
        f"From {from_user} at 127.0.0.1:{port}: expected {expect}; sipp exit "
        f"{run.returncode}\n{messages[-3000:]}")


@pytest.mark.parametrize("from_user", [TRUNK, "carrier", "carrier-reg"])
def test_a_from_user_naming_a_trunk_from_another_address_is_challenged(
        ident_trunk: str, settings: Settings, tmp_path: Path, from_user: str) -> None:
    _invite(settings, tmp_path, from_user, OTHER_PORT, expect=401)


def test_the_trunks_own_address_is_still_the_trunk(
        ident_trunk: str, settings: Settings, tmp_path: Path) -> None:
    # identified by address whatever the From user says: from-carrier refuses it (cause 21)
    _invite(settings, tmp_path, "someone-else", TRUNK_PORT, expect=403)
