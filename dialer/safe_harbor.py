"""The safe-harbor message: what a customer hears when they answer and no agent is free in time.

A campaign names its message in its TOML (``[safe_harbor] message = "sounds/x.wav"``, a path
relative to the campaign file; required for predictive campaigns, which abandon calls by design).
The file is checked when the campaign is read (``read_message``: WAV, 16-bit PCM, mono, 8000 Hz,
1 to 30 s, not silent) and is refused otherwise, with the sox command that converts it: nothing
is converted behind the user's back, and the dialer needs no sox. Campaigns that name none get
the shipped default (``config/sounds/default-safe-harbor.wav``), which names no seller.

Where the message lives, and why:

- ``dialer campaign create`` stores the audio in the database (table ``sounds``, keyed by its
  SHA-256; the campaign keeps the digest in its options), like every other campaign setting: the
  campaign file may be moved or edited afterwards, and the database is what the service reads.
- ``install_safe_harbor`` writes it out as ``<runtime dir>/sounds/safe-harbor-<digest>.wav``.
  Both PBX back ends mount the runtime directory at ``/opendialer`` (the chroot one inside its
  root filesystem, the Docker one as a volume), so Asterisk plays it as
  ``sound:/opendialer/sounds/safe-harbor-<digest>`` (an absolute path without extension; checked
  on Asterisk 22). The file is outside what ``dialer pbx up`` re-renders, so it survives a PBX
  restart; it is written again at every service start, so a wiped runtime directory or a new
  machine on the same database heals. The name is the content's digest: a file is never changed
  in place while the PBX may be reading it, and a re-created database whose campaign ids start
  again at 1 never plays another campaign's old message.

Playing it: ``POST channels/{id}/play media=<safe_harbor_media(campaign)>``. ARI accepts a file
that is not there (201): Asterisk 22 then sends PlaybackStarted and, at once, PlaybackFinished
with state "failed" (there is no PlaybackFailed event) and logs "File ... does not exist". So a
message counts as played on PlaybackFinished state "done" (or PlaybackStarted followed by no
"failed"), and as failed on state "failed".

This needs the dialer and the PBX on one machine (one runtime directory), as ``dialer pbx up``
does anyway; a remote PBX would need the files copied to its sounds directory.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shlex
import wave
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from dialer.config.settings import REPO_ROOT
from dialer.core.audio import rms_dbfs, samples_of

if TYPE_CHECKING:
    from dialer.db.database import Database

PBX_MOUNT = "/opendialer"  # where both back ends mount the runtime directory inside the PBX
SOUNDS_DIR = "sounds"      # under the runtime directory
DEFAULT_MESSAGE = REPO_ROOT / "config" / "sounds" / "default-safe-harbor.wav"
RATE = 8000
MIN_SECONDS = 1.0
MAX_SECONDS = 30.0
SILENT_DBFS = -50.0        # a message whose overall level is below this is taken for silence
log = logging.getLogger(__name__)


class AudioFileError(ValueError):
    """A message file that is missing, unreadable or not in the format the PBX plays
    (``convert``: sox can fix it)."""

    def __init__(self, problem: str, convert: bool = False) -> None:
        super().__init__(problem)
        self.convert = convert


@dataclass(frozen=True)
class SafeHarborMessage:
    """A checked message: canonical WAV bytes (44-byte header + PCM), their digest and length."""

    audio: bytes = field(repr=False)
    sha256: str
    seconds: float
    source: str               # the file it was read from, as the campaign names it
    seller: str = ""          # for the record: who the message names
    callback_number: str = ""  # for the record: the number it gives to call back

    @property
    def media(self) -> str:
        return media_uri(self.sha256)


class HasSafeHarbor(Protocol):
    """What ``safe_harbor_media`` reads of a campaign (``dialer.db.campaigns.CampaignInfo``)."""

    @property
    def safe_harbor(self) -> str | None: ...


def check_wav(data: bytes) -> tuple[bytes, float]:
    """The canonical WAV (header rewritten, extra chunks dropped) and its length in seconds.

    Raises ``AudioFileError`` saying what is wrong (format, length, silence)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"is not a PCM WAV file ({exc})", convert=True) from None
    if (channels, width, rate) != (1, 2, RATE):
        got = f"{channels} channel(s), {8 * width}-bit, {rate} Hz"
        raise AudioFileError(f"is {got}; it must be WAV 16-bit PCM, mono, 8000 Hz", convert=True)
    seconds = len(frames) / (2 * RATE)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise AudioFileError(
            f"lasts {seconds:.2f} s; a message lasts {MIN_SECONDS:g} to {MAX_SECONDS:g} s")
    level = rms_dbfs(samples_of(frames))
    if level < SILENT_DBFS:
        raise AudioFileError(f"is silent ({level:.0f} dBFS)")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return out.getvalue(), seconds


def read_message(path: Path, source: str | None = None, seller: str = "",
                 callback_number: str = "") -> SafeHarborMessage:
    """Read and check a message file; ``AudioFileError`` names the path and the problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AudioFileError(f"{path} does not exist") from None
    except OSError as exc:
        raise AudioFileError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        audio, seconds = check_wav(data)
    except AudioFileError as exc:
        fix = f"; convert it: {convert_command(path)}" if exc.convert else ""
        raise AudioFileError(f"{path} {exc}{fix}") from None
    return SafeHarborMessage(audio, hashlib.sha256(audio).hexdigest(), seconds,
                             source or str(path), seller, callback_number)


def convert_command(path: Path) -> str:
    """The sox command that makes a usable message of ``path`` (next to it, ``-8k.wav``)."""
    out = path.with_name(f"{path.stem}-8k.wav")
    quoted = shlex.quote(str(path)), shlex.quote(str(out))
    return f"sox {quoted[0]} -r 8000 -c 1 -b 16 -e signed-integer {quoted[1]}"


@lru_cache(maxsize=1)
def default_message() -> SafeHarborMessage:
    """The shipped message for campaigns that name none (read once)."""
    return read_message(DEFAULT_MESSAGE, source="default")


def sound_name(sha256: str) -> str:
    """The file's name in the runtime directory's sounds/, without extension."""
    return f"safe-harbor-{sha256[:16]}"


def media_uri(sha256: str) -> str:
    """The ARI media URI that plays the message with this digest."""
    return f"sound:{PBX_MOUNT}/{SOUNDS_DIR}/{sound_name(sha256)}"


def safe_harbor_media(campaign: HasSafeHarbor) -> str:
    """The ARI media URI of a campaign's message (the default for campaigns stored before
    messages were: their ``safe_harbor`` is None). Pure: the file is written by
    ``install_safe_harbor``."""
    return media_uri(campaign.safe_harbor or default_message().sha256)


def write_sound(runtime_dir: Path, sha256: str, audio: bytes) -> Path:
    """Write one message where the PBX reads it, unless the same bytes are already there."""
    folder = runtime_dir / SOUNDS_DIR
    target = folder / f"{sound_name(sha256)}.wav"
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    staging.write_bytes(audio)
    staging.chmod(0o644)
    staging.replace(target)
    return target


def install_safe_harbor(db: Database, runtime_dir: Path,
                        campaign_ids: Iterable[int] | None = None) -> dict[int, str]:
    """Write the messages of the campaigns (all when ``campaign_ids`` is None) and the default
    into ``<runtime_dir>/sounds/``; returns each campaign's media URI.

    A campaign whose message is missing from the database gets the default, with an error
    logged that names it."""
    from dialer.db.models import Campaign, Sound

    default = default_message()
    write_sound(runtime_dir, default.sha256, default.audio)
    uris: dict[int, str] = {}
    with db.session() as session:
        query = select(Campaign.id, Campaign.options)
        if campaign_ids is not None:
            query = query.where(Campaign.id.in_(list(campaign_ids)))
        for cid, options in session.execute(query):
            sha = ((options or {}).get("safe_harbor") or {}).get("sha256") or default.sha256
            audio = session.scalar(select(Sound.audio).where(Sound.sha256 == sha))
            if audio is not None:
                write_sound(runtime_dir, sha, audio)
            elif sha != default.sha256:
                log.error("campaign %d: its safe-harbor message %s is not in the database; "
                          "the default message will be played", cid, sha)
                sha = default.sha256
            uris[cid] = media_uri(sha)
    return uris
