"""Agents' SIP over TLS with SRTP, end to end (issue 14, item 6): a PBX of this module's own with
`[agents] sip_transport = "tls"` and a development certificate; the softphone's user agent (pjsua2,
as the agent window and the headless agent use it) logs in over the agent link naming its TLS
port, learns the transport from `login_ok.sip`, registers over TLS verifying the PBX's
certificate, takes the voice channel the dialer places over TLS, and hears a campaign's customer.
`dumpcap` on loopback checks that nothing to or from the phone travelled in the clear, the PBX's
SIP log (read inside TLS) that the SDP both ways is RTP/SAVP with a=crypto, and pjsua2's own
call dump that the media is SRTP. A phone that trusts another CA is refused, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer import protocol as p
from dialer.config.settings import REPO_ROOT, Settings, load_settings
from dialer.core.audio import AudioFormat, rms_dbfs, samples_of, tone_share
from dialer.core.campaign import CampaignStatus
from dialer.db.campaigns import set_campaign_status
from dialer.pbx import Backend, backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import AgentClient
from dialer.service.tls import make_dev_cert
from softphone.audio.bridge import AudioBridge
from softphone.audio.virtual import VirtualAudioDevice, tone
from softphone.sip.api import AUTO_ANSWER, EventQueue, RegistrationChanged, RegState, SipAccount
from softphone.sip.pjsua2_ua import PjsuaStack, PjsuaUserAgent
from tests.integration.dialer_env import dialer_env, password
from tests.integration.loopback_capture import Capture, Packet

pytestmark = pytest.mark.pbx
SEAT = 1016
FMT = AudioFormat()
AGENT_HZ = 697.0
CUSTOMER_HZ = 1004.0          # the simulated customer's tone (config/carrier, behaviour 0)
# the headless agents' TLS ports (processes of their own, for one test each). The test process's
# own SIP stack listens on a port the kernel picks: it stays open for the whole session, and
# the baresip phones of other tests take SIP over TLS on their SIP port + 1.
PHONE_TLS_PORT = int(os.environ.get("OPENDIALER_TEST_PHONE_TLS_PORT", "5921"))


def _retuned(text: str, changes: dict[str, dict[str, str]]) -> str:
    """`text` (opendialer.toml) with `key = value` lines replaced or added, per section."""
    out, section = [], ""
    pending = {s: dict(kv) for s, kv in changes.items()}
    for line in text.splitlines():
        m = re.match(r"\[(\w+)\]", line)
        if m:
            out += [f"{k} = {v}" for k, v in pending.pop(section, {}).items()]
            section = m.group(1)
        key = re.match(r"(\w+)\s*=", line)
        if key and key.group(1) in pending.get(section, {}):
            line = f"{key.group(1)} = {pending[section].pop(key.group(1))}"
        out.append(line)
    out += [f"{k} = {v}" for k, v in pending.pop(section, {}).items()]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def tls_env(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A PBX beside the session's (its ports one or two above the session PBX's)."""
    base = tmp_path_factory.mktemp("sip-tls")
    cert, key = make_dev_cert(base / "tls", [])
    pbx, car = settings.pbx, settings.carrier
    text = _retuned(settings.config_path.read_text(), {
        "pbx": {"sip_port": str(pbx.sip_port + 2), "sip_tls_port": str(pbx.sip_port + 1),
                "http_port": str(pbx.http_port + 1), "tls_cert": f'"{cert}"',
                "tls_key": f'"{key}"'},
        "carrier": {"sip_port": str(car.sip_port + 2)},
        "agents": {"sip_transport": '"tls"'},
    })
    (base / "opendialer.toml").write_text(text)
    return {"OPENDIALER_CONFIG": str(base / "opendialer.toml"),
            "OPENDIALER_RUNTIME_DIR": str(base / "var"), "CA": str(cert)}


@pytest.fixture(scope="module")
def tls_settings(tls_env: dict[str, str]) -> Settings:
    return load_settings({**os.environ, **tls_env})


@pytest.fixture(scope="module")
def tls_pbx(tls_settings: Settings) -> Iterator[Backend]:
    be = backend(tls_settings, log=lambda _m: None)
    be.up()
    try:
        yield be
    finally:
        be.down()


def _sip_in_clear(packets: list[Packet]) -> list[Packet]:
    return [pk for pk in packets
            if re.search(rb"SIP/2\.0|^(INVITE|REGISTER|ACK|BYE|OPTIONS) sip", pk.payload)]


async def test_a_softphone_over_tls_hears_a_campaign_customer_with_srtp_only(
        tls_pbx: Backend, tls_settings: Settings, tls_env: dict[str, str],
        tmp_path: Path) -> None:
    ca = tls_env["CA"]
    stack = PjsuaStack.shared(bind="127.0.0.1")
    listener = stack.tls_transport(ca)
    customer = number_for(Behaviour.ANSWER, 0, 6)
    pbx, car = tls_settings.pbx, tls_settings.carrier
    # everything to or from the phone (its UDP and TLS ports, its RTP) and the PBX's agent side
    # (its TLS port, its UDP SIP port, its RTP except towards the carrier); the carrier's trunk
    # is plain UDP SIP, captured too as the control that plain SIP would be seen
    capture = Capture(
        f"tcp port {listener.port} or tcp port {tls_settings.agents.transport.tls_port}"
        f" or udp port {stack.local_address[1]}"
        f" or udp port {pbx.sip_port}"
        f" or (udp portrange {pbx.rtp_start}-{pbx.rtp_end}"
        f" and not udp portrange {car.rtp_start}-{car.rtp_end})", tmp_path / "lo.pcap")
    ua = None
    # the PBX logs the SIP it sends and receives, as it reads it inside TLS: the SDP offered to
    # and answered by the phone is checked below
    tls_pbx.rx("pbx", f"pjsip set logger host 127.0.0.1:{listener.port}")
    log = tls_pbx.log_files()["pbx"]
    seen_before = log.stat().st_size if log.exists() else 0
    try:
        async with dialer_env(tls_settings, tmp_path, [SEAT], [customer], mode="progressive",
                              phones=False) as env:
            async with AgentClient(env.url) as c:
                ok = await c.login(f"agent{SEAT}", password(SEAT),
                                   sip_port=stack.local_address[1], sip_tls_port=listener.port)
                assert ok["type"] == "login_ok", ok
                sip = ok["sip"]
                assert sip["transport"] == "tls"
                assert sip["port"] == tls_settings.agents.transport.tls_port
                device = VirtualAudioDevice(FMT, tone(AGENT_HZ, FMT), keep_seconds=30)
                account = SipAccount(sip["user"], sip["password"], f"127.0.0.1:{sip['port']}",
                                     transport=sip["transport"], ca_file=ca)
                ua = PjsuaUserAgent(account, AudioBridge(device, FMT), AUTO_ANSWER, stack=stack)
                events = EventQueue()
                ua.add_listener(events)
                ua.register()
                reg = await asyncio.to_thread(events.wait_for, RegistrationChanged, 10,
                                              lambda e: e.code != 0)
                assert reg.state is RegState.REGISTERED, reg
                up = await c.expect("channel", timeout=20)
                assert up["state"] == "connected", up
                await c.request("ready")
                set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
                connected = await c.expect("call_connected", timeout=30)
                device.clear_capture()
                dump = ua.call_dump(next(iter(ua.calls())))
                await c.expect("call_ended", timeout=30)
                heard = samples_of(device.captured())
                # the customer says "hello", then plays its tone until it hangs up
                share = tone_share(heard, FMT.rate, CUSTOMER_HZ)
                print(f"sip_tls tone_share={share:.2f} heard_dbfs={rms_dbfs(heard):.1f} "
                      f"attempt={connected.get('attempt')}")
                assert share > 0.5 and rms_dbfs(heard) > -40
                # the seat watch took the phone's TLS contact for the agent's own phone (the
                # voice channel may have been refused once: the phone registers after login_ok)
                errors = [p.as_json(m) for m in c.history if isinstance(m, p.Error)]
                assert not [e for e in errors if e["code"] == "seat_taken"], errors
    finally:
        packets = capture.stop()
        tls_pbx.rx("pbx", "pjsip set logger off")
        if ua is not None:
            ua.close()
    # the SDP both ways: SRTP (RTP/SAVP) with SDES keys (a=crypto), never plain RTP/AVP
    with log.open("rb") as f:
        f.seek(seen_before)
        sip_log = f.read().decode(errors="replace")
    sdps = re.findall(r"^m=audio \d+ (\S+)", sip_log, re.MULTILINE)
    assert len(sdps) >= 2, sip_log[-3000:]              # the voice channel's offer and answer
    assert set(sdps) == {"RTP/SAVP"}, sdps
    assert sip_log.count("a=crypto:") >= len(sdps), sip_log[-3000:]
    print(f"sip_tls sdp m_lines={len(sdps)} protos={sorted(set(sdps))} "
          f"crypto_lines={sip_log.count('a=crypto:')}")
    # pjsua2's own view of the call: SRTP with an SDES crypto suite
    assert re.search(r"SRTP status:\s*Active", dump), dump
    assert "AES_CM_128_HMAC_SHA1" in dump or "AEAD_AES" in dump, dump
    # on the wire: signalling only inside TLS, to the PBX's TLS port and the phone's listener
    trunk = [pk for pk in packets if car.sip_port in (pk.sport, pk.dport)]
    assert _sip_in_clear(trunk), "the control failed: no plain SIP seen on the carrier's trunk"
    packets = [pk for pk in packets if pk not in trunk]
    sip_tcp = [pk for pk in packets if pk.proto == "tcp" and pk.payload]
    assert sip_tcp, "no SIP over TLS was captured"
    assert any(pk.payload[:1] == b"\x16" for pk in sip_tcp), "no TLS handshake was captured"
    assert not _sip_in_clear(packets), _sip_in_clear(packets)[:3]
    # media: the phone's RTP to and from the PBX carries SRTP's 10-byte authentication tag
    # (12-byte header + 160 bytes of G.711 + 10), never a plain 172-byte RTP packet
    rtp = [pk for pk in packets if pk.proto == "udp" and len(pk.payload) >= 12
           and pk.payload[0] >> 6 == 2 and pk.payload[1] & 0x7F in (0, 8)]
    print(f"sip_tls captured tls_segments={len(sip_tcp)} rtp_packets={len(rtp)} "
          f"sizes={sorted({len(pk.payload) for pk in rtp})}")
    assert len(rtp) > 100, f"only {len(rtp)} RTP packets to or from the phone"
    assert {len(pk.payload) for pk in rtp} == {182}, sorted({len(pk.payload) for pk in rtp})


def test_a_phone_trusting_another_ca_is_refused_with_the_reason(
        tls_pbx: Backend, tls_settings: Settings, tmp_path: Path) -> None:
    other, _ = make_dev_cert(tmp_path / "other-ca", [])
    port = tls_settings.agents.transport.tls_port
    res = subprocess.run(
        [sys.executable, "-m", "softphone", "--headless", "--agent", str(SEAT), "--json",
         "--registrar", f"127.0.0.1:{port}", "--transport", "tls", "--ca", str(other),
         "--tls-port", str(PHONE_TLS_PORT + 1), "--register-timeout", "10"],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
        env={**os.environ, "OPENDIALER_SEAT_KEY": tls_settings.agents.seat_key,
             "PYTHONPATH": str(REPO_ROOT)})
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    errors = [x["detail"] for x in lines if x["event"] == "error"]
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr[-2000:])
    assert any("is not trusted" in e and str(other) in e and "certificate" in e
               for e in errors), errors


async def test_a_login_naming_no_tls_port_is_refused_with_the_reason(
        tls_pbx: Backend, tls_settings: Settings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    async with dialer_env(tls_settings, tmp_path, [SEAT], [number_for(Behaviour.ANSWER, 1, 4)],
                          mode="preview", phones=False) as env:
        async with AgentClient(env.url) as c:
            await c.send("login", agent=f"agent{SEAT}", password=password(SEAT), sip_port=5920)
            err = await c.expect("error")
            assert err["code"] == "bad_field", err
            assert "takes agents' SIP over TLS only" in err["message"]
            assert "sip_tls_port" in err["message"] and "--ca" in err["message"]
            assert not env.engine.floor.seats
            assert any("login refused: the PBX takes agents' SIP over TLS only" in r.message
                       for r in caplog.records)


def test_the_headless_agent_calls_over_tls_with_srtp(
        tls_pbx: Backend, tls_settings: Settings, tls_env: dict[str, str]) -> None:
    """`softphone --headless --transport tls`: registers over TLS and calls the milliwatt
    extension (9197); SRTP is mandatory, so a call that connects and carries the tone had it."""
    port = tls_settings.agents.transport.tls_port
    res = subprocess.run(
        [sys.executable, "-m", "softphone", "--headless", "--agent", str(SEAT + 1), "--json",
         "--registrar", f"127.0.0.1:{port}", "--transport", "tls", "--ca", tls_env["CA"],
         "--tls-port", str(PHONE_TLS_PORT + 2), "--call", "9197", "--talk", "2"],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
        env={**os.environ, "OPENDIALER_SEAT_KEY": tls_settings.agents.seat_key,
             "PYTHONPATH": str(REPO_ROOT)})
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert res.returncode == 0, (res.stdout, res.stderr[-2000:])
    started = next(x for x in lines if x["event"] == "started")
    assert started["sip_tls"] == f"127.0.0.1:{PHONE_TLS_PORT + 2}"
    report = next(x for x in lines if x["event"] == "call report")
    assert report["answered"] and report["codec"].startswith("PCM")
    assert abs(report["heard_hz"] - 1004) < 15, report


async def test_the_agent_window_takes_its_voice_channel_over_tls(
        qapp: object, tls_pbx: Backend, tls_settings: Settings, tls_env: dict[str, str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent window (offscreen) with its own SIP phone: its login names the TLS port
    (`phone_port` listens on TLS when it has a CA file), it opens the phone with the transport
    and the PBX's TLS port from `login_ok.sip`, and the voice channel connects."""
    from softphone.app import AgentApp, phone_port
    from softphone.phone import Phone
    from softphone.ui.login_dialog import LoginRequest
    from tests.integration.qt_wait import until

    monkeypatch.setenv("OPENDIALER_CA_FILE", tls_env["CA"])
    seat, fmt = SEAT + 2, AudioFormat(rate=16000)
    opened: list[tuple[SipAccount, Phone]] = []

    def open_phone(req: LoginRequest) -> Phone:
        account = SipAccount(req.sip_user, req.sip_password, req.sip_server,
                             transport=req.sip_transport, ca_file=os.environ["OPENDIALER_CA_FILE"])
        ua = PjsuaUserAgent(account, AudioBridge(VirtualAudioDevice(fmt, tone(440, fmt)), fmt),
                            AUTO_ANSWER, stack=PjsuaStack.shared(bind="127.0.0.1"))
        opened.append((account, Phone(ua)))
        ua.register()
        return opened[-1][1]

    async with dialer_env(tls_settings, tmp_path, [seat], [number_for(Behaviour.ANSWER, 1, 3)],
                          mode="preview", phones=False) as env:
        app = AgentApp(phone_factory=open_phone, dialer_url=env.url, port_probe=phone_port)
        app.login.sip_server.setText(f"127.0.0.1:{tls_settings.pbx.sip_port}")
        app.login.show()
        try:
            app.login.agent.setText(f"agent{seat}")
            app.login.password.setText(password(seat))
            app.login.on_accept()
            await until(lambda: app.window is not None and app.window.isVisible(), 10, "window")
            w = app.window
            assert w is not None
            await until(lambda: w.channels.state.text() == "connected", 15, "voice channel")
            account, phone = opened[0]
            assert account.tls
            assert account.registrar == f"127.0.0.1:{tls_settings.agents.transport.tls_port}"
            assert phone.ua.registration is RegState.REGISTERED
            listening = PjsuaStack.shared().tls_transport(tls_env["CA"]).port
            (dial,) = [s.endpoint for s in env.engine.floor.seats.values()]
            assert dial == f"PJSIP/agent{seat}/sip:agent{seat}@127.0.0.1:{listening};transport=tls"
        finally:
            app.link.close()
            for _, phone in opened:
                phone.ua.close()


def test_a_certificate_for_another_name_is_refused_though_its_ca_is_trusted(
        tmp_path: Path) -> None:
    """The phone checks the name too: a TLS server whose certificate is the very CA file the
    phone trusts, but names another host, is refused like an unknown CA (no SIP is sent)."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    "/CN=example.invalid", "-addext", "subjectAltName=DNS:example.invalid",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(20)
    got: list[bytes] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
                    got.append(tls.recv(4096))

    threading.Thread(target=serve, daemon=True).start()
    try:
        res = subprocess.run(
            [sys.executable, "-m", "softphone", "--headless", "--agent", str(SEAT), "--json",
             "--registrar", f"127.0.0.1:{server.getsockname()[1]}", "--transport", "tls",
             "--ca", str(cert), "--tls-port", str(PHONE_TLS_PORT + 3), "--password", "x",
             "--register-timeout", "10"],
            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    finally:
        server.close()
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    errors = [x["detail"] for x in lines if x["event"] == "error"]
    assert res.returncode == 2, (res.stdout, res.stderr[-2000:])
    assert any("is not trusted" in e and str(cert) in e for e in errors), errors
    assert not any(b"REGISTER" in data for data in got), got
