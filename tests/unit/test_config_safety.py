"""Issue 14, configuration: what is rendered into Asterisk's files is checked, trunks are never
identified by the From user, agents' phones are seats, and the rendered files are private."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dialer.config.asterisk_values import (
    CARRIER_CONTEXTS,
    ValueProblem,
    check_value,
    is_reserved,
    seat_endpoint,
)
from dialer.config.settings import REPO_ROOT, load_settings
from dialer.config.trunks import DEFAULT_PATH, TrunkError, load_trunks, parse_trunks
from dialer.pbx.render import RenderError, agents_conf, render_all, values
from dialer.pbx.trunk_conf import pjsip_conf

PLACES = {"CARRIER_HOST": "127.0.0.1", "CARRIER_SIP_PORT": "5080"}
IP = """
[[trunk]]
name = "ipco"
kind = "ip"
host = "192.0.2.10"
max_channels = 10
"""
REG = """
[[trunk]]
name = "acme"
kind = "registration"
server = "sip.acme.example:5070"
username = "acct-7"
password = "s3cret-pw"
max_channels = 30
"""
# the issue's finding: this caller ID rendered a guest endpoint into pjsip_trunks.conf
INJECTED_CALLER_ID = (
    'caller_id = "\\"Sales\\n\\n[anonymous]\\ntype = endpoint\\ncontext = agents\\n'
    ';\\" <+15550100>"'
)


def _parse(text: str, **env: str) -> None:
    parse_trunks(text, "trunks.toml", PLACES, env)


# ------------------------------------------------------------------ injected values refused
def test_the_issue_injection_caller_id_with_a_newline_is_refused_naming_the_field() -> None:
    with pytest.raises(TrunkError, match=r'trunks.toml: trunk "acme": caller_id has a control '
                                         r"character \('\\n'\)"):
        _parse(REG + INJECTED_CALLER_ID + "\n")


def test_trunk_check_refuses_the_injected_caller_id_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "trunks.toml"
    bad.write_text(REG + INJECTED_CALLER_ID + "\n")
    env = dict(os.environ, OPENDIALER_TRUNKS=str(bad),
               OPENDIALER_RUNTIME_DIR=str(tmp_path / "var"))
    env.pop("OPENDIALER_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "dialer.cli", "trunk", "check"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode != 0
    assert 'trunk "acme": caller_id has a control character' in done.stderr
    assert "anonymous" not in done.stdout
    assert not (tmp_path / "var" / "etc").exists()


@pytest.mark.parametrize(("old", "new", "message"), [
    ('password = "s3cret-pw"', 'password = "pw;rest"', "password has a ';'"),
    ('password = "s3cret-pw"', 'password = "pw\\n[anonymous]"', "password has a control"),
    ('password = "s3cret-pw"', 'password = "pw\\u0000"', "password has a control"),
    ('password = "s3cret-pw"', 'password = " pw"', "password starts or ends with a space"),
    ('username = "acct-7"', 'username = "acct;7"', "username has a ';'"),
    ("max_channels = 30", "max_channels = 30\ncaller_id = '\"A;B\" <+15550100>'",
     "caller_id has a ';'"),
    ("max_channels = 30", "max_channels = 30\ncaller_id = \"\\\"A\\rB\\\" <+15550100>\"",
     "caller_id has a control character"),
    ("max_channels = 30", 'max_channels = 30\ncontext = "agents"',
     "context must be one of the dialplan's contexts for carriers' calls (from-carrier), "
     "got 'agents'"),
    ("max_channels = 30", 'max_channels = 30\ncontext = "dialer-amd"', "got 'dialer-amd'"),
    ('name = "acme"', 'name = "anonymous"', "name 'anonymous' is reserved"),
    ('name = "acme"', 'name = "Anonymous"', "name 'Anonymous' is reserved"),
    ('name = "acme"', 'name = "global"', "name 'global' is reserved"),
    ('name = "acme"', 'name = "system"', "name 'system' is reserved"),
])
def test_values_that_would_break_the_rendered_file_are_refused(old: str, new: str,
                                                               message: str) -> None:
    assert old in REG
    with pytest.raises(TrunkError, match=re.escape(message)):
        _parse(REG.replace(old, new, 1))


def test_a_password_from_the_environment_is_checked_too() -> None:
    text = REG.replace('password = "s3cret-pw"', 'password_env = "ACME_PW"')
    with pytest.raises(TrunkError, match=re.escape("password (from $ACME_PW) has a ';'")):
        _parse(text, ACME_PW="abc;def")
    _parse(text, ACME_PW="abc-def")


def test_a_placeholder_cannot_smuggle_a_newline_into_a_match() -> None:
    text = IP + 'match = ["@@CARRIER_HOST@@"]\n'
    with pytest.raises(TrunkError, match=r"match has a control character"):
        parse_trunks(text, "trunks.toml", {"CARRIER_HOST": "1.2.3.4\n[x]"}, {})


def test_the_carrier_contexts_are_defined_by_our_dialplan() -> None:
    dialplan = (REPO_ROOT / "config/asterisk/extensions.conf").read_text()
    for context in CARRIER_CONTEXTS:
        assert f"\n[{context}]\n" in dialplan
    _parse(REG + 'context = "from-carrier"\n')


def test_check_value_and_reserved_names() -> None:
    assert check_value("plain-Value_1") == "plain-Value_1"
    for bad in ("a\nb", "a\rb", "a\x00b", "a\tb", "a\x7fb", "a;b"):
        with pytest.raises(ValueProblem):
            check_value(bad)
    assert is_reserved("ANONYMOUS") and is_reserved("agent1001") and is_reserved("agent-aor")
    assert not is_reserved("carrier") and not is_reserved("agentx")


# ------------------------------------------------------------------ settings rendered by pbx up
def _settings(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({"OPENDIALER_RUNTIME_DIR": str(tmp_path / "var"), **env})


@pytest.mark.parametrize(("env", "message"), [
    ({"OPENDIALER_ARI_PASSWORD": "pw;x"},
     r"\[pbx\] ari_password \(or OPENDIALER_ARI_PASSWORD\) has a ';'"),
    ({"OPENDIALER_ARI_PASSWORD": "pw\n[x]"}, r"\[pbx\] ari_password .* control character"),
])
def test_settings_rendered_into_asterisk_files_are_checked(tmp_path: Path, env: dict[str, str],
                                                           message: str) -> None:
    settings = _settings(tmp_path, **env)
    with pytest.raises(RenderError, match=message):
        values(settings)
    with pytest.raises(RenderError, match=message):
        render_all(settings)
    assert not (tmp_path / "var" / "etc" / "pbx").exists()


def test_the_seat_passwords_cannot_inject(tmp_path: Path) -> None:
    settings = _settings(tmp_path, OPENDIALER_SEAT_KEY="k\n[anonymous]\n")
    text = agents_conf(settings)
    assert "[anonymous]" not in text
    assert all(check_value(settings.agents.sip_password(n)) for n in settings.agents.numbers())


# ------------------------------------------------------------------ trunk identification
def _endpoints(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    name, opts = "", {}
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            name, opts = line.strip("[]"), {}
        elif "=" in line:
            key, value = (p.strip() for p in line.split("=", 1))
            opts[key] = value
            if key == "type" and value == "endpoint":
                out[name] = opts
    return out


def test_no_trunk_endpoint_is_identified_by_the_from_user() -> None:
    trunks = load_trunks(DEFAULT_PATH, PLACES, env={})
    trunks += parse_trunks(IP + REG, "trunks.toml", PLACES, {})
    endpoints = _endpoints(pjsip_conf(trunks))
    assert set(endpoints) == {"carrier", "carrier-reg", "ipco", "acme"}
    for name, opts in endpoints.items():
        assert opts.get("identify_by") == "ip", name  # the default, username,ip, is not left


def test_the_pbx_identifies_agents_by_auth_user_before_any_from_user() -> None:
    text = (REPO_ROOT / "config/asterisk/pjsip.conf").read_text()
    order = re.search(r"^endpoint_identifier_order = (.*)$", text, re.M)
    assert order and order.group(1).split(",")[0] == "auth_username"
    # the agents' endpoints all have an auth: a From user alone only gets a challenge
    assert "auth = agent1001" in agents_conf(load_settings({}))


# ------------------------------------------------------------------ agent phones are seats
def test_agent_phone_must_be_an_existing_seat() -> None:
    seats = range(1001, 1011)
    assert seat_endpoint("PJSIP/agent1001", seats) == "PJSIP/agent1001"
    for bad in ("PJSIP/agent1011", "PJSIP/carrier", "PJSIP/agent1001/sip:x@y", "Local/1@agents",
                "PJSIP/agent1001\n", "pjsip/agent1001"):
        with pytest.raises(ValueProblem, match="PJSIP/agent1001 to PJSIP/agent1010"):
            seat_endpoint(bad, seats)


def test_agent_add_refuses_a_free_form_phone_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite3"
    env = dict(os.environ, OPENDIALER_DATABASE=str(db), OPENDIALER_RUNTIME_DIR=str(tmp_path),
               P="pw-123456")
    env.pop("OPENDIALER_CONFIG", None)

    def dialer(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dialer.cli", *argv], env=env,
                              capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)

    bad = dialer("agent", "add", "eve", "--password-env", "P", "--sip", "PJSIP/carrier")
    assert bad.returncode != 0
    assert "agent add: --sip 'PJSIP/carrier' is not an agent seat's phone" in bad.stderr
    default = dialer("agent", "add", "eve", "--password-env", "P")
    assert "the default phone (PJSIP/eve; give --sip)" in default.stderr
    ok = dialer("agent", "add", "eve", "--password-env", "P", "--sip", "PJSIP/agent1001")
    assert ok.returncode == 0, ok.stderr
    listed = dialer("agent", "list").stdout
    assert len(listed.splitlines()) == 1 and "PJSIP/agent1001" in listed


# ------------------------------------------------------------------ file modes
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rendered_files_are_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    old = os.umask(0)
    try:
        out = render_all(settings)
    finally:
        os.umask(old)
    var = tmp_path / "var"
    assert _mode(var) == 0o700 and _mode(var / "etc") == 0o700
    files = [p for d in out.values() for p in d.iterdir()]
    assert {"ari.conf", "pjsip_agents.conf", "pjsip_trunks.conf", "manager.conf"} <= {
        p.name for p in files}
    for d in out.values():
        assert _mode(d) == 0o700, d
    for p in files:
        assert _mode(p) == 0o600, p


def test_the_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    from sqlalchemy import text

    from dialer.db.database import open_database

    path = tmp_path / "dialer.sqlite3"
    old = os.umask(0)
    try:
        with open_database(path) as db, db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            sides = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
            assert all(p.exists() for p in sides)  # WAL mode, open connection
            for p in (path, *sides):
                assert _mode(p) == 0o600, p
    finally:
        os.umask(old)


def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    from dialer.db.database import open_database

    path = tmp_path / "old.sqlite3"
    open_database(path).close()
    path.chmod(0o644)
    wal = path.with_name(path.name + "-wal")
    wal.write_bytes(b"")
    wal.chmod(0o644)
    with open_database(path, migrate=False):
        assert _mode(path) == 0o600 and _mode(wal) == 0o600
