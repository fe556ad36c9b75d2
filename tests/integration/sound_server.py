"""The test tier's sound server: a private PulseAudio with a virtual USB headset.

`sound_server` (session-scoped) starts `pulseaudio` with its own configuration, runtime directory
and socket under the session's temporary folder, plugs the headset in (`PulseServer`), and points
this process's PortAudio at it, so the softphone opens the headset through sounddevice by name,
exactly as it would a USB headset. It is skipped only when PulseAudio is not installed (the reason
names what is missing; `scripts/setup` installs it); a server that is installed but fails to start
is an error, not a skip. Test modules import the fixture by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from softphone.audio.pulse_server import PulseServer, missing_tools


@pytest.fixture(scope="session")
def sound_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"no sound server: {', '.join(missing)} not installed (scripts/setup)")
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_CLIENTCONFIG",
                                            "ALSA_CONFIG_PATH")}
    server = PulseServer(tmp_path_factory.mktemp("pulse")).start()
    try:
        server.use()
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
