"""`dialer pbx build|up|status|logs|down` on the Docker back end, on a PBX of its own (its own
ports, runtime directory and compose project), so the session's PBX keeps running: the build says
which image base it chose, up is idempotent, status shows each container's state and health (the
healthcheck asks Asterisk), logs shows the containers' output, down leaves no container, network
or volume of the project, and a taken port is named before anything starts.

Runs in the Docker tier (`bash scripts/docker-tier`, run by scripts/test after the main run)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from dialer.config.settings import REPO_ROOT, Settings, load_settings
from dialer.pbx import PbxError
from dialer.pbx.docker import LABEL_PROJECT, DockerBackend

pytestmark = [pytest.mark.docker, pytest.mark.pbx]

# this module's own ports (the session PBX, test_pbx_lifecycle and test_trunks use others)
PORTS = [("sip_port = 5060", "sip_port = 7160"), ("http_port = 8088", "http_port = 8398"),
         ("rtp_start = 10000", "rtp_start = 12600"), ("rtp_end = 10999", "rtp_end = 12699"),
         ("sip_port = 5080", "sip_port = 7180"), ("rtp_start = 11000", "rtp_start = 12700"),
         ("rtp_end = 11999", "rtp_end = 12799")]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("docker-pbx")
    text = (REPO_ROOT / "config/opendialer.toml").read_text()
    for old, new in PORTS:
        assert old in text
        text = text.replace(old, new)
    (base / "opendialer.toml").write_text(text)
    return {"OPENDIALER_CONFIG": str(base / "opendialer.toml"),
            "OPENDIALER_RUNTIME_DIR": str(base / "var"), "OPENDIALER_PBX_BACKEND": "docker"}


@pytest.fixture(scope="module")
def isolated(env: dict[str, str]) -> Settings:
    return load_settings(env)


def dialer(env: dict[str, str], *args: str,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """The `dialer` command as an operator runs it, on this module's PBX."""
    return subprocess.run([sys.executable, "-m", "dialer.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **env})


def project_objects(project: str) -> dict[str, list[str]]:
    """The project's containers (any state), networks and volumes, by the compose label."""
    label = f"label={LABEL_PROJECT}={project}"
    found = {}
    for kind, cmd in (("containers", ["ps", "-aq"]), ("networks", ["network", "ls", "-q"]),
                      ("volumes", ["volume", "ls", "-q"])):
        res = subprocess.run(["docker", *cmd, "--filter", label], capture_output=True,
                             text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        found[kind] = res.stdout.split()
    return found


def wait_healthy(be: DockerBackend, seconds: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    health: dict[str, str] = {}
    while time.monotonic() < deadline:
        health = {s: c.health for s, c in be.containers().items()}
        if health and all(h == "healthy" for h in health.values()):
            break
        time.sleep(0.5)
    return health


def test_build_says_which_image_base_it_chose(env: dict[str, str]) -> None:
    res = dialer(env, "pbx", "build", timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "image base debian:sid (" in out or "no registry answered" in out, out
    if "no registry answered" in out:
        assert "image base opendialer/asterisk-base:" in out and "root filesystem" in out
    assert "pbx: ready to start (docker: image opendialer/asterisk:22" in out
    inspect = subprocess.run(["docker", "image", "inspect", "opendialer/asterisk:22"],
                             capture_output=True, text=True, timeout=30)
    image = json.loads(inspect.stdout)[0]
    assert image["Config"]["Entrypoint"] == ["/usr/sbin/asterisk", "-f", "-n"]
    assert image["Config"]["Labels"]["org.opendialer.recipe"]


def test_up_status_logs_and_down_leave_nothing_behind(env: dict[str, str],
                                                      isolated: Settings) -> None:
    be = DockerBackend(isolated, log=lambda _m: None)
    assert be.project.startswith("opendialer-") and be.project != "opendialer"
    try:
        up = dialer(env, "pbx", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "pbx: up in" in up.stdout and "Asterisk 22." in up.stdout
        first = be.containers()
        assert set(first) == {"pbx", "carrier"} and all(c.running for c in first.values())

        again = dialer(env, "pbx", "up")
        assert again.returncode == 0 and "pbx: already running" in again.stdout
        assert {s: c.id for s, c in be.containers().items()} == \
            {s: c.id for s, c in first.items()}

        assert wait_healthy(be) == {"pbx": "healthy", "carrier": "healthy"}
        status = dialer(env, "pbx", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        for service in ("pbx", "carrier"):
            line = next(ln for ln in status.stdout.splitlines()
                        if ln.strip().startswith(service + " "))
            assert "running" in line and "healthy" in line and "restarts 0" in line, line
            assert first[service].name in line
        assert "Endpoint:  carrier" in status.stdout

        logs = dialer(env, "pbx", "logs", "-n", "200")
        assert logs.returncode == 0, logs.stderr
        assert logs.stdout.count("Asterisk Ready.") >= 2, logs.stdout[-2000:]
        assert "pbx" in logs.stdout and "carrier" in logs.stdout
        assert "Asterisk 22." in be.rx("carrier", "core show version")
    finally:
        down = dialer(env, "pbx", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "pbx: stopped carrier, pbx" in down.stdout
    assert project_objects(be.project) == {"containers": [], "networks": [], "volumes": []}
    after = dialer(env, "pbx", "status")
    assert after.returncode == 3 and "no container" in after.stdout
    assert "nothing (was not running)" in dialer(env, "pbx", "down").stdout


def test_a_taken_port_is_named_and_nothing_starts(isolated: Settings) -> None:
    be = DockerBackend(isolated, log=lambda _m: None)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", isolated.pbx.http_port))
    blocker.listen()
    try:
        with pytest.raises(PbxError, match=r"127\.0\.0\.1:8398 for the PBX ARI/HTTP \(tcp\) "
                                           r"is taken"):
            be.up()
    finally:
        blocker.close()
    assert project_objects(be.project)["containers"] == []


def test_logs_without_containers_say_so(env: dict[str, str]) -> None:
    res = dialer(env, "pbx", "logs")
    assert res.returncode == 1 and "no container" in res.stdout
