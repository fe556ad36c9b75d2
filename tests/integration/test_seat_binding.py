"""A seat is bound to the agent who logged in (issue 14): the dialer hands the seat's own SIP
account over the authenticated link, and calls the phone at the link's address and the SIP port
the login named, so a second phone that registered as the seat from elsewhere (and took over the
seat's only contact) never hears the agent's calls. The PBX's ARI refuses the old shipped
password and anything but the installation's own."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dialer.config.settings import Settings
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.qa.phones import Phone, start_phones
from dialer.service.client import AgentClient
from tests.integration.dialer_env import PHONE_RTP_PORT, PHONE_SIP_PORT, dialer_env, password

pytestmark = pytest.mark.pbx
SEAT = 1014


def _ari_status(settings: Settings, user: str, secret: str) -> int:
    req = urllib.request.Request(f"{settings.pbx.ari_url}/asterisk/info")
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return int(res.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_ari_takes_the_installations_own_password_only(pbx: Backend, settings: Settings) -> None:
    user = settings.pbx.ari_user
    assert _ari_status(settings, user, settings.pbx.ari_password) == 200
    assert _ari_status(settings, user, "dev-only-ari-secret") == 401      # shipped before
    rendered = (settings.runtime_dir / "etc" / "pbx" / "ari.conf").read_text()
    assert settings.pbx.ari_password not in rendered                     # only its hash
    assert _ari_status(settings, user, rendered.split("password = ")[1].split()[0]) == 401


def _calls(phone: Phone) -> int:
    """How many calls the phone answered (baresip says so in its log)."""
    return (phone.directory / "baresip.log").read_text(errors="replace").count("Call established")


async def test_a_second_registration_never_gets_the_voice_channel(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    async with dialer_env(settings, tmp_path, [SEAT], [number_for(Behaviour.ANSWER, 1, 3)],
                          mode="preview") as env:
        real = env.phones[0]
        # someone who learnt the seat's password registers it from another port: with one
        # contact per seat, theirs replaces the real phone's
        intruder = start_phones(settings, [SEAT], tmp_path / "intruder",
                                first_sip_port=PHONE_SIP_PORT + 30,
                                first_rtp_port=PHONE_RTP_PORT + 400)[0]
        try:
            contacts = pbx.rx("pbx", f"pjsip show aor agent{SEAT}")
            assert f":{PHONE_SIP_PORT + 30}" in contacts and f":{PHONE_SIP_PORT};" not in contacts
            async with AgentClient(env.url) as c:
                ok = await c.login(f"agent{SEAT}", password(SEAT), sip_port=PHONE_SIP_PORT)
                assert ok["type"] == "login_ok"
                assert ok["sip"] == {"user": f"agent{SEAT}",
                                     "password": settings.agents.sip_password(SEAT),
                                     "transport": "udp"}
                up = await c.expect("channel", timeout=15)
                assert up["state"] == "connected"
                await asyncio.sleep(1.0)
                assert _calls(real) == 1
                assert _calls(intruder) == 0
        finally:
            intruder.stop()


async def test_a_login_naming_a_bad_sip_port_is_refused(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    async with dialer_env(settings, tmp_path, [SEAT], [number_for(Behaviour.ANSWER, 1, 4)],
                          mode="preview", phones=False) as env:
        async with AgentClient(env.url) as c:
            await c.send("login", agent=f"agent{SEAT}", password=password(SEAT), sip_port=0)
            err = await c.expect("error")
            assert err["code"] == "bad_field" and "sip_port 0" in err["message"]
            await c.send_raw(json.dumps({"v": 1, "type": "login", "id": "x",
                                         "agent": f"agent{SEAT}", "password": password(SEAT),
                                         "sip_port": "5060;x"}))
            err = await c.expect("error", where=lambda m: m.get("re") == "x")
            assert err["code"] == "bad_field" and "sip_port" in err["message"]
            assert not env.engine.floor.seats        # neither login went through


async def test_a_phone_registering_as_a_logged_in_seat_is_reported(
        pbx: Backend, settings: Settings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    async with dialer_env(settings, tmp_path, [SEAT], [number_for(Behaviour.ANSWER, 1, 5)],
                          mode="preview") as env:
        real = env.phones[0]
        async with AgentClient(env.url) as c:
            await c.login(f"agent{SEAT}", password(SEAT), sip_port=PHONE_SIP_PORT)
            assert (await c.expect("channel", timeout=15))["state"] == "connected"
            intruder = start_phones(settings, [SEAT], tmp_path / "intruder",
                                    first_sip_port=PHONE_SIP_PORT + 30,
                                    first_rtp_port=PHONE_RTP_PORT + 400)[0]
            try:
                told = await c.expect("error", timeout=10,
                                      where=lambda m: m["code"] == "seat_taken")
                assert f":{PHONE_SIP_PORT + 30}" in told["message"]
                assert any("security: a second phone registered as agent" in r.message
                           for r in caplog.records)
                # the agent's own phone keeps the voice channel; the other one is never called
                assert _calls(real) == 1 and _calls(intruder) == 0
                assert "channel" not in [m.type for m in c.backlog]
            finally:
                intruder.stop()
