"""The Debian sid root filesystem that the Docker-less back end runs Asterisk from.

Built once with `mmdebstrap` into a cache directory outside the repository
(`/var/cache/opendialer/rootfs-<recipe hash>`) and reused while the recipe is unchanged; a changed
recipe builds a new one and removes the old. The recipe is the same package set the Docker image
installs (`docker/asterisk/Dockerfile`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SUITE = "sid"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("asterisk", "asterisk-core-sounds-en-gsm", "asterisk-moh-opsound-gsm")
# The mirror reached from these machines serves a snapshot whose Release file has expired.
APT_OPTIONS = ('Acquire::Check-Valid-Until "false"',)
# Bump when the post-build fix-ups below change.
FIXUP_VERSION = 1


class RootfsError(Exception):
    """The root filesystem could not be built (the message says why and where the log is)."""


@dataclass(frozen=True)
class Recipe:
    suite: str = SUITE
    mirror: str = MIRROR
    packages: tuple[str, ...] = PACKAGES
    apt_options: tuple[str, ...] = APT_OPTIONS

    def digest(self) -> str:
        text = "|".join([self.suite, self.mirror, *self.packages, *self.apt_options,
                         str(FIXUP_VERSION)])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def rootfs_path(cache_dir: Path, recipe: Recipe = Recipe()) -> Path:
    return cache_dir / f"rootfs-{recipe.digest()}"


def is_ready(path: Path) -> bool:
    return (path / "usr/sbin/asterisk").exists() and (path / ".opendialer-ready").exists()


def ensure_rootfs(
    cache_dir: Path, recipe: Recipe = Recipe(), log: Callable[[str], None] = print
) -> Path:
    """Return the ready root filesystem, building it first if needed. Concurrent callers (two
    checkouts set up at once) wait for one build instead of racing in the same directory."""
    path = rootfs_path(cache_dir, recipe)
    if is_ready(path):
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".build.lock").open("w") as lock:
        if not _try_lock(lock):
            log(f"pbx: another process is building {path}; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(path):
            return path
        return _build(cache_dir, path, recipe, log)


def _try_lock(lock: IO[str]) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _build(cache_dir: Path, path: Path, recipe: Recipe, log: Callable[[str], None]) -> Path:
    if shutil.which("mmdebstrap") is None:
        raise RootfsError("mmdebstrap is not installed (Debian package `mmdebstrap`); "
                          "run scripts/setup first")
    staging = path.with_name(path.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    logfile = cache_dir / f"{path.name}.build.log"
    cmd = ["mmdebstrap", "--variant=apt", "--include=" + ",".join(recipe.packages)]
    cmd += [f"--aptopt={opt}" for opt in recipe.apt_options]
    cmd += [recipe.suite, str(staging), recipe.mirror]
    log(f"pbx: building the Asterisk root filesystem (Debian {recipe.suite}, about 340 MB, "
        f"once) into {path}; log: {logfile}")
    started = time.monotonic()
    with logfile.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            time.sleep(1)
            elapsed = time.monotonic() - started
            if int(elapsed) % 15 == 0:
                lines = logfile.read_text(errors="replace").strip().splitlines()
                print(f"pbx: ... {elapsed:.0f} s: {lines[-1][:100] if lines else 'starting'}",
                      file=sys.stderr)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = logfile.read_text(errors="replace").strip().splitlines()[-5:]
        hint = ""
        if any("Could not resolve" in ln or "Failed to fetch" in ln or "Unable to connect" in ln
               for ln in tail):
            hint = f" (no network to the Debian mirror {recipe.mirror}?)"
        raise RootfsError(f"mmdebstrap failed with exit code {proc.returncode}{hint}; "
                          f"last lines of {logfile}:\n  " + "\n  ".join(tail))
    _fixup(staging, recipe)
    for old in cache_dir.glob("rootfs-*"):
        if old.is_dir() and old != path and not old.name.endswith(".building"):
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)
    log(f"pbx: root filesystem ready in {time.monotonic() - started:.0f} s")
    return path


def _fixup(root: Path, recipe: Recipe) -> None:
    """Make the tree runnable as root from a chroot with every writable directory bind-mounted."""
    (root / "opendialer").mkdir(exist_ok=True)
    # Without /etc/hosts Asterisk looks its host name up in DNS on every call (5 s stalls).
    hosts = root / "etc/hosts"
    if not hosts.exists():
        hosts.write_text("127.0.0.1 localhost\n")
    # Files owned by the rootfs's `asterisk` user carry another user's id on the host.
    for sub in ("var/lib/asterisk", "var/log/asterisk", "var/spool/asterisk"):
        target = root / sub
        if target.exists():
            for p in [target, *target.rglob("*")]:
                if not p.is_symlink():
                    os.chown(p, 0, 0)
    (root / ".opendialer-ready").write_text(recipe.digest() + "\n")
