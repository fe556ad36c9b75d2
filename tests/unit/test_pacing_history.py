"""A campaign's history as pacing facts (pure), and a predictive pacer replaying it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dialer.core.results import CallResult
from dialer.pacing import (
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    CallLaunched,
    FailReason,
    PacingMode,
    PredictivePacer,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
)
from dialer.pacing.history import PastAttempt, attempt_events, pacing_events, timed

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def past(n: int, result: CallResult | None, **times: float) -> PastAttempt:
    """Attempt ``n`` started at T0 + n s; ``times`` are seconds after its start."""
    t = T0 + n * S
    at = {k: t + v * S for k, v in times.items()}
    return PastAttempt(n, t, result, at.pop("ended_at", None), agent_id=7 if result else None,
                       **at)


def test_each_result_gives_the_facts_the_live_dialer_emitted() -> None:
    talked = past(1, CallResult.ANSWERED_HUMAN, answered_at=12, bridged_at=12.5, ended_at=100,
                  dispositioned_at=130)
    assert [e for _, e in attempt_events(talked)] == [
        CallLaunched(1), CallAnswered(1, AnswerKind.LIVE, 12.0), CallConnected(1, 7, 0.5),
        TalkEnded(7, 87.5), WrapUpEnded(7, 30.0),
    ]
    abandoned = past(2, CallResult.ABANDONED, answered_at=10, safe_harbor_at=11.5, ended_at=20)
    assert [e for _, e in attempt_events(abandoned)] == [
        CallLaunched(2), CallAnswered(2, AnswerKind.LIVE, 10.0), CallAbandoned(2, 1.5),
    ]
    machine = past(3, CallResult.MACHINE, answered_at=8, amd_done_at=11, ended_at=11)
    assert attempt_events(machine)[1] == (T0 + 14 * S, CallAnswered(3, AnswerKind.MACHINE, 8.0))
    assert attempt_events(past(4, CallResult.NO_ANSWER, ended_at=30))[1][1] == CallFailed(
        4, FailReason.NO_ANSWER, 30.0)
    assert attempt_events(past(5, CallResult.HUNG_UP_RINGING, ended_at=6))[1][1] == CallFailed(
        5, FailReason.NO_ANSWER, 6.0)
    assert attempt_events(past(6, CallResult.BUSY, ended_at=3))[1][1] == CallFailed(
        6, FailReason.BUSY, 3.0)
    # a customer who hung up waiting: answered, then nothing more (no agent, no message)
    dropped = past(7, CallResult.DROPPED_BY_CUSTOMER, answered_at=9, ended_at=12)
    assert [type(e) for _, e in attempt_events(dropped)] == [CallLaunched, CallAnswered]
    # outcome unknown: nothing, not even the launch
    assert attempt_events(past(8, CallResult.INTERRUPTED, ended_at=5)) == []
    assert attempt_events(past(9, None)) == []


def test_facts_merge_in_time_order_and_map_to_the_pacer_clock() -> None:
    a = past(0, CallResult.ANSWERED_HUMAN, answered_at=5, bridged_at=5, ended_at=60)
    b = past(10, CallResult.BUSY, ended_at=2)
    merged = pacing_events([a, b])
    assert [at for at, _ in merged] == sorted(at for at, _ in merged)
    assert [type(e) for _, e in merged] == [CallLaunched, CallAnswered, CallConnected,
                                            CallLaunched, CallFailed, TalkEnded]
    now = T0 + 100 * S
    clock = timed(merged, now, clock_now=5000.0)
    assert clock[0][0] == 4900.0 and clock[-1][0] == 4960.0
    posix = timed(merged, now, clock_now=now.timestamp())
    assert posix[0][0] == T0.timestamp()
    assert timed([(now + 5 * S, CallLaunched(1))], now, 5000.0)[0][0] == 5000.0


def history(n_calls: int, live_every: int, start: float = 0.0) -> list[tuple[float, object]]:
    """A steady campaign: a call every 3 s, one in ``live_every`` answered live after 10 s,
    talked 120 s and wrapped up 20 s; the others fail after 25 s of ringing."""
    out: list[tuple[float, object]] = []
    for i in range(n_calls):
        t = start + 3.0 * i
        out.append((t, CallLaunched(i)))
        if i % live_every == 0:
            out += [(t + 10, CallAnswered(i, AnswerKind.LIVE, 10.0)),
                    (t + 10.2, CallConnected(i, i % 10, 0.2)),
                    (t + 130, TalkEnded(i % 10, 120.0)), (t + 150, WrapUpEnded(i % 10, 20.0))]
        else:
            out.append((t + 25, CallFailed(i, FailReason.NO_ANSWER, 25.0)))
    out.sort(key=lambda e: e[0])
    return out


def test_a_replayed_history_skips_the_warm_up_and_sets_the_estimates() -> None:
    events = history(600, live_every=8)
    now = events[-1][0] + 1
    agents = Snapshot([AgentView(i, AgentState.READY, now - 5) for i in range(10)], [])
    cold = PredictivePacer()
    first = cold.decide(agents, now)
    assert first.mode is PacingMode.WARM_UP and first.launch == 10
    warm = PredictivePacer()
    assert warm.replay(events) == len(events)  # type: ignore[arg-type]
    assert warm.lives == 75 and len(warm.talk) == 75 and len(warm.wrap) == 75
    assert abs(warm.rate.value - 1 / 8) < 0.02
    assert warm.budget == 0.0 and not warm._theta_binding
    decision = warm.decide(agents, now)
    assert decision.mode is PacingMode.PREDICTIVE
    assert decision.launch > 2 * first.launch, decision.as_log()


def test_replayed_abandons_make_the_pacer_cautious_and_the_hour_guard_remembers() -> None:
    events = history(600, live_every=4)
    burst = [(1780.0 + i, CallAbandoned(10_000 + i, 2.0)) for i in range(12)]
    now = 1800.0
    agents = Snapshot([AgentView(i, AgentState.READY, now - 5) for i in range(10)], [])
    calm, burnt = PredictivePacer(), PredictivePacer()
    calm.replay(e for e in events if e[0] < now)  # type: ignore[misc]
    burnt.replay(sorted([*(e for e in events if e[0] < now), *burst],  # type: ignore[list-item]
                        key=lambda e: e[0]))
    assert burnt.theta_at(now) < calm.theta_at(now) / 2
    assert burnt.hour_factor(now) < 1.0 == calm.hour_factor(now)
    assert burnt.decide(agents, now).launch < calm.decide(agents, now).launch
