"""Safe-harbor messages: the format check, the campaign's [safe_harbor] section, storage in the
database, the media URI and the files written where the PBX reads them."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialer.config.campaign import CampaignConfigError, load_campaign, loads_campaign
from dialer.db.campaigns import create_campaign, get_campaign
from dialer.db.database import Database, open_database
from dialer.db.models import Campaign, Sound
from dialer.safe_harbor import (
    DEFAULT_MESSAGE,
    AudioFileError,
    check_wav,
    default_message,
    install_safe_harbor,
    media_uri,
    read_message,
    safe_harbor_media,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO_MESSAGE = ROOT / "config" / "sounds" / "demo-safe-harbor.wav"

CAMPAIGN = """
[campaign]
name = "{name}"
mode = "{mode}"
trunk = "carrier"

[[disposition]]
code = "SALE"
final = true
{extra}"""


def tone_wav(seconds: float = 2.0, rate: int = 8000, channels: int = 1, width: int = 2,
             level: float = 0.3) -> bytes:
    """A 440 Hz tone as WAV bytes (silence when ``level`` is 0)."""
    full = (1 << (8 * width - 1)) - 1
    frames = bytearray()
    for n in range(int(seconds * rate)):
        value = int(level * full * math.sin(2 * math.pi * 440 * n / rate))
        sample = (value + 128).to_bytes(1, "little") if width == 1 else value.to_bytes(
            width, "little", signed=True)
        frames += sample * channels
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


def float_wav() -> bytes:
    """A 32-bit float WAV (format tag 3), which Asterisk's wav format does not read."""
    data = struct.pack("<8000f", *([0.25] * 8000))
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def with_list_chunk(wav: bytes) -> bytes:
    """The same audio with a LIST/INFO chunk before the data (as some editors write)."""
    chunk = b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00"
    body = b"WAVE" + wav[12:36] + chunk + wav[36:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


# -- the format check ------------------------------------------------------------------------


def test_a_good_message_is_kept_with_its_length_and_a_canonical_header() -> None:
    wav = tone_wav(2.0)
    audio, seconds = check_wav(wav)
    assert seconds == pytest.approx(2.0)
    assert audio == wav  # Python's wave writes the canonical 44-byte header already
    extra, _ = check_wav(with_list_chunk(wav))
    assert extra == wav  # the extra chunk is dropped: same bytes, same digest


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (tone_wav(rate=16000), "is 1 channel(s), 16-bit, 16000 Hz; it must be WAV 16-bit PCM"),
        (tone_wav(rate=44100, channels=2), "is 2 channel(s), 16-bit, 44100 Hz"),
        (tone_wav(width=1), "is 1 channel(s), 8-bit, 8000 Hz"),
        (float_wav(), "is not a PCM WAV file"),
        (b"ID3\x03 this is an mp3, honest", "is not a PCM WAV file"),
        (b"", "is not a PCM WAV file"),
        (tone_wav(0.5), "lasts 0.50 s; a message lasts 1 to 30 s"),
        (tone_wav(31.0), "lasts 31.00 s"),
        (tone_wav(2.0, level=0.0), "is silent"),
    ],
)
def test_an_unusable_file_is_refused_saying_why(data: bytes, problem: str) -> None:
    with pytest.raises(AudioFileError) as info:
        check_wav(data)
    assert problem in str(info.value)


def test_a_wrong_format_says_how_to_convert(tmp_path: Path) -> None:
    path = tmp_path / "cd.wav"
    path.write_bytes(tone_wav(rate=44100))
    with pytest.raises(AudioFileError) as info:
        read_message(path)
    assert str(info.value).endswith(
        f"; convert it: sox {path} -r 8000 -c 1 -b 16 -e signed-integer {tmp_path / 'cd-8k.wav'}")
    short = tmp_path / "short.wav"
    short.write_bytes(tone_wav(0.5))
    with pytest.raises(AudioFileError) as info:
        read_message(short)
    assert "convert" not in str(info.value)  # sox cannot lengthen a message


def test_the_shipped_messages_are_usable() -> None:
    demo = read_message(DEMO_MESSAGE)
    default = default_message()
    assert 3 < demo.seconds <= 15 and 3 < default.seconds <= 15
    assert demo.sha256 != default.sha256
    assert default.source == "default" and DEFAULT_MESSAGE.is_file()


# -- the campaign's [safe_harbor] ------------------------------------------------------------


def campaign_text(mode: str = "predictive", extra: str = "", name: str = "spring") -> str:
    return CAMPAIGN.format(name=name, mode=mode, extra=extra)


def section(message: str, more: str = "") -> str:
    return f'\n[safe_harbor]\nmessage = "{message}"\n{more}'


def test_a_predictive_campaign_must_name_its_message() -> None:
    with pytest.raises(CampaignConfigError) as info:
        loads_campaign(campaign_text(), source="spring.toml")
    assert str(info.value).startswith(
        "spring.toml: [safe_harbor] message is required for a predictive campaign")


@pytest.mark.parametrize("mode", ["preview", "push_preview", "progressive"])
def test_other_modes_get_the_default_message(mode: str) -> None:
    cfg = loads_campaign(campaign_text(mode))
    assert cfg.safe_harbor == default_message()


def test_the_message_is_read_relative_to_the_campaign_file(tmp_path: Path) -> None:
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "ours.wav").write_bytes(tone_wav(3.0))
    toml = tmp_path / "spring.toml"
    toml.write_text(campaign_text(extra=section(
        "sounds/ours.wav", 'seller = "Spring Power"\ncallback_number = "+1 212 555 0199"\n')))
    cfg = load_campaign(toml)
    assert cfg.safe_harbor is not None
    assert cfg.safe_harbor.seconds == pytest.approx(3.0)
    assert cfg.safe_harbor.sha256 == hashlib.sha256(tone_wav(3.0)).hexdigest()
    assert (cfg.safe_harbor.source, cfg.safe_harbor.seller, cfg.safe_harbor.callback_number) == (
        "sounds/ours.wav", "Spring Power", "+1 212 555 0199")


def test_the_demo_campaign_names_the_demo_message() -> None:
    cfg = load_campaign(ROOT / "config" / "campaigns" / "demo.toml")
    assert cfg.safe_harbor == read_message(
        DEMO_MESSAGE, "../sounds/demo-safe-harbor.wav", "Example Energy", "+1 212 555 0100")


def test_a_missing_message_names_the_campaign_file_and_the_path(tmp_path: Path) -> None:
    toml = tmp_path / "spring.toml"
    toml.write_text(campaign_text(extra=section("sounds/nowhere.wav")))
    with pytest.raises(CampaignConfigError) as info:
        load_campaign(toml)
    assert str(info.value) == (
        f"spring.toml: safe_harbor.message: {tmp_path / 'sounds' / 'nowhere.wav'} does not exist")


def test_a_message_in_the_wrong_format_names_the_campaign_file_and_the_problem(
        tmp_path: Path) -> None:
    (tmp_path / "cd.wav").write_bytes(tone_wav(2.0, rate=44100, channels=2))
    toml = tmp_path / "spring.toml"
    toml.write_text(campaign_text(extra=section("cd.wav")))
    with pytest.raises(CampaignConfigError) as info:
        load_campaign(toml)
    message = str(info.value)
    assert message.startswith(f"spring.toml: safe_harbor.message: {tmp_path / 'cd.wav'} is 2 ")
    assert "mono, 8000 Hz" in message


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("\n[safe_harbor]\nseller = \"x\"\n", "safe_harbor.message is required"),
        (section("a.wav", "voice = \"robot\"\n"), "unknown key safe_harbor.voice"),
        ("\n[safe_harbor]\nmessage = 3\n", "safe_harbor.message must be a non-empty string"),
        (section("a.wav", "seller = \"\"\n"), "safe_harbor.seller must be a non-empty string"),
    ],
)
def test_each_bad_safe_harbor_field_is_named(extra: str, problem: str) -> None:
    with pytest.raises(CampaignConfigError) as info:
        loads_campaign(campaign_text(extra=extra), source="spring.toml")
    assert str(info.value).startswith("spring.toml: ") and problem in str(info.value)


def test_safe_harbor_must_be_a_table() -> None:
    with pytest.raises(CampaignConfigError, match='safe_harbor must be a table, got "a.wav"'):
        loads_campaign('safe_harbor = "a.wav"\n' + campaign_text("progressive"))


# -- stored with the campaign, written where the PBX reads it --------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "dialer.sqlite3")
    yield database
    database.close()


def test_the_message_is_stored_once_and_the_campaign_knows_its_uri(
        db: Database, tmp_path: Path) -> None:
    (tmp_path / "ours.wav").write_bytes(tone_wav(3.0))
    ours = loads_campaign(campaign_text(extra=section("ours.wav")), base=tmp_path)
    first = create_campaign(db, ours)
    second = create_campaign(db, loads_campaign(
        campaign_text(extra=section("ours.wav"), name="autumn"), base=tmp_path))
    plain = create_campaign(db, loads_campaign(campaign_text("progressive", name="plain")))
    sha = hashlib.sha256(tone_wav(3.0)).hexdigest()
    assert get_campaign(db, first).safe_harbor == get_campaign(db, second).safe_harbor == sha
    assert safe_harbor_media(get_campaign(db, first)) == (
        f"sound:/opendialer/sounds/safe-harbor-{sha[:16]}")
    assert safe_harbor_media(get_campaign(db, plain)) == media_uri(default_message().sha256)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Sound)) == 2  # ours + default
        assert session.get_one(Sound, sha).audio == tone_wav(3.0)
        options = session.get_one(Campaign, first).options or {}
        assert options["safe_harbor"]["source"] == "ours.wav"


def test_install_writes_every_message_and_repairs_a_damaged_file(
        db: Database, tmp_path: Path) -> None:
    (tmp_path / "ours.wav").write_bytes(tone_wav(3.0))
    cid = create_campaign(db, loads_campaign(campaign_text(extra=section("ours.wav")),
                                             base=tmp_path))
    plain = create_campaign(db, loads_campaign(campaign_text("progressive", name="plain")))
    runtime = tmp_path / "var"
    uris = install_safe_harbor(db, runtime)
    assert uris == {cid: safe_harbor_media(get_campaign(db, cid)),
                    plain: media_uri(default_message().sha256)}
    sounds = runtime / "sounds"
    for uri in uris.values():
        name = uri.removeprefix("sound:/opendialer/sounds/")
        assert (sounds / f"{name}.wav").is_file()
    ours = sounds / f"{uris[cid].rsplit('/', 1)[1]}.wav"
    assert ours.read_bytes() == tone_wav(3.0)
    assert ours.stat().st_mode & 0o777 == 0o644
    ours.write_bytes(b"truncated")
    assert install_safe_harbor(db, runtime, [cid]) == {cid: uris[cid]}
    assert ours.read_bytes() == tone_wav(3.0)
    assert sorted(p.name for p in sounds.iterdir()) == sorted(
        f"{u.rsplit('/', 1)[1]}.wav" for u in uris.values())  # no staging file left


def test_a_campaign_without_a_stored_message_plays_the_default(
        db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = create_campaign(db, loads_campaign(campaign_text("progressive", name="old")))
    lost = create_campaign(db, loads_campaign(campaign_text("progressive", name="lost")))
    with db.session() as session:
        session.get_one(Campaign, old).options = {"amd": False}  # stored before revision 0003
        row = session.get_one(Campaign, lost)
        row.options = {**(row.options or {}), "safe_harbor": {"sha256": "ab" * 32}}
        session.commit()
    default = media_uri(default_message().sha256)
    assert safe_harbor_media(get_campaign(db, old)) == default
    with caplog.at_level(logging.ERROR, logger="dialer.safe_harbor"):
        assert install_safe_harbor(db, tmp_path / "var") == {old: default, lost: default}
    assert f"campaign {lost}: its safe-harbor message {'ab' * 32} is not in the database" in (
        caplog.text)
