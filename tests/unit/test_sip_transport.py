"""Agents' SIP over TLS (issue 14, item 6): the settings, their refusals, the rendered transport
and seats, the dial string and the seat watch's view of a TLS contact. Pure, no PBX."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from dialer.config.asterisk_values import phone_at
from dialer.config.settings import REPO_ROOT, Settings, SettingsError, load_settings
from dialer.config.sip_transport import SipTransport, describe
from dialer.pbx.render import render_all
from dialer.pbx.tls_conf import TlsConfigError, tls_conf
from dialer.service.seat_watch import Binding, intruder
from dialer.service.tls import make_dev_cert
from softphone.sip.api import SipAccount, SipError

BASE = (REPO_ROOT / "config/opendialer.toml").read_text()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_dev_cert(tmp_path_factory.mktemp("cert"), [])


def _load(tmp_path: Path, text: str) -> Settings:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    return load_settings({"OPENDIALER_CONFIG": str(cfg),
                          "OPENDIALER_RUNTIME_DIR": str(tmp_path / "var")})


def _tls(cert: Path | str = "", key: Path | str = "", port: str = "5061",
         where: str = "pbx") -> str:
    text = BASE.replace("count = 20", 'count = 2\nsip_transport = "tls"')
    if port:
        text = text.replace("[pbx]\n", f"[pbx]\nsip_tls_port = {port}\n")
    if cert:
        text = text.replace(f"[{where}]\n", f'[{where}]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    return text


def test_udp_is_the_default_and_renders_no_tls(tmp_path: Path) -> None:
    s = _load(tmp_path, BASE)
    assert s.agents.transport == SipTransport()
    out = render_all(s)
    assert "[transport-tls]" not in (out["pbx"] / "pjsip_tls.conf").read_text()
    agents = (out["pbx"] / "pjsip_agents.conf").read_text()
    assert "media_encryption" not in agents and "transport-tls" not in agents
    assert "#include pjsip_tls.conf" in (out["pbx"] / "pjsip.conf").read_text()
    assert "UDP (port 5060) without TLS or SRTP" in describe(s.agents.transport, 5060)


def test_tls_renders_the_transport_the_certificate_and_srtp_seats(
        tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, key = pair
    s = _load(tmp_path, _tls(cert, key))
    assert s.agents.transport == SipTransport("tls", 5061, str(cert), str(key), "[pbx] tls_cert")
    out = render_all(s)
    pbx = out["pbx"]
    conf = (pbx / "pjsip_tls.conf").read_text()
    assert "protocol = tls" in conf and "bind = 127.0.0.1:5061" in conf
    assert "cert_file = /opendialer/etc/pbx/pbx-tls.crt" in conf
    assert (pbx / "pbx-tls.crt").read_text() == cert.read_text()
    assert (pbx / "pbx-tls.key").read_text() == key.read_text()
    for name in ("pbx-tls.crt", "pbx-tls.key", "pjsip_tls.conf"):
        assert stat.S_IMODE(os.stat(pbx / name).st_mode) == 0o600, name
    agents = (pbx / "pjsip_agents.conf").read_text()
    for seat in ("agent1001", "agent1002"):
        section = agents.split(f"[{seat}](agent-endpoint)")[1].split("[")[0]
        assert "transport = transport-tls" in section
        assert "media_encryption = sdes" in section
        assert "media_encryption_optimistic = no" in section
    assert "load = res_srtp.so" in (pbx / "modules.conf").read_text()
    assert "TLS on port 5061" in describe(s.agents.transport, 5060)


def test_tls_falls_back_to_the_services_certificate(tmp_path: Path,
                                                   pair: tuple[Path, Path]) -> None:
    cert, key = pair
    s = _load(tmp_path, _tls(cert, key, where="service"))
    assert s.agents.transport.cert == str(cert)
    assert s.agents.transport.cert_setting == "[service] tls_cert"


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('sip_transport = "tls"', 'sip_transport = "tcp"'),
     r'\[agents\] sip_transport must be "udp" or "tls", got \'tcp\''),
    (lambda t: t.replace("sip_tls_port = 5061\n", ""),
     r"sip_transport = \"tls\" needs \[pbx\] sip_tls_port"),
    (lambda t: t.replace("sip_tls_port = 5061", "sip_tls_port = 0"),
     r"\[pbx\] sip_tls_port must be a port 1-65535, got 0"),
    (lambda t: t.replace("sip_tls_port = 5061", "sip_tls_port = 8088"),
     r"\[pbx\] sip_tls_port 8088 is \[pbx\] http_port \(ARI\)'s port already"),
    (lambda t: t.replace("sip_tls_port = 5061", "sip_tls_port = 8765"),
     r"sip_tls_port 8765 is \[service\] link_port's port already"),
    (lambda t: t.replace('tls_key = "', 'tls_kez = "'),
     r"\[pbx\] tls_cert and tls_key go together"),
    (lambda t: t.replace("tls_cert = ", "tls_cert_old = ").replace("tls_key = ", "tls_kex = "),
     r"needs a certificate for the PBX: set \[pbx\] tls_cert and tls_key"),
])
def test_combinations_that_cannot_work_are_refused_with_the_reason(
        tmp_path: Path, pair: tuple[Path, Path], change: object, message: str) -> None:
    text = change(_tls(*pair))  # type: ignore[operator]
    with pytest.raises(SettingsError, match=message):
        _load(tmp_path, text)


def test_a_missing_or_mismatched_certificate_is_named_before_anything_is_written(
        tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, _ = pair
    s = _load(tmp_path, _tls(tmp_path / "nope.crt", tmp_path / "nope.key"))
    with pytest.raises(TlsConfigError, match=r"\[pbx\] tls_cert .*nope.crt not found"):
        render_all(s)
    assert not (tmp_path / "var" / "etc" / "pbx").exists()
    other = tmp_path / "other.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(other)], check=True,
                   capture_output=True)
    s = _load(tmp_path, _tls(cert, other))
    with pytest.raises(TlsConfigError, match=r"\[pbx\] tls_cert .* with \[pbx\] tls_key .* "
                                             r"cannot be used"):
        tls_conf(s)


def test_the_dialer_calls_the_phones_tls_listener() -> None:
    assert phone_at("PJSIP/agent1001", "192.0.2.7", 5921, tls=True) == \
        "PJSIP/agent1001/sip:agent1001@192.0.2.7:5921;transport=tls"
    assert phone_at("PJSIP/agent1001", "192.0.2.7", 5920) == \
        "PJSIP/agent1001/sip:agent1001@192.0.2.7:5920"


def test_the_seat_watch_takes_the_phones_tls_contact_as_its_own() -> None:
    b = Binding(1, "agent1001", "agent1001", "127.0.0.1", 5921)
    assert intruder(b, "sip:agent1001@127.0.0.1:5921;transport=TLS") is None
    assert intruder(b, "sip:agent1001@127.0.0.1:44853;transport=TLS") == "127.0.0.1:44853"


def test_a_tls_account_needs_the_pbxs_ca_and_registers_at_its_tls_uri() -> None:
    with pytest.raises(SipError, match="needs the PBX's CA certificate"):
        SipAccount("agent1001", "pw", "127.0.0.1:5061", transport="tls")
    with pytest.raises(SipError, match="must be udp or tls"):
        SipAccount("agent1001", "pw", "127.0.0.1:5061", transport="tcp")
    a = SipAccount("agent1001", "pw", "127.0.0.1:5061", transport="tls", ca_file="/ca.pem")
    assert a.registrar_uri == "sip:127.0.0.1:5061;transport=tls"
    assert a.target_uri("9197") == "sip:9197@127.0.0.1:5061;transport=tls"
    assert SipAccount("agent1001", "pw", "127.0.0.1:5060").registrar_uri == "sip:127.0.0.1:5060"


def test_the_agent_window_takes_the_transport_and_tls_port_from_login_ok() -> None:
    from softphone.app import with_account
    from softphone.ui.login_dialog import LoginRequest

    req = LoginRequest("agent1001", "pw", "ws://x/agent", "", "", "10.0.0.5:5060")
    tls = with_account(req, {"user": "agent1001", "password": "s", "transport": "tls",
                             "port": 5061})
    assert (tls.sip_user, tls.sip_password, tls.sip_server, tls.sip_transport) == \
        ("agent1001", "s", "10.0.0.5:5061", "tls")
    udp = with_account(req, {"user": "agent1001", "password": "s", "transport": "udp"})
    assert (udp.sip_server, udp.sip_transport) == ("10.0.0.5:5060", "udp")
    older = with_account(req, {"user": "agent1001", "password": "s"})   # an older dialer
    assert (older.sip_server, older.sip_transport) == ("10.0.0.5:5060", "udp")


def test_a_failed_certificate_check_reads_as_an_untrusted_pbx() -> None:
    from softphone.sip.secure import tls_failure

    said = tls_failure(503, "SSL certificate verification error (PJSIP_TLS_ECERTVERIF)",
                       "/etc/ca.pem", "10.0.0.5:5061")
    assert said is not None
    assert said.startswith("the PBX at 10.0.0.5:5061 is not trusted")
    assert "/etc/ca.pem" in said and "--ca" in said
    assert tls_failure(503, "Connection refused", "/etc/ca.pem", "10.0.0.5:5061") is None
    assert tls_failure(408, "Request Timeout", "/etc/ca.pem", "10.0.0.5:5061") is None


def _free(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_taken_tls_port_is_named_before_the_pbx_starts(tmp_path: Path,
                                                        pair: tuple[Path, Path]) -> None:
    from dialer.pbx.base import PbxError, check_ports_free

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        tls_port = taken.getsockname()[1]
        text = _tls(*pair, port=str(tls_port))
        for old, new in (("sip_port = 5060", f"sip_port = {_free(socket.SOCK_DGRAM)}"),
                         ("http_port = 8088", f"http_port = {_free(socket.SOCK_STREAM)}"),
                         ("sip_port = 5080", f"sip_port = {_free(socket.SOCK_DGRAM)}")):
            text = text.replace(old, new, 1)
        s = _load(tmp_path, text)
        with pytest.raises(PbxError, match=rf"127.0.0.1:{tls_port} for the PBX SIP over TLS "
                                           r"\(tcp\) is taken"):
            check_ports_free(s)
