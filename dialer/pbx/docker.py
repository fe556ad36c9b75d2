"""Docker back end: the PBX and the carrier as the two services of `docker/compose.yaml`.

Used where a Docker engine answers (or with OPENDIALER_PBX_BACKEND=docker). The image
(`docker/asterisk/Dockerfile`) holds the same Debian sid packages as the Docker-less root
filesystem; the rendered configuration and the state directories are the same `var/` tree,
mounted at `/opendialer`. Both services use the host's network, so they listen on loopback as the
chroot instances do.

The image's base is the registry's `debian:sid` where a registry answers, else the Docker-less
back end's root filesystem imported as a local image (`docker import`); `build` says which.
Compose runs the services (`docker compose`, v2, or `docker-compose`, v1 or v2); everything else
(state, health, `asterisk -rx`, the restart count) asks the engine about the project's containers by
the labels both compose versions set. Docker restarts an instance whose Asterisk dies
(`restart: unless-stopped`); the dialer's ARI client reconnects and resyncs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
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
from dialer.pbx.rootfs import ensure_rootfs, rootfs_path

COMPOSE = REPO_ROOT / "docker" / "compose.yaml"
IMAGE = "opendialer/asterisk:22"
REGISTRY_BASE = "debian:sid"
LOCAL_BASE = "opendialer/asterisk-base"   # tagged with the root filesystem's recipe digest
DEFAULT_PROJECT = "opendialer"            # docker/.env says the same for users' own commands
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"


def _docker(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout, **kw)
    except FileNotFoundError:
        raise PbxError("the `docker` command is not installed (scripts/setup with "
                       "OPENDIALER_PBX_BACKEND=docker installs it)") from None
    except subprocess.TimeoutExpired:
        raise PbxError(f"`docker {' '.join(args[:3])}` did not answer in {timeout:.0f} s") from None


def engine_answers() -> bool:
    """True when a Docker engine (not only the client) is reachable."""
    try:
        res = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and bool(res.stdout.strip())


def compose_command() -> list[str]:
    """`docker compose` (the v2 plugin) where it exists, else a standalone `docker-compose`."""
    for cmd in (["docker", "compose"], ["docker-compose"]):
        try:
            res = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if res.returncode == 0:
            return cmd
    raise PbxError("neither `docker compose` nor `docker-compose` runs; install compose "
                   "(scripts/setup with OPENDIALER_PBX_BACKEND=docker does)")


def project_name(settings: Settings) -> str:
    """`opendialer` for the default runtime directory (what users' own compose commands see);
    another runtime directory (a test's, a second checkout's) is a project of its own."""
    if settings.runtime_dir.resolve() == (REPO_ROOT / "var").resolve():
        return DEFAULT_PROJECT
    digest = hashlib.sha256(str(settings.runtime_dir.resolve()).encode()).hexdigest()[:8]
    return f"{DEFAULT_PROJECT}-{digest}"


@dataclass(frozen=True)
class Container:
    service: str
    name: str
    id: str
    state: str          # created, running, restarting, exited, ...
    health: str         # starting, healthy, unhealthy, or "" without a healthcheck
    restarts: int
    pid: int            # host pid of the container's Asterisk (0 when not running)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        health = f", {self.health}" if self.health else ""
        return f"container {self.name} {self.state}{health}, restarts {self.restarts}"


def recipe_digest(base: str) -> str:
    """What the image is built from: the Dockerfile's text and the base image's name."""
    text = (COMPOSE.parent / "asterisk" / "Dockerfile").read_text() + "|" + base
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class DockerBackend:
    name = "docker"

    def __init__(self, settings: Settings, log: Any = print) -> None:
        self.settings = settings
        self.log = log
        self.project = project_name(settings)
        self._compose_cmd: list[str] | None = None
        self._base = os.environ.get("OPENDIALER_IMAGE_BASE", "")

    # ------------------------------------------------------------------ engine and compose
    def _compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        if self._compose_cmd is None:
            self._compose_cmd = compose_command()
        env = dict(os.environ, OPENDIALER_RUNTIME_DIR=str(self.settings.runtime_dir.resolve()))
        if self._base:
            env["OPENDIALER_IMAGE_BASE"] = self._base
            env["OPENDIALER_IMAGE_RECIPE"] = recipe_digest(self._base)
        try:
            return subprocess.run([*self._compose_cmd, "-p", self.project, "-f", str(COMPOSE),
                                   *args], env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PbxError(f"`compose {' '.join(args)}` did not finish in {timeout:.0f} s") \
                from None

    def containers(self, tries: int = 3) -> dict[str, Container]:
        """The project's containers by service, whatever their state."""
        res = _docker("ps", "-aq", "--filter", f"label={LABEL_PROJECT}={self.project}")
        if res.returncode != 0:
            raise PbxError(f"the Docker engine does not answer ({res.stderr.strip()}); "
                           "OPENDIALER_PBX_BACKEND=docker bash scripts/setup starts one")
        ids = res.stdout.split()
        if not ids:
            return {}
        res = _docker("inspect", *ids)
        if res.returncode != 0:
            if tries > 1:   # one went away meanwhile: ask again
                time.sleep(0.2)
                return self.containers(tries - 1)
            raise PbxError(f"`docker inspect` of the {self.project} containers failed: "
                           f"{res.stderr.strip()}")
        found: dict[str, Container] = {}
        for c in json.loads(res.stdout):
            st = c["State"]
            service = c["Config"]["Labels"].get(LABEL_SERVICE, c["Name"])
            found[service] = Container(service, c["Name"].lstrip("/"), c["Id"][:12],
                                       st["Status"], (st.get("Health") or {}).get("Status", ""),
                                       int(c.get("RestartCount", 0)), int(st.get("Pid") or 0))
        return found

    def _running_services(self) -> set[str]:
        return {s for s, c in self.containers().items() if c.running}

    def log_files(self) -> dict[str, Path]:
        base = self.settings.runtime_dir / "state"
        return {n: base / n / "log" / "messages.log" for n in INSTANCES}

    # ------------------------------------------------------------------ image
    def _image_recipe(self) -> str | None:
        res = _docker("image", "inspect", "--format",
                      '{{index .Config.Labels "org.opendialer.recipe"}}', IMAGE)
        return res.stdout.strip() if res.returncode == 0 else None

    def choose_base(self) -> str:
        """The registry's debian:sid where a registry answers, else the local root filesystem
        imported as an image. Says which, and why."""
        if self._base:
            self.log(f"pbx: image base {self._base} (OPENDIALER_IMAGE_BASE)")
            return self._base
        if _docker("image", "inspect", REGISTRY_BASE).returncode == 0:
            self.log(f"pbx: image base {REGISTRY_BASE} (from the registry, already pulled)")
            self._base = REGISTRY_BASE
            return self._base
        pull = _docker("pull", REGISTRY_BASE, timeout=300)
        if pull.returncode == 0:
            self.log(f"pbx: image base {REGISTRY_BASE} (pulled from the registry)")
            self._base = REGISTRY_BASE
            return self._base
        why = (pull.stderr.strip().splitlines() or ["no answer"])[-1]
        why = why.removeprefix("Error response from daemon: ")
        root = ensure_rootfs(self.settings.cache_dir, log=self.log)
        tag = local_base_tag(self.settings.cache_dir)
        self.log(f"pbx: no registry answered ({why}); image base {tag}: the local Debian sid "
                 f"root filesystem {root}")
        if _docker("image", "inspect", tag).returncode != 0:
            self._import(root, tag)
        self._base = tag
        return tag

    def _import(self, root: Path, tag: str) -> None:
        self.log(f"pbx: importing {root} as {tag}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        try:
            res = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout,
                                 capture_output=True, text=True, timeout=600)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()
        if res.returncode != 0 or tar.returncode != 0:
            raise PbxError(f"`docker import` of {root} failed: {res.stderr.strip()}")

    def build(self) -> str:
        base = self.choose_base()
        recipe = recipe_digest(base)
        if self._image_recipe() == recipe:
            return f"image {IMAGE} (built from {base}, up to date)"
        self.log(f"pbx: building image {IMAGE} from {base} (docker/asterisk/Dockerfile)")
        started = time.monotonic()
        res = self._compose("build", "pbx")
        if res.returncode != 0:
            tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-15:])
            raise PbxError(f"building {IMAGE} from {base} failed:\n{tail}")
        self.log(f"pbx: image built in {time.monotonic() - started:.0f} s")
        return f"image {IMAGE} (built from {base})"

    # ------------------------------------------------------------------ up / down
    def up(self) -> Status:
        present = self.containers()
        if present and all(present.get(n) and present[n].running for n in INSTANCES):
            self.log("pbx: already running")
            return self.status()
        if present:
            self.log("pbx: only part of the PBX runs; restarting it")
            self.down()
        check_ports_free(self.settings)
        self.build()
        render_all(self.settings)
        runtime = self.settings.runtime_dir
        for name in INSTANCES:
            for d in state_dirs(self.settings, name):
                d.mkdir(parents=True, exist_ok=True)
            for stale in ("asterisk.ctl", "asterisk.pid"):
                (runtime / "state" / name / "run" / stale).unlink(missing_ok=True)
            current = runtime / "state" / name / "log" / "messages.log"
            if current.exists():
                current.replace(current.with_name("messages.log.1"))
        self.log(f"pbx: starting compose project {self.project}")
        res = self._compose("up", "-d", "--no-build")
        deadline = time.monotonic() + 90
        try:
            if res.returncode != 0:
                raise PbxError(f"compose up failed:\n{res.stderr.strip()}")
            wait_for_ari(self.settings, deadline, lambda: "pbx" in self._running_services())
            for name in ("carrier", "pbx"):
                self._wait_booted(name, deadline)
        except PbxError as exc:
            detail = "".join(f"\n--- {n} container log:\n{self._container_tail(n)}"
                             for n in INSTANCES)
            self.down()
            raise PbxError(f"{exc}{detail}") from None
        self._wait_healthy(time.monotonic() + 15)
        return self.status()

    def _wait_healthy(self, deadline: float) -> None:
        """Give the healthchecks (every 3 s) the time to pass once, so that `up` shows
        "healthy"; a check that does not pass in time is shown by `status`, not raised."""
        while time.monotonic() < deadline:
            if all(c.health == "healthy" for c in self.containers().values()):
                return
            time.sleep(0.5)

    def _wait_booted(self, name: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                self.rx(name, "core waitfullybooted",
                        timeout=max(1.0, deadline - time.monotonic()))
                return
            except PbxError:
                time.sleep(0.3)
        raise PbxError(f"the {name} container did not finish booting in time")

    def _container_tail(self, service: str, lines: int = 15) -> str:
        c = self.containers().get(service)
        if c is None:
            return "(no container)"
        res = _docker("logs", "--tail", str(lines), c.id)
        return (res.stdout + res.stderr).strip() or "(empty)"

    def down(self) -> list[str]:
        """Stop and remove both containers, and any network or volume of the project."""
        running = sorted(self._running_services())
        res = self._compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        if res.returncode != 0:
            raise PbxError(f"compose down failed:\n{res.stderr.strip()}")
        left = self.containers()
        if left:   # e.g. made by another compose version: remove them by their labels
            _docker("rm", "-f", *(c.id for c in left.values()))
        return running

    # ------------------------------------------------------------------ rx / status / logs
    def rx(self, instance: str, command: str, timeout: float = 10) -> str:
        c = self.containers().get(instance)
        if c is None or not c.running:
            state = c.describe() if c else "no container"
            raise PbxError(f"the {instance} instance is not running ({state}; `dialer pbx up`)")
        res = _docker("exec", c.id, "asterisk", "-C", f"/opendialer/etc/{instance}/asterisk.conf",
                      "-rx", command, timeout=timeout)
        if res.returncode != 0 or "Unable to connect to remote asterisk" in res.stdout:
            raise PbxError(f"{instance}: `{command}` failed: {(res.stdout + res.stderr).strip()}")
        return res.stdout

    def status(self) -> Status:
        present = self.containers()
        logs = self.log_files()
        st = Status(backend=self.name, location=f"compose project {self.project}, image "
                    f"{IMAGE}, {COMPOSE.relative_to(REPO_ROOT)}")
        for name in INSTANCES:
            c = present.get(name)
            st.instances.append(InstanceStatus(name, bool(c and c.running),
                                               c.describe() if c else "no container", logs[name]))
        if st.running:
            try:
                st.version = self.rx("pbx", "core show version").strip()
                st.endpoints = endpoint_summary(self.rx("pbx", "pjsip show endpoints"))
            except PbxError as exc:
                st.version = f"(not answering: {exc})"
        return st

    def follow_logs(self, follow: bool, lines: int) -> int:
        """The containers' output (`compose logs`: Asterisk's console, the same lines as its
        messages.log files, which `status` names)."""
        if not self.containers():
            print("pbx: no container (`dialer pbx up`)")
            return 1
        if self._compose_cmd is None:
            self._compose_cmd = compose_command()
        cmd = [*self._compose_cmd, "-p", self.project, "-f", str(COMPOSE), "logs",
               "--tail", str(lines), *(["--follow"] if follow else [])]
        env = dict(os.environ, OPENDIALER_RUNTIME_DIR=str(self.settings.runtime_dir.resolve()))
        return subprocess.call(cmd, env=env)


def local_base_tag(cache_dir: Path) -> str:
    """The local base image's name: the root filesystem's recipe digest is its tag."""
    return f"{LOCAL_BASE}:{rootfs_path(cache_dir).name.removeprefix('rootfs-')}"
