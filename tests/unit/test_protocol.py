"""The agent link's message parsing (pure)."""

from __future__ import annotations

import json

import pytest

from dialer.service.protocol import LinkError, encode, parse_client_message


def test_a_valid_request_parses_with_its_id() -> None:
    m = parse_client_message(json.dumps({"v": 1, "type": "disposition", "id": 7, "attempt": 3,
                                         "code": "SALE", "callback": {
                                             "at": "2026-11-24T10:00:00+01:00",
                                             "personal": True}}))
    assert (m.type, m.id, m.body["attempt"], m.body["callback"]["personal"]) == (
        "disposition", "7", 3, True)


@pytest.mark.parametrize(("message", "code", "words"), [
    ({"v": 1, "type": "disposition", "id": "a", "attempt": True, "code": "X"}, "bad_field",
     "'attempt' must be int"),
    ({"v": 1, "type": "disposition", "id": "a", "attempt": 1, "code": "X",
      "callback": {"at": "2026-11-24T10:00:00"}}, "bad_field", "needs a time zone"),
    ({"v": 1, "type": "disposition", "id": "a", "attempt": 1, "code": "X",
      "callback": {"at": "soon"}}, "bad_field", "not an ISO 8601"),
    ({"v": 1, "type": "disposition", "id": "a", "attempt": 1, "code": "X",
      "callback": {"at": "2026-11-24T10:00:00Z", "who": 1}}, "unknown_field", "who"),
    ({"v": 1, "type": "not_ready", "id": "a", "reason": 5}, "bad_field", "'reason' must be str"),
    ({"v": 3, "type": "ready", "id": "a"}, "bad_version", "speaks v1"),
    ({"v": 1, "type": "ready", "id": "a", "x": 1}, "unknown_field", "x"),
])
def test_bad_requests_name_what_is_wrong_and_keep_the_request_id(
        message: dict[str, object], code: str, words: str) -> None:
    with pytest.raises(LinkError) as info:
        parse_client_message(json.dumps(message))
    assert info.value.code == code
    assert words in info.value.message
    assert info.value.re == "a"


def test_envelope_errors() -> None:
    for text, code in (("nope", "bad_json"), ("3", "bad_envelope"),
                       ('{"v": 1, "type": "ready", "id": [1]}', "bad_envelope")):
        with pytest.raises(LinkError) as info:
            parse_client_message(text)
        assert info.value.code == code


def test_encode_echoes_the_request() -> None:
    assert json.loads(encode("ok", re="r1", request="ready")) == {
        "v": 1, "type": "ok", "re": "r1", "request": "ready"}
