"""`dialer pbx up|down|status` on a second, isolated PBX (its own ports and runtime directory), so
the shared session PBX keeps running: up is idempotent, down leaves no process and no mount, a taken
port is named, and status tells what runs and where the logs are."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.config.settings import REPO_ROOT, Settings, load_settings
from dialer.pbx import PbxError
from dialer.pbx.chroot import ChrootBackend, processes_in_ns

pytestmark = [
    pytest.mark.pbx,
    pytest.mark.skipif(os.environ.get("OPENDIALER_PBX_BACKEND") == "docker",
                       reason="exercises the Docker-less back end's processes and mounts"),
]


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[Settings]:
    text = (REPO_ROOT / "config/opendialer.toml").read_text()
    moves = [("sip_port = 5060", "sip_port = 5160"), ("http_port = 8088", "http_port = 8188"),
             ("rtp_start = 10000", "rtp_start = 12000"), ("rtp_end = 10999", "rtp_end = 12099"),
             ("sip_port = 5080", "sip_port = 5180"), ("rtp_start = 11000", "rtp_start = 12100"),
             ("rtp_end = 11999", "rtp_end = 12199")]
    for old, new in moves:
        assert old in text
        text = text.replace(old, new)
    config = tmp_path / "opendialer.toml"
    config.write_text(text)
    yield load_settings({"OPENDIALER_CONFIG": str(config),
                         "OPENDIALER_RUNTIME_DIR": str(tmp_path / "var")})


def _mounts_of(root: str, runtime: Path) -> list[str]:
    """Bind mounts of `runtime` into `root`, seen from any process (each mount namespace)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "mountinfo").read_text()
        except OSError:
            continue
        found += [ln for ln in text.splitlines() if f" {runtime} {root}/opendialer " in ln]
    return found


def test_up_is_idempotent_and_down_leaves_nothing_behind(isolated: Settings) -> None:
    be = ChrootBackend(isolated, log=lambda _m: None)
    try:
        st = be.up()
        assert st.running and "22." in st.version
        state = be._state()
        pids = {n: i["pid"] for n, i in state["instances"].items()}
        namespaces = [i["ns"] for i in state["instances"].values()]
        assert all(namespaces) and len(set(namespaces)) == 2
        assert all(processes_in_ns(ns) for ns in namespaces)
        assert _mounts_of(state["rootfs"], isolated.runtime_dir)

        again = be.up()
        assert again.running
        assert {n: i["pid"] for n, i in be._state()["instances"].items()} == pids

        status = be.status()
        assert [i.name for i in status.instances if i.running] == ["pbx", "carrier"]
        assert all(str(isolated.runtime_dir) in str(i.log) for i in status.instances)
    finally:
        stopped = be.down()
    assert sorted(stopped) == ["carrier", "pbx"]
    for ns in namespaces:
        assert processes_in_ns(ns) == []
    assert _mounts_of(state["rootfs"], isolated.runtime_dir) == []
    assert not be.status().running
    assert be.down() == []


def test_a_taken_port_is_named(isolated: Settings) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", isolated.pbx.sip_port))
    try:
        with pytest.raises(PbxError, match=r"127\.0\.0\.1:5160 for the PBX SIP \(udp\) is taken"):
            ChrootBackend(isolated, log=lambda _m: None).up()
    finally:
        blocker.close()
