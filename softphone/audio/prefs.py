"""The agent's audio choices, remembered between sessions: devices, volume, microphone gain.

Kept as JSON in `$XDG_CONFIG_HOME/opendialer/softphone-audio.json` (default `~/.config/...`).
A missing or unreadable file gives the defaults; unknown keys are ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opendialer" / "softphone-audio.json"


@dataclass(frozen=True)
class AudioPrefs:
    input_device: str | None = None
    output_device: str | None = None
    speaker_volume: float = 1.0
    mic_gain_db: float = 0.0

    @classmethod
    def load(cls, path: Path | None = None) -> AudioPrefs:
        path = path or default_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return cls()

    def save(self, path: Path | None = None) -> Path:
        path = path or default_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path
