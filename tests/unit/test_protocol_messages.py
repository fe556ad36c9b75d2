"""The agent link's typed messages (dialer.protocol): every type round-trips through its frame,
the frames are the protocol's as docs/agent-protocol.md shows them, and bad frames are refused
with the code and the sentence that name what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dialer import protocol as p
from dialer.core.agent_state import AgentState
from dialer.core.results import CallResult

AT = datetime(2026, 11, 24, 10, 0, tzinfo=timezone(timedelta(hours=1)))
CAMPAIGN = {"id": 1, "name": "demo", "mode": "progressive", "status": "Started",
            "dispositions": [{"code": "SALE", "label": "Sale", "final": True}]}
CONTACT = {"id": 3, "number": "+12122000212", "numbers": ["+12122000212"],
           "fields": {"name": "Ada"}, "time_zone": "America/New_York", "attempts": 0}

REQUESTS: list[p.Request] = [
    p.Login("agent1001", "secret", id="1"), p.Logout(id="2"), p.Ready(), p.NotReady("lunch"),
    p.NotReady(), p.ListCampaigns(id="c"), p.PreviewRequest(campaign=4), p.PreviewRequest(),
    p.PreviewDial(7, id="d"), p.PreviewSkip(7), p.PushAccept(8), p.PushReject(8),
    p.RecordUpdate(3, {"name": "Ada L."}), p.HangUp(),
    p.Disposition(7, "SALE", "two units", p.Callback(AT, personal=True), id="3"),
    p.Disposition(7, "NOANS"), p.Ping(id="9"),
]
SERVER: list[p.ServerMessage] = [
    p.Welcome(1, "opendialer"), p.LoginOk("agent1001", "Ada", AgentState.NOT_READY, (CAMPAIGN,),
                                          re="1"),
    p.State(AgentState.READY), p.State(AgentState.NOT_READY, "voice channel lost"),
    p.State(AgentState.LOGOUT_PENDING, logout_remaining_s=9.5),
    p.Channel("voice", p.ChannelState.CONNECTED),
    p.Channel("voice", p.ChannelState.DISCONNECTED, "hung up by the phone"),
    p.CampaignStarted(CAMPAIGN), p.CampaignStopped(CAMPAIGN), p.CampaignList((CAMPAIGN,), re="c"),
    p.PreviewRecord(3, CONTACT, 1, re="4"), p.PushOffer(3, CONTACT, 1), p.OfferExpired(3),
    p.CallConnected(7, 1, CONTACT), p.CallEnded(7, CallResult.ANSWERED_HUMAN, True),
    p.CallEnded(8, CallResult.BUSY, False), p.DispositionTimeout(7),
    p.LogoutPending(AT, 10.0), p.LogoutAuthorized(), p.DispositionSaved(7, "SALE", None, re="3"),
    p.DispositionSaved(7, "CB", 12), p.Ok("ready", re="2"), p.Pong(re="9"),
    p.Error(p.ErrorCode.REFUSED, "pick a disposition for attempt 12 first", re="5"),
    p.Error(p.ErrorCode.VOICE_CHANNEL, "PJSIP/agent1011 did not answer"),
]


def test_every_message_type_has_an_example_here() -> None:
    assert {m.type for m in REQUESTS} == set(p.REQUESTS)
    assert {m.type for m in SERVER} == set(p.SERVER_MESSAGES)


@pytest.mark.parametrize("message", REQUESTS, ids=lambda m: m.type)
def test_requests_round_trip(message: p.Request) -> None:
    assert p.parse_request(p.encode(message)) == message


@pytest.mark.parametrize("message", SERVER, ids=lambda m: m.type)
def test_server_messages_round_trip(message: p.ServerMessage) -> None:
    assert p.parse_server_message(p.encode(message)) == message
    # and the same message from loose fields, as the call floor's Notify gives them
    assert p.server_message(message.type, p.fields_of(message), message.re) == message


@pytest.mark.parametrize("frame", [
    '{"v": 1, "type": "login", "id": "1", "agent": "agent1001", "password": "x"}',
    '{"v": 1, "type": "ready", "id": "2"}',
    '{"v": 1, "type": "disposition", "id": "3", "attempt": 7, "code": "SALE", "note": "two units"}',
    '{"v": 1, "type": "state", "state": "ready"}',
    '{"v": 1, "type": "ok", "re": "2", "request": "ready"}',
    '{"v": 1, "type": "call_ended", "attempt": 7, "result": "answered_human", '
    '"disposition_required": true}',
    '{"v": 1, "type": "disposition_saved", "re": "3", "attempt": 7, "code": "SALE", '
    '"callback": null}',
    '{"v": 1, "type": "channel", "channel": "voice", "state": "connected"}',
    '{"v": 1, "type": "logout_pending", "deadline": "2026-11-24T10:00:00+00:00", '
    '"remaining_s": 9.5}',
    '{"v": 1, "type": "error", "code": "voice_channel", "message": "no answer"}',
    '{"v": 1, "type": "offer_expired", "offer": 3}',
    '{"v": 1, "type": "disposition_timeout", "attempt": 7}',
])
def test_frames_of_the_protocol_come_back_byte_for_byte(frame: str) -> None:
    data = json.loads(frame)
    parse = p.parse_request if data["type"] in p.REQUESTS else p.parse_server_message
    assert p.encode(parse(frame)) == frame


def test_a_request_id_may_be_an_integer_and_comes_back_as_text() -> None:
    m = p.parse_request('{"v": 1, "type": "ping", "id": 7}')
    assert m == p.Ping(id="7") and m.type == "ping"


def test_a_disposition_with_a_callback_is_typed() -> None:
    m = p.parse_request(json.dumps({"v": 1, "type": "disposition", "id": 7, "attempt": 3,
                                    "code": "SALE", "callback": {
                                        "at": "2026-11-24T10:00:00+01:00", "personal": True}}))
    assert m == p.Disposition(3, "SALE", callback=p.Callback(AT, True), id="7")
    plain = p.parse_request('{"v": 1, "type": "disposition", "attempt": 3, "code": "X", '
                            '"callback": {"at": "2026-11-24T09:00:00Z"}}')
    assert isinstance(plain, p.Disposition) and plain.callback == p.Callback(
        datetime(2026, 11, 24, 9, tzinfo=UTC), personal=False)


@pytest.mark.parametrize(("message", "code", "words"), [
    ({"type": "disposition", "attempt": True, "code": "X"}, "bad_field",
     "disposition: 'attempt' must be int, got bool"),
    ({"type": "disposition", "attempt": 1, "code": "X", "callback": {"at": "2026-11-24T10:00"}},
     "bad_field", "disposition.callback: 'at' needs a time zone offset"),
    ({"type": "disposition", "attempt": 1, "code": "X", "callback": {"at": "soon"}},
     "bad_field", "'at' is not an ISO 8601 date-time: 'soon'"),
    ({"type": "disposition", "attempt": 1, "code": "X", "callback": {"at": 5}},
     "bad_field", "'at' must be an ISO 8601 date-time string with a time zone"),
    ({"type": "disposition", "attempt": 1, "code": "X", "callback": "tomorrow"},
     "bad_field", "disposition: 'callback' must be dict, got str"),
    ({"type": "disposition", "attempt": 1, "code": "X",
      "callback": {"at": "2026-11-24T10:00:00Z", "who": 1}}, "unknown_field",
     "disposition.callback: unknown field(s) who"),
    ({"type": "disposition", "attempt": 1}, "missing_field", "disposition: field 'code' is "
                                                            "required"),
    ({"type": "login", "agent": "a", "password": None}, "missing_field", "'password'"),
    ({"type": "not_ready", "reason": 5}, "bad_field", "'reason' must be str, got int"),
    ({"type": "record_update", "contact": 1, "fields": [1]}, "bad_field",
     "'fields' must be dict"),
    ({"type": "ready", "x": 1, "b": 2}, "unknown_field", "ready: unknown field(s) b, x"),
    ({"type": "fly"}, "unknown_type", "unknown message type 'fly'"),
    ({"type": "ready", "v": 3}, "bad_version", "speaks v1"),
])
def test_bad_requests_name_what_is_wrong(message: dict[str, Any], code: str, words: str) -> None:
    frame = {"v": 1, "id": "a", **message}
    with pytest.raises(p.LinkError) as info:
        p.parse_request(json.dumps(frame))
    assert info.value.code == code
    assert words in info.value.message
    assert info.value.re == "a"
    assert info.value.reply() == p.Error(p.ErrorCode(code), info.value.message, re="a")


def test_envelope_errors_and_size() -> None:
    for text, code in (("nope", "bad_json"), ("3", "bad_envelope"), ("[1]", "bad_envelope"),
                       ('{"v": 1, "type": "ready", "id": [1]}', "bad_envelope"),
                       ("x" * (p.MAX_MESSAGE_BYTES + 1), "too_large")):
        with pytest.raises(p.LinkError) as info:
            p.parse_request(text)
        assert info.value.code == code


@pytest.mark.parametrize(("kind", "fields", "words"), [
    ("state", {"state": "sleeping"}, "'state' must be one of logged_out, not_ready"),
    ("call_ended", {"attempt": 1, "result": "great", "disposition_required": True},
     "'result' must be one of answered_human"),
    ("logout_pending", {"deadline": "2026-11-24T10:00:00", "remaining_s": 1.0},
     "needs a time zone"),
    ("logout_pending", {"deadline": "2026-11-24T10:00:00Z", "remaining_s": "1"},
     "'remaining_s' must be float, got str"),
    ("disposition_saved", {"attempt": 1, "code": "X"}, "field 'callback' is required"),
    ("login_ok", {"agent": "a", "name": "A", "state": "ready", "campaigns": [1]},
     "'campaigns' must be a list of objects"),
    ("error", {"code": "oops", "message": "x"}, "'code' must be one of bad_json"),
    ("channel", {"channel": "voice", "state": "connected", "cause": "x"},
     "channel: unknown field(s) cause"),
    ("shout", {}, "unknown message type 'shout'"),
])
def test_a_dialer_message_that_is_not_the_protocol_is_refused(
        kind: str, fields: dict[str, Any], words: str) -> None:
    with pytest.raises(p.LinkError) as info:
        p.server_message(kind, fields)
    assert words in info.value.message
    with pytest.raises(p.LinkError):
        p.parse_server_message(json.dumps({"v": 1, "type": kind, **fields}))


def test_loose_fields_may_already_be_typed() -> None:
    m = p.server_message("logout_pending", {"deadline": AT, "remaining_s": 3}, "r")
    assert m == p.LogoutPending(AT, 3.0, re="r")
    assert p.server_message("state", {"state": AgentState.WRAP_UP}) == p.State(
        AgentState.WRAP_UP)


def test_codes_compare_equal_to_their_wire_names() -> None:
    assert p.ErrorCode.BAD_FIELD == "bad_field"  # type: ignore[comparison-overlap]
    assert p.LinkError("refused", "no").code is p.ErrorCode.REFUSED


def test_the_module_is_pure() -> None:
    code = ("import sys, dialer.protocol; "
            "print([m for m in ('asyncio', 'aiohttp', 'PyQt5', 'sqlalchemy') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- hostile frames (issue 14): typed errors, the request's id kept, bounded work ------------------

@pytest.mark.parametrize("version", ["true", "false", "1.0", '"1"', "null"])
def test_only_the_integer_1_is_version_1(version: str) -> None:
    with pytest.raises(p.LinkError) as info:
        p.parse_request(f'{{"v": {version}, "type": "ping", "id": "a"}}')
    assert info.value.code == "bad_version" and info.value.re == "a"


def test_a_boolean_is_not_a_request_id() -> None:
    with pytest.raises(p.LinkError) as info:
        p.parse_request('{"v": 1, "type": "ping", "id": true}')
    assert info.value.code == "bad_envelope"


def test_the_size_limit_counts_bytes_of_utf8_not_characters() -> None:
    note = "\u20ac" * 30_000            # 30,000 characters, 90,000 bytes
    frame = json.dumps({"v": 1, "type": "not_ready", "id": "a", "reason": note},
                       ensure_ascii=False)
    assert len(frame) < p.MAX_MESSAGE_BYTES < len(frame.encode())
    with pytest.raises(p.LinkError) as info:
        p.parse_request(frame)
    assert info.value.code == "too_large" and "90" in info.value.message
    with pytest.raises(p.LinkError):
        p.parse_request(frame.encode())
    # just under the limit in bytes is a request
    small = json.dumps({"v": 1, "type": "not_ready", "reason": "\u20ac" * 21_000},
                       ensure_ascii=False)
    assert len(small.encode()) <= p.MAX_MESSAGE_BYTES
    assert p.parse_request(small) == p.NotReady("\u20ac" * 21_000)


def test_a_null_callback_is_no_callback() -> None:
    m = p.parse_request('{"v": 1, "type": "disposition", "id": "a", "attempt": 1, "code": "X", '
                        '"callback": null}')
    assert m == p.Disposition(1, "X", id="a")


@pytest.mark.parametrize(("frame", "code", "re"), [
    ("[" * 100_000 + "]" * 100_000, "too_large", None),
    ("[" * 20_000 + "]" * 20_000, "bad_json", None),
    ('{"v": 1, "type": "record_update", "id": "a", "contact": 1, "fields": {"x": '
     + "[" * 500 + "]" * 500 + "}}", "bad_field", "a"),
    ('{"v": 1, "type": "ping", "id": "a", "x": ' + "[" * 40 + "]" * 40 + "}", "bad_field", "a"),
    ('{"v": 1, "type": "disposition", "id": "a", "attempt": 1, "code": "X", '
     '"callback": {"at": ' + "[" * 40 + "]" * 40 + "}}", "bad_field", "a"),
])
def test_deep_nesting_is_a_typed_error(frame: str, code: str, re: str | None) -> None:
    with pytest.raises(p.LinkError) as info:
        p.parse_request(frame)
    assert (info.value.code, info.value.re) == (code, re)
    assert "nested" in info.value.message or code == "too_large"


@pytest.mark.parametrize(("frame", "code"), [
    ('{"v": 1, "type": "preview_dial", "id": "a", "contact": NaN}', "bad_json"),
    ('{"v": 1, "type": "preview_dial", "id": "a", "contact": Infinity}', "bad_json"),
    ('{"v": 1, "type": "preview_dial", "id": "a", "contact": 1e400}', "bad_field"),
    ('{"v": 1, "type": "preview_dial", "id": "a", "contact": 99999999999999999999}',
     "bad_field"),
    ('{"v": 1, "type": "preview_dial", "id": "a", "contact": ' + "9" * 5000 + "}", "bad_json"),
])
def test_numbers_json_does_not_have_or_the_database_cannot_store(frame: str, code: str) -> None:
    with pytest.raises(p.LinkError) as info:
        p.parse_request(frame)
    assert info.value.code == code
    if code == "bad_field":
        assert info.value.re == "a"


def test_error_messages_stay_short_whatever_the_input() -> None:
    frame = json.dumps({"v": 1, "type": "x" * 50_000})
    with pytest.raises(p.LinkError) as info:
        p.parse_request(frame)
    assert info.value.code == "unknown_type" and len(info.value.message) < 200
    many = {"v": 1, "type": "ping", **{f"f{i}": i for i in range(3000)}}
    with pytest.raises(p.LinkError) as info:
        p.parse_request(json.dumps(many))
    assert info.value.code == "unknown_field" and len(info.value.message) < 400
