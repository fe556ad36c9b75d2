"""The user agent's pure rules: call state table, registration outcomes, answer policy, and the
headless command's option parsing."""

from __future__ import annotations

import io

import pytest

from dialer.core.audio import AudioFormat
from softphone.headless import Reporter, build_parser, parse_agents, parse_voice
from softphone.sip.api import (
    AUTO_ANSWER,
    AnswerDecision,
    AnswerMode,
    AnswerPolicy,
    CallState,
    RegState,
    SipAccount,
)
from softphone.sip.states import CallTracker, IllegalTransition, registration_outcome


def test_call_moves_along_the_table() -> None:
    t = CallTracker()
    assert t.advance(CallState.CALLING)
    assert t.advance(CallState.RINGING)
    assert not t.advance(CallState.RINGING)  # a second 18x is no change
    assert t.advance(CallState.CONNECTING) and t.up
    assert t.advance(CallState.CONFIRMED)
    assert t.advance(CallState.DISCONNECTED) and t.ended


def test_illegal_transition_raises_and_keeps_the_state() -> None:
    t = CallTracker()
    t.advance(CallState.INCOMING)
    t.advance(CallState.CONFIRMED)
    with pytest.raises(IllegalTransition, match="from confirmed to ringing"):
        t.advance(CallState.RINGING)
    assert t.state is CallState.CONFIRMED
    t.advance(CallState.DISCONNECTED)
    with pytest.raises(IllegalTransition):
        t.advance(CallState.CONFIRMED)


@pytest.mark.parametrize(("code", "expires", "state", "retry", "says"), [
    (200, 120, RegState.REGISTERED, True, "registered at 127.0.0.1:5060 for 120 s"),
    (200, 0, RegState.UNREGISTERED, False, "unregistered"),
    (401, 0, RegState.FAILED, False, "wrong user name or password"),
    (403, 0, RegState.FAILED, False, "forbids"),
    (404, 0, RegState.FAILED, False, "does not know"),
    (408, 0, RegState.FAILED, True, "no answer from 127.0.0.1:5060"),
    (503, 0, RegState.FAILED, True, "retrying every 10 s"),
    (486, 0, RegState.FAILED, True, "refused"),
])
def test_registration_outcomes(code: int, expires: int, state: RegState, retry: bool,
                               says: str) -> None:
    out = registration_outcome(code, "Reason", expires, "127.0.0.1:5060", "agent1015", 10)
    assert (out.state, out.retry) == (state, retry)
    assert says in out.message


def test_answer_policy() -> None:
    assert AUTO_ANSWER.decide(calls_up=0) is AnswerDecision.ANSWER
    assert AUTO_ANSWER.decide(calls_up=1) is AnswerDecision.BUSY
    assert AnswerPolicy(AnswerMode.AUTO, only_when_idle=False).decide(1) is AnswerDecision.ANSWER
    assert AnswerPolicy().decide(0) is AnswerDecision.RING
    assert AnswerPolicy(AnswerMode.REJECT).decide(0) is AnswerDecision.BUSY


def test_account_uris() -> None:
    a = SipAccount("agent1015", "pw", "127.0.0.1:5060")
    assert a.aor == "sip:agent1015@127.0.0.1"
    assert a.target_uri("9196") == "sip:9196@127.0.0.1:5060"
    assert a.target_uri("sip:x@example.org") == "sip:x@example.org"


def test_agent_specs() -> None:
    assert parse_agents(["1015"]) == [1015]
    assert parse_agents(["1015-1017", "agent1020,1016"]) == [1015, 1016, 1017, 1020]
    for bad in ["10a", "1017-1015", ""]:
        with pytest.raises(ValueError):
            parse_agents([bad])


def test_voice_specs(tmp_path: object) -> None:
    fmt = AudioFormat()
    assert parse_voice("silence", fmt).next_frame() == fmt.silence()
    assert len(parse_voice("tone:440@-20", fmt).next_frame()) == fmt.frame_bytes
    for bad in ["tone:x", "wav:/nonexistent.wav", "noise"]:
        with pytest.raises(ValueError, match="voice|tone"):
            parse_voice(bad, fmt)


def test_headless_options_and_too_many_agents() -> None:
    from softphone.headless import main

    args = build_parser().parse_args(["--agent", "1015", "--call", "9196", "--dtmf", "1#"])
    assert (args.call, args.dtmf, args.registrar) == ("9196", "1#", "127.0.0.1:5060")
    with pytest.raises(SystemExit) as exc:
        main(["--agent", "1001-1010"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["--agent", "1015-1016", "--call", "9196"])


def test_reporter_lines() -> None:
    out = io.StringIO()
    Reporter(False, out)("agent1015", "call ended", code=200, heard_dbfs=float("-inf"), x="")
    Reporter(True, out)("agent1015", "call ended", heard_hz=1004.04, state=RegState.REGISTERED)
    lines = out.getvalue().splitlines()
    assert lines[0] == "agent1015 call ended code=200"
    assert lines[1] == ('{"agent": "agent1015", "event": "call ended", "heard_hz": 1004.0, '
                        '"state": "registered"}')
