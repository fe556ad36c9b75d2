"""The PBX and the simulated carrier, for real: version, endpoints, trunk security, every customer
behaviour of the numbering plan, and audio both ways on an answered call."""

from __future__ import annotations

import socket
import uuid

import pytest

from dialer.config.settings import Settings
from dialer.pbx import Backend
from dialer.pbx.base import ari_info
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.qa.testcall import CUSTOMER_TONE_HZ, place_test_call

pytestmark = pytest.mark.pbx


def test_pbx_is_asterisk_22_and_answers_ari(pbx: Backend, settings: Settings) -> None:
    info = ari_info(settings)
    assert info is not None
    assert info["system"]["version"].startswith("22.")


def test_agent_seats_and_carrier_trunk_are_configured(pbx: Backend, settings: Settings) -> None:
    endpoints = pbx.rx("pbx", "pjsip show endpoints")
    for n in settings.agents.numbers():
        assert f"agent{n}/" in endpoints
    assert "carrier" in endpoints
    assert "dialer" in pbx.rx("carrier", "pjsip show endpoints")
    # ARI and SIP listen on loopback only
    assert f"127.0.0.1:{settings.pbx.http_port}" in pbx.rx("pbx", "http show status")


def _sip_invite(port: int, number: str) -> str:
    """Send one INVITE without credentials from an unknown port; return the final status line."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)
    me = sock.getsockname()[1]
    call_id = uuid.uuid4().hex
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"m=audio {me + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    msg = (f"INVITE sip:{number}@127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{call_id[:10]};rport\r\n"
           f"From: <sip:intruder@127.0.0.1>;tag={call_id[:8]}\r\n"
           f"To: <sip:{number}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
           f"Contact: <sip:intruder@127.0.0.1:{me}>\r\nMax-Forwards: 70\r\n"
           f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
    sock.sendto(msg.encode(), ("127.0.0.1", port))
    try:
        while True:
            status = sock.recv(65535).decode(errors="replace").split("\r\n", 1)[0]
            if not status.startswith("SIP/2.0 1"):
                return status
    finally:
        sock.close()


def test_an_unauthenticated_caller_cannot_reach_the_trunk(pbx: Backend,
                                                          settings: Settings) -> None:
    before = pbx.rx("carrier", "core show channels count")
    status = _sip_invite(settings.pbx.sip_port, number_for(Behaviour.ANSWER, 0, 5))
    assert status.startswith("SIP/2.0 401")
    assert pbx.rx("carrier", "core show channels count") == before


# (behaviour, ring s, talk s) -> (answered, hang-up cause, SIP status from the carrier, dial status)
OUTCOMES = [
    (Behaviour.BUSY, 1, 0, False, 17, 486, "BUSY"),
    (Behaviour.REJECT, 1, 0, False, 21, 603, "NOANSWER"),
    (Behaviour.INVALID, 0, 0, False, 1, 404, "NOANSWER"),
    (Behaviour.CONGESTION, 0, 0, False, 34, 503, "CONGESTION"),
    (Behaviour.HANGUP_RINGING, 1, 0, False, 19, 480, "NOANSWER"),
    (Behaviour.HANGUP_ANSWERED, 1, 1, True, 16, None, "ANSWER"),
]


@pytest.mark.parametrize(("behaviour", "ring", "talk", "answered", "cause", "sip", "dial"),
                         OUTCOMES, ids=[o[0].name for o in OUTCOMES])
async def test_each_customer_behaviour_gives_its_sip_outcome(
        pbx: Backend, settings: Settings, behaviour: Behaviour, ring: int, talk: int,
        answered: bool, cause: int, sip: int | None, dial: str) -> None:
    result = await place_test_call(settings, number_for(behaviour, ring, talk), ring_timeout=10,
                                   talk=5)
    assert result.answered is answered, result.events
    assert result.cause == cause, result.describe()
    if sip is not None:
        assert result.sip_status == sip, result.describe()
    assert result.dial_status == dial, result.describe()
    if answered:
        assert result.hung_up_by == "customer"
    if ring and behaviour is not Behaviour.BUSY:   # a busy line answers 486 without ringing
        assert result.ringing_ms is not None
        assert result.ringing_ms < 1000 * ring <= (result.answered_ms or result.ended_ms or 0)


async def test_no_answer_rings_until_the_dialer_gives_up(pbx: Backend, settings: Settings) -> None:
    result = await place_test_call(settings, number_for(Behaviour.NO_ANSWER), ring_timeout=3)
    assert not result.answered
    assert result.ringing_ms is not None and result.ringing_ms < 1000
    assert result.ended_ms is not None and 2900 <= result.ended_ms < 6000
    # Asterisk cancels the call at the originate timeout: cause 19, and no final Dial event
    assert (result.cause, result.sip_status) == (19, 480)


async def test_answered_call_carries_audio_both_ways(pbx: Backend, settings: Settings) -> None:
    result = await place_test_call(settings, number_for(Behaviour.ANSWER, 1, 0), talk=4)
    assert result.answered and result.hung_up_by == "dialer"
    assert result.cause == 16
    # the customer's 1004 Hz tone reached the PBX, and our 697 Hz probe reached the customer
    assert result.heard_dbfs is not None and result.heard_dbfs > -30
    assert result.heard_customer_tone is not None and result.heard_customer_tone > 0.4
    assert result.customer_heard_probe is not None and result.customer_heard_probe > 0.9


@pytest.mark.parametrize(("behaviour", "tone_hz"), [(Behaviour.MACHINE, None),
                                                    (Behaviour.FAX, 2100)])
async def test_machines_answer_and_make_sound(pbx: Backend, settings: Settings,
                                              behaviour: Behaviour, tone_hz: int | None) -> None:
    from dialer.core.audio import read_wav, tone_share

    result = await place_test_call(settings, number_for(behaviour, 1, 20), talk=3)
    assert result.answered
    assert result.heard_dbfs is not None and result.heard_dbfs > -35
    assert result.heard_customer_tone is not None and result.heard_customer_tone < 0.2
    if tone_hz is not None:
        assert result.recording is not None
        rate, samples = read_wav(result.recording)
        assert tone_share(samples, rate, tone_hz) > 0.5
    assert CUSTOMER_TONE_HZ != tone_hz
