"""Property tests of the agent-link parser (issue 14): whatever text frame a client sends, the
parser gives a typed request or a `LinkError` with a stable code, never another exception, and
in bounded time."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer import protocol as p

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=30)
FIELDS = st.sampled_from(["agent", "password", "reason", "campaign", "contact", "offer",
                          "fields", "attempt", "code", "note", "callback", "at", "personal",
                          "id", "v", "type"])
# frames close to the protocol's: the envelope right or nearly, fields of the protocol's names
FRAMES = st.fixed_dictionaries(
    {"v": st.sampled_from([1, True, 1.0, "1", None, 2]),
     "type": st.sampled_from(sorted(p.REQUESTS)) | st.text(max_size=12)},
    optional={"id": st.text(max_size=8) | st.integers() | st.booleans() | JSON}).flatmap(
    lambda env: st.dictionaries(FIELDS, JSON | st.fixed_dictionaries(
        {"at": st.text(max_size=30) | JSON}, optional={"personal": JSON}), max_size=5).map(
        lambda body: {**body, **env}))


def _check(frame: str | bytes) -> None:
    t0 = time.monotonic()
    try:
        message: Any = p.parse_request(frame)
    except p.LinkError as exc:
        assert isinstance(exc.code, p.ErrorCode) and exc.message
    else:
        assert isinstance(message, p.Request)
        assert p.parse_request(p.encode(message)) == message
    assert time.monotonic() - t0 < 1.0


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_request_or_a_link_error(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_request_or_a_link_error(data: bytes) -> None:
    _check(data)


@settings(max_examples=600, deadline=None)
@given(FRAMES)
def test_frames_shaped_like_the_protocol_are_a_request_or_a_link_error(
        frame: dict[str, Any]) -> None:
    _check(json.dumps(frame))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60_000), st.sampled_from(["[", "{\"a\":"]))
def test_deep_nesting_is_a_link_error_in_bounded_time(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    _check('{"v": 1, "type": "ping", "x": ' + opener * depth + "1" * (opener != "[")
           + closer * depth + "}")
