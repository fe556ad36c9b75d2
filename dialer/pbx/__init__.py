"""Running the PBX (Asterisk 22) and the simulated carrier, with Docker or without.

`backend(settings)` picks Docker where an engine answers and the chroot back end otherwise
(`OPENDIALER_PBX_BACKEND=docker|chroot` forces one). The choice is remembered in the runtime
directory so `down` and `status` talk to what `up` started.
"""

from __future__ import annotations

import os
from typing import Any

from dialer.config.settings import Settings
from dialer.pbx.base import Backend, PbxError, Status
from dialer.pbx.chroot import ChrootBackend
from dialer.pbx.docker import DockerBackend, engine_answers

__all__ = ["Backend", "PbxError", "Status", "backend"]


def backend(settings: Settings, log: Any = print) -> Backend:
    choice_file = settings.runtime_dir / "pbx-backend"
    forced = os.environ.get("OPENDIALER_PBX_BACKEND", "auto")
    if forced not in ("auto", "docker", "chroot"):
        raise PbxError(f"OPENDIALER_PBX_BACKEND must be auto, docker or chroot, got {forced!r}")
    if forced == "auto" and choice_file.exists():
        forced = choice_file.read_text().strip()
    if forced == "auto":
        forced = "docker" if engine_answers() else "chroot"
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    choice_file.write_text(forced + "\n")
    if forced == "docker":
        return DockerBackend(settings, log)
    return ChrootBackend(settings, log)
