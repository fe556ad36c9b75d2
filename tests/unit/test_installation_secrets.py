"""Each installation's own secrets (issue 14): made once, owner-only, never the same twice; a known
default is refused once what it guards listens beyond loopback; ARI's password is written hashed;
the voice channel's dial string takes only a port and an address."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from dialer.config.asterisk_values import ValueProblem, phone_at
from dialer.config.exposure import exposed_defaults, refuse_exposed_defaults
from dialer.config.secrets import load_secrets, seat_password
from dialer.config.settings import REPO_ROOT, SettingsError, load_settings
from dialer.pbx.render import password_hash, render_all

SHIPPED = (REPO_ROOT / "config" / "opendialer.toml").read_text()


def _config(tmp_path: Path, text: str = SHIPPED) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "opendialer.toml"
    path.write_text(text)
    return path


def _load(tmp_path: Path, text: str = SHIPPED, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({"OPENDIALER_CONFIG": str(_config(tmp_path, text)),
                          "OPENDIALER_RUNTIME_DIR": str(tmp_path / "var"), **env})


def test_the_shipped_configuration_holds_no_secret() -> None:
    for line in SHIPPED.splitlines():
        key = line.split("=")[0].strip()
        assert key not in {"ari_password", "supervisor_password", "sip_password_prefix"}, line
    assert "dev-only" not in SHIPPED


def test_secrets_are_made_once_owner_only_and_differ_between_installations(
        tmp_path: Path) -> None:
    a = _load(tmp_path / "a")
    again = _load(tmp_path / "a")
    b = _load(tmp_path / "b")
    assert a.pbx.ari_password == again.pbx.ari_password
    assert a.service.supervisor_password == again.service.supervisor_password
    assert a.agents.sip_password(1001) == again.agents.sip_password(1001)
    assert a.pbx.ari_password != b.pbx.ari_password
    assert a.agents.sip_password(1001) != b.agents.sip_password(1001)
    assert len(a.pbx.ari_password) >= 32 and len(a.service.supervisor_password) >= 32
    secrets_file = tmp_path / "a" / "var" / "secrets.toml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_file.parent.stat().st_mode) == 0o700


def test_one_seats_password_tells_nothing_of_anothers(tmp_path: Path) -> None:
    s = _load(tmp_path)
    passwords = {s.agents.sip_password(n) for n in s.agents.numbers()}
    assert len(passwords) == s.agents.count
    assert not any(str(n) in s.agents.sip_password(n) for n in s.agents.numbers())


def test_config_and_environment_override_the_installations_own(tmp_path: Path) -> None:
    text = SHIPPED.replace('ari_user = "dialer"', 'ari_user = "dialer"\nari_password = "file-pw"')
    s = _load(tmp_path, text, OPENDIALER_SUPERVISOR_PASSWORD="env-pw", OPENDIALER_SEAT_KEY="k")
    assert s.pbx.ari_password == "file-pw"
    assert s.service.supervisor_password == "env-pw"
    assert s.agents.sip_password(1001) == seat_password("k", 1001)


def test_the_old_password_prefix_is_refused_with_the_reason(tmp_path: Path) -> None:
    text = SHIPPED.replace("count = 20", 'count = 20\nsip_password_prefix = "dev-only-sip-"')
    with pytest.raises(SettingsError, match=r"\[agents\] sip_password_prefix is gone"):
        _load(tmp_path, text)


def test_a_damaged_secrets_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secrets.toml").write_text('ari_password = "x"\n')
    with pytest.raises(SettingsError, match=r"secrets.toml: supervisor_password, seat_key missing"):
        _load(tmp_path)


def test_two_processes_making_the_secrets_agree(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from dialer.config.secrets import load_secrets;"
            "print(load_secrets(Path(sys.argv[1])).seat_key)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "var")],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert keys == {load_secrets(tmp_path / "var").seat_key}
    assert [f.name for f in (tmp_path / "var").iterdir()] == ["secrets.toml"]


@pytest.mark.parametrize(("setting", "env", "named"), [
    ('ari_bind = "0.0.0.0"', {"OPENDIALER_ARI_PASSWORD": "dev-only-ari-secret"},
     "[pbx] ari_password"),
    ('link_host = "0.0.0.0"', {"OPENDIALER_SUPERVISOR_PASSWORD": "dev-only-supervisor"},
     "[service] supervisor_password"),
    ('bind = "192.0.2.10"', {"OPENDIALER_SEAT_KEY": "dev-only-sip-"}, "seat key"),
])
def test_a_known_default_beyond_loopback_is_refused(tmp_path: Path, setting: str,
                                                    env: dict[str, str], named: str) -> None:
    key = setting.split(" =")[0]
    lines = [setting if line.split(" =")[0] == key else line for line in SHIPPED.splitlines()]
    exposed = _load(tmp_path, "\n".join(lines) + "\n", **env)
    with pytest.raises(SettingsError, match="refusing to start: " + named.replace("[", r"\[")
                       .replace("]", r"\]")):
        refuse_exposed_defaults(exposed)
    with pytest.raises(SettingsError, match="refusing to start"):
        render_all(exposed)                   # `dialer pbx up` renders first
    assert not (tmp_path / "var" / "etc").exists()
    on_loopback = _load(tmp_path / "lo", **env)
    assert exposed_defaults(on_loopback) == []          # reported by `security check` only
    own = _load(tmp_path / "own", "\n".join(lines) + "\n")
    assert exposed_defaults(own) == []                  # the installation's own secret: fine


def _security_check(tmp_path: Path, text: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, OPENDIALER_CONFIG=str(_config(tmp_path, text)),
                OPENDIALER_RUNTIME_DIR=str(tmp_path / "var"), **env)
    return subprocess.run([sys.executable, "-m", "dialer.cli", "security", "check"], env=full,
                          capture_output=True, text=True, timeout=60)


def test_security_check_says_what_is_exposed(tmp_path: Path) -> None:
    ok = _security_check(tmp_path / "ok", SHIPPED)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ARI (controls every call and trunk): 127.0.0.1:8088 (loopback)" in ok.stdout
    assert "security check: ok" in ok.stdout
    exposed = SHIPPED.replace('ari_bind = "127.0.0.1"', 'ari_bind = "0.0.0.0"')
    bad = _security_check(tmp_path / "bad", exposed, OPENDIALER_ARI_PASSWORD="dev-only-ari-secret")
    assert bad.returncode == 1
    assert "FAIL: [pbx] ari_password (OPENDIALER_ARI_PASSWORD) is a known default while ARI" \
           in bad.stdout
    loose = tmp_path / "ok" / "var" / "secrets.toml"
    loose.chmod(0o644)
    again = _security_check(tmp_path / "ok", SHIPPED)
    assert again.returncode == 1 and f"{loose} is mode 0644" in again.stdout


def test_ari_password_is_written_as_a_crypt_hash(tmp_path: Path) -> None:
    hashed = password_hash("s3cret")
    assert hashed.startswith("$6$") and "s3cret" not in hashed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    assert crypt.crypt("s3cret", hashed) == hashed
    assert crypt.crypt("other", hashed) != hashed
    s = _load(tmp_path, OPENDIALER_ARI_PASSWORD="s3cret")
    render_all(s)
    ari = (tmp_path / "var" / "etc" / "pbx" / "ari.conf").read_text()
    http = (tmp_path / "var" / "etc" / "pbx" / "http.conf").read_text()
    assert "password_format = crypt" in ari and "s3cret" not in ari
    assert "bindaddr = 127.0.0.1" in http


def test_the_voice_channel_goes_to_the_phone_beside_the_link() -> None:
    assert phone_at("PJSIP/agent1001", "192.0.2.7", 5062) == \
        "PJSIP/agent1001/sip:agent1001@192.0.2.7:5062"
    assert phone_at("PJSIP/agent1001", "2001:db8::1", 5062) == \
        "PJSIP/agent1001/sip:agent1001@[2001:db8::1]:5062"
    for endpoint, peer, port in [("PJSIP/agent1001", "192.0.2.7", 0),
                                 ("PJSIP/agent1001", "192.0.2.7", 70000),
                                 ("PJSIP/agent1001", "192.0.2.7", True),
                                 ("PJSIP/agent1001", "x.example&Local/1", 5060),
                                 ("SIP/agent1001", "192.0.2.7", 5060),
                                 ("PJSIP/a/b", "192.0.2.7", 5060)]:
        with pytest.raises(ValueProblem):
            phone_at(endpoint, peer, port)


def test_tls_settings_go_together_and_make_the_urls_secure(tmp_path: Path) -> None:
    text = SHIPPED.replace('supervisor_user = "supervisor"',
                           'supervisor_user = "supervisor"\ntls_cert = "tls/d.crt"')
    with pytest.raises(SettingsError, match=r"tls_cert and tls_key go together"):
        _load(tmp_path, text)
    both = text.replace('tls_cert = "tls/d.crt"', 'tls_cert = "tls/d.crt"\ntls_key = "/k.pem"')
    s = _load(tmp_path, both)
    assert s.service.tls_cert == str(tmp_path / "tls" / "d.crt") and s.service.tls_key == "/k.pem"
    assert s.service.link_url.startswith("wss://") and s.service.web_url.startswith("https://")
    assert s.service.ca_file == s.service.tls_cert
    assert _load(tmp_path, both, OPENDIALER_CA_FILE="/ca.pem").service.ca_file == "/ca.pem"
    plain = _load(tmp_path / "plain")
    assert plain.service.link_url.startswith("ws://") and not plain.service.tls_cert
