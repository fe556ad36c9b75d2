"""Docker-less back end: Asterisk from the cached Debian sid root filesystem, under `chroot`.

Each instance runs as `unshare --mount --pid --fork --kill-child` -> `chroot ROOTFS asterisk -f`:
its own mount namespace holds the bind mounts of the runtime directory (`var/` at `/opendialer`)
and of a generated `/etc/hosts`, and its own PID namespace makes Asterisk PID 1, so killing the
`unshare` process ends everything the instance started and the kernel drops its mounts. The host
shares its network (loopback) with the instances. Needs root.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from dialer.config.settings import Settings
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
from dialer.pbx.rootfs import ensure_rootfs, is_ready, rootfs_path

START_SCRIPT = (
    'mount --bind "$1" "$2/opendialer" && mount --bind "$3" "$2/etc/hosts" && '
    'exec chroot "$2" /usr/sbin/asterisk -f -n -C "$4"'
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def processes_in_ns(ns: str) -> list[int]:
    """Host PIDs of every process in the PID namespace `ns` (e.g. 'pid:[4026532]')."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _pid_ns(int(entry.name)) == ns:
            found.append(int(entry.name))
    return found


class ChrootBackend:
    name = "chroot"

    def __init__(self, settings: Settings, log: Any = print) -> None:
        self.settings = settings
        self.log = log
        self.state_file = settings.runtime_dir / "pbx-chroot.json"

    # ------------------------------------------------------------------ state
    def _state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def _running(self, state: dict[str, Any], name: str) -> bool:
        inst = state.get("instances", {}).get(name)
        return bool(inst) and _alive(inst["pid"])

    def log_files(self) -> dict[str, Path]:
        base = self.settings.runtime_dir / "state"
        return {n: base / n / "log" / "messages.log" for n in INSTANCES}

    def build(self) -> str:
        return str(ensure_rootfs(self.settings.cache_dir, log=self.log))

    # ------------------------------------------------------------------ up
    def up(self) -> Status:
        if os.geteuid() != 0:
            raise PbxError("the Docker-less PBX needs root (it uses chroot and mount/PID "
                           "namespaces); run as root, or on a machine with a Docker engine")
        state = self._state()
        if all(self._running(state, n) for n in INSTANCES):
            self.log("pbx: already running")
            return self.status()
        if any(self._running(state, n) for n in INSTANCES):
            self.log("pbx: only part of the PBX runs; restarting it")
            self.down()
        check_ports_free(self.settings)
        root = ensure_rootfs(self.settings.cache_dir, log=self.log)
        render_all(self.settings)
        runtime = self.settings.runtime_dir
        for name in INSTANCES:
            for d in state_dirs(self.settings, name):
                d.mkdir(parents=True, exist_ok=True)
            for stale in ("asterisk.ctl", "asterisk.pid"):
                (runtime / "state" / name / "run" / stale).unlink(missing_ok=True)
            for log_name in ("messages.log", "stdout.log"):
                current = runtime / "state" / name / "log" / log_name
                if current.exists():
                    current.replace(current.with_name(log_name + ".1"))
        hosts = runtime / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n127.0.1.1 {socket.gethostname()}\n"
                         "::1 localhost ip6-localhost\n")
        state = {"rootfs": str(root), "instances": {}}
        for name in INSTANCES:
            out = (runtime / "state" / name / "log" / "stdout.log").open("ab")
            cmd = ["unshare", "--mount", "--pid", "--fork", "--kill-child",
                   f"--mount-proc={root}/proc", "--", "/bin/sh", "-c", START_SCRIPT, "sh",
                   str(runtime), str(root), str(hosts),
                   f"/opendialer/etc/{name}/asterisk.conf"]
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            out.close()
            state["instances"][name] = {"pid": proc.pid, "ns": None,
                                        "started": time.time()}
        self._save(state)
        deadline = time.monotonic() + 60
        try:
            self._record_namespaces(state, deadline)
            wait_for_ari(self.settings, deadline,
                         lambda: self._running(state, "pbx"))
            self._wait_booted("carrier", deadline)
            self._wait_booted("pbx", deadline)
        except PbxError as exc:
            tails = {n: self._tail(p) for n, p in self.log_files().items()}
            self.down()
            detail = "".join(f"\n--- {n} log ({p}):\n{tails[n]}"
                             for n, p in self.log_files().items())
            raise PbxError(f"{exc}{detail}") from None
        return self.status()

    def _record_namespaces(self, state: dict[str, Any], deadline: float) -> None:
        for name, inst in state["instances"].items():
            while time.monotonic() < deadline:
                kids = _children(inst["pid"])
                if kids:
                    inst["ns"] = _pid_ns(kids[0])
                    break
                if not _alive(inst["pid"]):
                    raise PbxError(f"the {name} instance exited at once")
                time.sleep(0.05)
        self._save(state)

    def _wait_booted(self, name: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                self.rx(name, "core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                return
            except PbxError:
                if not self._running(self._state(), name):
                    raise PbxError(f"the {name} instance exited while starting") from None
                time.sleep(0.2)
        raise PbxError(f"the {name} instance did not finish booting in time")

    @staticmethod
    def _tail(path: Path, lines: int = 15) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------ rx
    def _asterisk_pid(self, name: str) -> int:
        inst = self._state().get("instances", {}).get(name)
        if not inst or not _alive(inst["pid"]):
            raise PbxError(f"the {name} instance is not running (`dialer pbx up`)")
        kids = _children(inst["pid"])
        if not kids:
            raise PbxError(f"the {name} instance has no Asterisk process yet")
        return kids[0]

    def rx(self, instance: str, command: str, timeout: float = 10) -> str:
        """Run an Asterisk CLI command in an instance (`asterisk -rx` inside its namespace)."""
        pid = self._asterisk_pid(instance)
        root = self._state()["rootfs"]
        cmd = ["nsenter", f"--target={pid}", "--mount", "--", "chroot", root,
               "/usr/sbin/asterisk", "-C", f"/opendialer/etc/{instance}/asterisk.conf",
               "-rx", command]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PbxError(f"{instance}: `{command}` timed out") from None
        if res.returncode != 0 or "Unable to connect to remote asterisk" in res.stdout:
            raise PbxError(f"{instance}: `{command}` failed: {(res.stdout + res.stderr).strip()}")
        return res.stdout

    # ------------------------------------------------------------------ down
    def down(self) -> list[str]:
        """Stop both instances; returns what was stopped. Leaves no process and no mount."""
        state = self._state()
        stopped: list[str] = []
        for name, inst in state.get("instances", {}).items():
            pid = inst["pid"]
            if _alive(pid):
                try:
                    self.rx(name, "core stop now", timeout=5)
                except PbxError:
                    pass
                if not self._wait_exit(pid, 5):
                    os.kill(pid, signal.SIGTERM)
                    if not self._wait_exit(pid, 5):
                        os.kill(pid, signal.SIGKILL)
                        self._wait_exit(pid, 5)
                stopped.append(name)
            ns = inst.get("ns")
            if ns:
                for leftover in processes_in_ns(ns):
                    os.kill(leftover, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return stopped

    @staticmethod
    def _wait_exit(pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    return True
            except ChildProcessError:
                pass
            if not _alive(pid):
                return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------------ status
    def status(self) -> Status:
        state = self._state()
        st = Status(backend=self.name)
        logs = self.log_files()
        for name in INSTANCES:
            inst = state.get("instances", {}).get(name)
            if inst and _alive(inst["pid"]):
                st.instances.append(InstanceStatus(name, True, f"pid {inst['pid']}", logs[name]))
            else:
                st.instances.append(InstanceStatus(name, False, "not running", logs[name]))
        if st.running:
            try:
                st.version = self.rx("pbx", "core show version").strip()
                st.endpoints = endpoint_summary(self.rx("pbx", "pjsip show endpoints"))
            except PbxError as exc:
                st.version = f"(not answering: {exc})"
        root = rootfs_path(self.settings.cache_dir)
        st.location = f"root filesystem {root}" + ("" if is_ready(root) else " (not built yet)")
        return st
