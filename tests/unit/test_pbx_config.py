"""Settings, configuration rendering and the root-filesystem recipe: pure, no PBX needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialer.config.secrets import seat_password
from dialer.config.settings import REPO_ROOT, SettingsError, load_settings
from dialer.pbx.render import RenderError, agents_conf, render_all, render_text
from dialer.pbx.rootfs import Recipe, rootfs_path

BASE = (REPO_ROOT / "config/opendialer.toml").read_text()


def _load(tmp_path: Path, text: str, **env: str) -> object:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    return load_settings({"OPENDIALER_CONFIG": str(cfg), "OPENDIALER_RUNTIME_DIR":
                          str(tmp_path / "var"), **env})


def test_shipped_settings_listen_on_loopback() -> None:
    s = load_settings({})
    assert s.pbx.bind == "127.0.0.1" and s.carrier.host == "127.0.0.1"
    assert s.pbx.ari_url == "http://127.0.0.1:8088/ari"
    one, two = s.agents.sip_password(1001), s.agents.sip_password(1002)
    assert len(one) == 24 and one != two and "1001" not in one


def test_environment_overrides_the_installations_secrets(tmp_path: Path) -> None:
    s = _load(tmp_path, BASE, OPENDIALER_ARI_PASSWORD="s3cret", OPENDIALER_SEAT_KEY="k")
    assert s.pbx.ari_password == "s3cret"  # type: ignore[attr-defined]
    assert s.agents.sip_password(1002) == seat_password("k", 1002)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("sip_port = 5060", "sip_port = 70000", r"\[pbx\] sip_port must be a port 1-65535, got 70000"),
    ("http_port = 8088", 'http_port = "8088"', r"\[pbx\] http_port must be an integer"),
    ('ari_user = "dialer"\n', "", r"\[pbx\] ari_user is missing"),
    ("rtp_end = 10999", "rtp_end = 9000", r"\[pbx\] rtp_start \(10000\) must be below rtp_end"),
    ("sip_port = 5080", "sip_port = 5060", r"cannot share SIP port 5060"),
    ("[agents]", "[agentz]", r"section \[agents\] is missing"),
    ("[pbx]", "[pbx", r"not valid TOML"),
])
def test_bad_settings_name_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(SettingsError, match=message):
        _load(tmp_path, BASE.replace(old, new, 1))


def test_missing_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nope.toml: configuration file not found"):
        load_settings({"OPENDIALER_CONFIG": str(tmp_path / "nope.toml")})


def test_render_fills_every_placeholder_and_writes_agent_seats(tmp_path: Path) -> None:
    s = _load(tmp_path, BASE.replace("count = 20", "count = 3"))
    out = render_all(s)  # type: ignore[arg-type]
    assert set(out) == {"pbx", "carrier"}
    for directory in out.values():
        for f in directory.iterdir():
            assert not re.search(r"@@[A-Z_]+@@", f.read_text()), f
    pjsip = (out["pbx"] / "pjsip.conf").read_text()
    assert "bind = 127.0.0.1:5060" in pjsip.replace("bind=", "bind = ")
    agents = (out["pbx"] / "pjsip_agents.conf").read_text()
    assert [ln for ln in agents.splitlines() if ln.startswith("[agent") and "endpoint" in ln] == [
        "[agent1001](agent-endpoint)", "[agent1002](agent-endpoint)",
        "[agent1003](agent-endpoint)"]
    assert (out["carrier"] / "extensions.conf").exists()
    # rendering again replaces the tree (no stale files)
    (out["pbx"] / "stale.conf").write_text("x")
    render_all(s)  # type: ignore[arg-type]
    assert not (out["pbx"] / "stale.conf").exists()


def test_unknown_placeholder_is_an_error_naming_it() -> None:
    with pytest.raises(RenderError, match="x.conf: unknown placeholder @@NOPE@@"):
        render_text("a=@@NOPE@@", {"OK": "1"}, Path("x.conf"))
    assert render_text("a=@@OK@@ ${EXTEN}", {"OK": "1"}, Path("x.conf")) == "a=1 ${EXTEN}"


def test_agents_conf_uses_the_password_of_each_seat() -> None:
    s = load_settings({"OPENDIALER_SEAT_KEY": "k"})
    text = agents_conf(s)
    assert f"username = agent1001\npassword = {seat_password('k', 1001)}\n" in text
    assert f"username = agent1002\npassword = {seat_password('k', 1002)}\n" in text


def test_rootfs_path_changes_with_the_recipe(tmp_path: Path) -> None:
    a = rootfs_path(tmp_path)
    assert a == rootfs_path(tmp_path, Recipe())
    assert a != rootfs_path(tmp_path, Recipe(packages=("asterisk",)))
    assert a.parent == tmp_path and a.name.startswith("rootfs-")


def test_dockerfile_installs_the_same_packages_as_the_rootfs_recipe() -> None:
    dockerfile = (REPO_ROOT / "docker/asterisk/Dockerfile").read_text()
    assert f"debian:{Recipe().suite}" in dockerfile
    for package in Recipe().packages:
        assert package in dockerfile


def test_the_agent_links_connection_caps_are_settings(tmp_path: Path) -> None:
    from dialer.service.guard import Guard

    s = _load(tmp_path, BASE)
    assert (s.service.max_connections, s.service.max_connections_per_address) == (500, 200)  # type: ignore[attr-defined]
    s = _load(tmp_path, BASE.replace("[service]\n", "[service]\nmax_connections = 40\n"
                                      "max_connections_per_address = 3\n", 1))
    guard = Guard.from_settings(s.service)  # type: ignore[attr-defined]
    assert [guard.admit("10.0.0.7") for _ in range(3)] == [None] * 3
    assert "too many connections from 10.0.0.7 (at most 3)" in (guard.admit("10.0.0.7") or "")
    assert guard.admit("10.0.0.8") is None and guard.max_total == 40


@pytest.mark.parametrize(("lines", "message"), [
    ("max_connections = 0\n", r"\[service\] max_connections must be 1-100000, got 0"),
    ('max_connections = "many"\n', r"\[service\] max_connections must be an integer"),
    ("max_connections = 10\nmax_connections_per_address = 20\n",
     r"max_connections_per_address \(20\) cannot exceed max_connections \(10\)"),
])
def test_bad_connection_caps_name_the_setting(tmp_path: Path, lines: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _load(tmp_path, BASE.replace("[service]\n", "[service]\n" + lines, 1))
