"""Docker back end: the PBX and the carrier as two services of `docker/compose.yaml`.

Used where a Docker engine answers. The image (`docker/asterisk/Dockerfile`) installs the same
Debian sid packages as the Docker-less root filesystem; the rendered configuration and the state
directories are the same `var/` tree, mounted at `/opendialer`.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from dialer.config.settings import REPO_ROOT, Settings
from dialer.pbx.base import (
    INSTANCES,
    InstanceStatus,
    PbxError,
    Status,
    check_ports_free,
    endpoint_summary,
    wait_for_ari,
)
from dialer.pbx.render import render_all, state_dirs

COMPOSE = REPO_ROOT / "docker" / "compose.yaml"


def engine_answers() -> bool:
    """True when a Docker engine (not only the client) is reachable."""
    try:
        res = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and bool(res.stdout.strip())


class DockerBackend:
    name = "docker"

    def __init__(self, settings: Settings, log: Any = print) -> None:
        self.settings = settings
        self.log = log

    def _compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, OPENDIALER_RUNTIME_DIR=str(self.settings.runtime_dir))
        return subprocess.run(["docker", "compose", "-f", str(COMPOSE), *args], env=env,
                              capture_output=True, text=True, timeout=timeout)

    def _running_services(self) -> set[str]:
        res = self._compose("ps", "--services", "--status", "running", timeout=30)
        return set(res.stdout.split()) if res.returncode == 0 else set()

    def log_files(self) -> dict[str, Path]:
        base = self.settings.runtime_dir / "state"
        return {n: base / n / "log" / "messages.log" for n in INSTANCES}

    def build(self) -> str:
        self.log("pbx: docker compose build (installs Asterisk in the image)")
        res = self._compose("build")
        if res.returncode != 0:
            raise PbxError(f"docker compose build failed:\n{res.stderr.strip()}")
        return "image opendialer/asterisk:22"

    def up(self) -> Status:
        if self._running_services() >= set(INSTANCES):
            self.log("pbx: already running")
            return self.status()
        check_ports_free(self.settings)
        render_all(self.settings)
        for name in INSTANCES:
            for d in state_dirs(self.settings, name):
                d.mkdir(parents=True, exist_ok=True)
        self.log("pbx: docker compose up (the first build installs Asterisk in the image)")
        res = self._compose("up", "-d", "--build")
        if res.returncode != 0:
            raise PbxError(f"docker compose up failed:\n{res.stderr.strip()}")
        deadline = time.monotonic() + 90
        wait_for_ari(self.settings, deadline, lambda: "pbx" in self._running_services())
        while time.monotonic() < deadline:
            try:
                self.rx("carrier", "core waitfullybooted")
                break
            except PbxError:
                time.sleep(0.5)
        return self.status()

    def down(self) -> list[str]:
        running = sorted(self._running_services())
        res = self._compose("down", "--timeout", "10")
        if res.returncode != 0:
            raise PbxError(f"docker compose down failed:\n{res.stderr.strip()}")
        return running

    def rx(self, instance: str, command: str, timeout: float = 10) -> str:
        res = self._compose("exec", "-T", instance, "asterisk", "-C",
                            f"/opendialer/etc/{instance}/asterisk.conf", "-rx", command,
                            timeout=timeout)
        if res.returncode != 0:
            raise PbxError(f"{instance}: `{command}` failed: {(res.stdout + res.stderr).strip()}")
        return res.stdout

    def status(self) -> Status:
        running = self._running_services()
        logs = self.log_files()
        st = Status(backend=self.name, location=f"docker compose project in {COMPOSE}")
        for name in INSTANCES:
            st.instances.append(InstanceStatus(name, name in running,
                                               "container running" if name in running
                                               else "not running", logs[name]))
        if st.running:
            try:
                st.version = self.rx("pbx", "core show version").strip()
                st.endpoints = endpoint_summary(self.rx("pbx", "pjsip show endpoints"))
            except PbxError as exc:
                st.version = f"(not answering: {exc})"
        return st
