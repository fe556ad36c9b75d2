"""A private PulseAudio sound server with a virtual USB headset, for tests, benchmarks and demos.

`PulseServer(folder).start()` runs `pulseaudio` with its own configuration, runtime directory and
socket in `folder` (no shared memory, no autospawn, no other client's server touched), and plugs
in one headset: PulseAudio null sinks, so the devices run in real time on the server's clock:

- `headset_speaker`: the headset's earpiece (a null sink); what it plays can be heard on its
  monitor;
- `headset_mouth` + `headset_mic`: the headset's microphone (`headset_mic`, a source remapped from
  the `headset_mouth` sink's monitor: whatever is played into the mouth is what the microphone
  picks up).

Applications see the headset through PortAudio and ALSA like any sound card, by name: an ALSA
configuration (`asound.conf` in `folder`, added to `ALSA_CONFIG_PATH`) names the PCM
`Virtual_Headset` (playback to the earpiece, capture from the microphone), and two for the test's
side of the headset: `Virtual_Headset_mouth` (play into the microphone) and `Virtual_Headset_ear`
(record the earpiece). `environ()` gives the variables a client process needs; `use()` sets them
in this process (before PortAudio starts, or restarting it).

`unplug()` unloads the headset's modules (every stream on them is killed, as when a USB headset is
pulled: there is no other device for PulseAudio to move them to), `plug()` loads them again.

Needs Debian's `pulseaudio`, `pulseaudio-utils` (pactl) and `libasound2-plugins` (ALSA's pulse
plugin); `scripts/setup` installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from dialer.core.audio import AudioFormat
from softphone.audio.sd_device import SounddeviceAudio
from softphone.audio.virtual import Signal

HEADSET = "Virtual_Headset"
MOUTH = "Virtual_Headset_mouth"
EAR = "Virtual_Headset_ear"
RATE = 16000

_ASOUND = f"""\
pcm.{HEADSET} {{
  type asym
  playback.pcm {{ type pulse device "headset_speaker" }}
  capture.pcm {{ type pulse device "headset_mic" }}
  hint {{ show on description "Virtual USB headset (PulseAudio null sinks)" }}
}}
pcm.{MOUTH} {{
  type pulse
  device "headset_mouth"
  hint {{ show on description "What the virtual headset's microphone picks up" }}
}}
pcm.{EAR} {{
  type pulse
  device "headset_speaker.monitor"
  hint {{ show on description "What the virtual headset's earpiece plays" }}
}}
"""

_HEADSET_MODULES = [
    ("module-null-sink", f"sink_name=headset_speaker rate={RATE} channels=1 "
                         "sink_properties=device.description=Headset_earpiece"),
    ("module-null-sink", f"sink_name=headset_mouth rate={RATE} channels=1 "
                         "sink_properties=device.description=Headset_mouth"),
    ("module-remap-source", "source_name=headset_mic master=headset_mouth.monitor "
                            "source_properties=device.description=Headset_microphone"),
]


class PulseError(Exception):
    """The sound server could not start or do what was asked (the message says why)."""


def missing_tools() -> list[str]:
    """The programs and ALSA plugin this needs that are not installed."""
    missing = [p for p in ("pulseaudio", "pactl") if shutil.which(p) is None]
    if not any(Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_pulse.so")):
        missing.append("libasound2-plugins (ALSA pulse plugin)")
    return missing


class PulseServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "native"
        self.proc: subprocess.Popen[bytes] | None = None
        self._modules: list[int] = []

    # ---------------------------------------------------------------- life
    def start(self, timeout: float = 10.0) -> PulseServer:
        missing = missing_tools()
        if missing:
            raise PulseError(f"PulseAudio is not installed: missing {', '.join(missing)} "
                             "(scripts/setup installs them)")
        self.folder.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state", "home"):
            (self.folder / sub).mkdir(exist_ok=True)
        self.socket.unlink(missing_ok=True)
        (self.folder / "default.pa").write_text(
            f"load-module module-native-protocol-unix socket={self.socket} auth-anonymous=1\n")
        (self.folder / "client.conf").write_text("autospawn = no\nenable-shm = no\n")
        (self.folder / "asound.conf").write_text(_ASOUND)
        env = dict(os.environ, HOME=str(self.folder / "home"),
                   PULSE_RUNTIME_PATH=str(self.folder / "run"),
                   PULSE_STATE_PATH=str(self.folder / "state"))
        log = open(self.folder / "pulseaudio.log", "wb")  # noqa: SIM115 - the server keeps it
        # real-time scheduling as a desktop's PulseAudio has it (through rtkit there; as root
        # here, directly), so a busy machine delays the virtual headset no more than a real one
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(self.folder / "default.pa"), "--daemonize=no",
             "--exit-idle-time=-1", "--use-pid-file=no", "--disable-shm=yes", "--system=no",
             "--realtime=yes", "--high-priority=yes", "--log-target=stderr", "--log-level=notice"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PulseError(f"pulseaudio exited with status {self.proc.returncode}: "
                                 f"{self.log_tail()}")
            if self.socket.exists() and self._pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise PulseError(f"pulseaudio did not answer on {self.socket} within {timeout:g} s")
        self.plug()
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.folder / "pulseaudio.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    # ---------------------------------------------------------------- clients
    def environ(self) -> dict[str, str]:
        """What a client process needs to find this server and the headset's ALSA names."""
        alsa = os.environ.get("ALSA_CONFIG_PATH") or "/usr/share/alsa/alsa.conf"
        mine = str(self.folder / "asound.conf")
        if mine not in alsa.split(":"):
            alsa = f"{alsa}:{mine}"
        return {"PULSE_SERVER": f"unix:{self.socket}",
                "PULSE_CLIENTCONFIG": str(self.folder / "client.conf"),
                "ALSA_CONFIG_PATH": alsa}

    def use(self) -> None:
        """Point this process's PortAudio at the server (restarting PortAudio if it had started;
        no stream may be open then)."""
        os.environ.update(self.environ())
        import sounddevice as sd  # type: ignore[import-untyped]
        sd._terminate()
        sd._initialize()

    # ---------------------------------------------------------------- the headset
    @property
    def plugged(self) -> bool:
        return bool(self._modules)

    def plug(self) -> None:
        """Plug the headset in (load its sinks and source)."""
        if self._modules:
            return
        for name, args in _HEADSET_MODULES:
            out = self._pactl("load-module", name, *args.split())
            self._modules.append(int(out.stdout.strip()))

    def unplug(self) -> None:
        """Pull the headset out: unload its modules; streams on them die."""
        for index in reversed(self._modules):
            self._pactl("unload-module", str(index))
        self._modules = []

    def _pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, **self.environ())
        res = subprocess.run(["pactl", *args], env=env, capture_output=True, text=True,
                             timeout=10)
        if check and res.returncode != 0:
            raise PulseError(f"pactl {' '.join(args)} failed: {res.stderr.strip()}")
        return res


# -------------------------------------------------------------------- the far side of the headset
class Mouth:
    """The agent's voice: plays a `Signal` (anything with `next_frame()`) into the virtual
    headset's microphone, in real time on the sound server's clock."""

    def __init__(self, fmt: AudioFormat, signal: Signal | None = None) -> None:
        self._fmt = fmt
        self._signal = signal
        self._stream = SounddeviceAudio().open_output(MOUTH, fmt, self._next)
        self._stream.start()

    def _next(self) -> bytes:
        signal = self._signal
        return self._fmt.silence() if signal is None else signal.next_frame()

    def set_signal(self, signal: Signal | None) -> None:
        self._signal = signal

    def close(self) -> None:
        self._stream.close()


class Ear:
    """Records what the virtual headset's earpiece plays (its sink's monitor), in real time."""

    def __init__(self, fmt: AudioFormat) -> None:
        self._lock = threading.Lock()
        self._frames: list[bytes] = []
        self._stream = SounddeviceAudio().open_input(EAR, fmt, self._heard)
        self._stream.start()

    def _heard(self, frame: bytes) -> None:
        with self._lock:
            self._frames.append(frame)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def heard(self) -> bytes:
        with self._lock:
            return b"".join(self._frames)

    def close(self) -> None:
        self._stream.close()
