"""The agent state machine: the transition table, after-call targets and negotiated logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.core.agent_state import (
    TRANSITIONS,
    AgentMachine,
    AgentState,
    AgentStateError,
    AuthorizeLogout,
    CallAssigned,
    CallConnected,
    CallEnded,
    CallReserved,
    DeadlinePassed,
    DispositionSaved,
    EndCall,
    Event,
    LoginSucceeded,
    LogoutRequested,
    NotReadyRequested,
    ReadyRequested,
    RerouteCall,
    ReservationReleased,
    SessionLost,
    ShowLogoutCountdown,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
S = AgentState

ALL_EVENTS: list[Event] = [
    LoginSucceeded(),
    ReadyRequested(),
    NotReadyRequested("lunch"),
    CallReserved("c1"),
    CallAssigned("c2"),
    ReservationReleased("c1"),
    CallConnected("c1"),
    CallEnded("c1"),
    DispositionSaved("c1", "SALE"),
    LogoutRequested(),
    DeadlinePassed(),
    SessionLost(),
]


def state_of(m: AgentMachine) -> AgentState:
    """The machine's state, read through a call so mypy does not narrow it between events."""
    return m.state


def machine_in(state: AgentState) -> AgentMachine:
    """A machine driven to ``state`` through legal events (call id c1, 10 s logout delay)."""
    m = AgentMachine("agent1001")
    paths: dict[AgentState, list[Event]] = {
        S.LOGGED_OUT: [],
        S.NOT_READY: [LoginSucceeded()],
        S.READY: [LoginSucceeded(), ReadyRequested()],
        S.RESERVED: [LoginSucceeded(), ReadyRequested(), CallReserved("c1")],
        S.ON_CALL: [LoginSucceeded(), ReadyRequested(), CallReserved("c1"), CallConnected("c1")],
        S.WRAP_UP: [
            LoginSucceeded(),
            ReadyRequested(),
            CallReserved("c1"),
            CallConnected("c1"),
            CallEnded("c1"),
        ],
        S.LOGOUT_PENDING: [
            LoginSucceeded(),
            ReadyRequested(),
            CallReserved("c1", timedelta(seconds=10)),
            LogoutRequested(),
        ],
    }
    for event in paths[state]:
        m.handle(event, T0)
    assert state_of(m) is state
    return m


def test_the_table_lists_every_state() -> None:
    assert set(TRANSITIONS) == set(AgentState)


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_events_outside_the_table_raise_and_change_nothing(state: AgentState, event: Event) -> None:
    m = machine_in(state)
    if type(event) in TRANSITIONS[state]:
        m.handle(event, T0)  # legal: must not raise
        return
    with pytest.raises(AgentStateError) as info:
        m.handle(event, T0)
    assert info.value.state is state
    assert info.value.event == event
    assert state.value in str(info.value) and type(event).__name__ in str(info.value)
    assert state_of(m) is state


def test_normal_call_cycle_and_audit_records() -> None:
    m = AgentMachine("agent1001")
    seen = []
    events: list[Event] = [
        LoginSucceeded(),
        ReadyRequested(),
        CallReserved("c1"),
        CallConnected("c1"),
        CallEnded("c1"),
        DispositionSaved("c1", "SALE"),
    ]
    for event in events:
        out = m.handle(event, T0)
        assert out.effects == ()
        seen.append((out.audit.old, out.audit.new, out.audit.event_name))
    assert seen == [
        (S.LOGGED_OUT, S.NOT_READY, "LoginSucceeded"),
        (S.NOT_READY, S.READY, "ReadyRequested"),
        (S.READY, S.RESERVED, "CallReserved"),
        (S.RESERVED, S.ON_CALL, "CallConnected"),
        (S.ON_CALL, S.WRAP_UP, "CallEnded"),
        (S.WRAP_UP, S.READY, "DispositionSaved"),
    ]
    assert m.call_id is None and m.in_pool


def test_pool_membership_follows_the_state() -> None:
    assert machine_in(S.READY).in_pool
    for state in (S.NOT_READY, S.RESERVED, S.ON_CALL, S.WRAP_UP, S.LOGOUT_PENDING):
        assert not machine_in(state).in_pool
    assert machine_in(S.ON_CALL).returns_to_pool
    assert not machine_in(S.LOGOUT_PENDING).returns_to_pool


def test_released_reservation_returns_the_agent_to_ready() -> None:
    m = machine_in(S.RESERVED)
    out = m.handle(ReservationReleased("c1"), T0)
    assert (out.audit.new, m.call_id, m.in_pool) == (S.READY, None, True)


def test_not_ready_during_a_call_applies_after_the_disposition() -> None:
    m = machine_in(S.ON_CALL)
    m.handle(NotReadyRequested("break"), T0)
    assert state_of(m) is S.ON_CALL and not m.returns_to_pool
    m.handle(CallEnded("c1"), T0)
    m.handle(DispositionSaved("c1", "SALE"), T0)
    assert state_of(m) is S.NOT_READY and m.not_ready_reason == "break"
    m.handle(NotReadyRequested("training"), T0)
    assert state_of(m) is S.NOT_READY and m.not_ready_reason == "training"
    out = m.handle(NotReadyRequested("coffee"), T0)
    assert out.audit.detail() == {"reason": "coffee"}
    m.handle(ReadyRequested(), T0)
    assert m.not_ready_reason == ""


def test_events_for_another_call_are_refused() -> None:
    m = machine_in(S.RESERVED)
    with pytest.raises(AgentStateError, match="c2"):
        m.handle(CallConnected("c2"), T0)
    assert state_of(m) is S.RESERVED and m.call_id == "c1"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AgentMachine("a").handle(LoginSucceeded(), datetime(2026, 3, 2, 15, 0))


def test_session_lost_ends_a_connected_call_and_reroutes_a_reserved_one() -> None:
    on_call = machine_in(S.ON_CALL)
    assert on_call.handle(SessionLost(), T0).effects == (EndCall("c1"),)
    assert state_of(on_call) is S.LOGGED_OUT
    reserved = machine_in(S.RESERVED)
    assert reserved.handle(SessionLost(), T0).effects == (RerouteCall("c1"),)


# -- negotiated logout ------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.READY, S.NOT_READY])
def test_logout_with_nothing_pending_is_authorized_at_once(state: AgentState) -> None:
    m = machine_in(state)
    out = m.handle(LogoutRequested(), T0)
    assert out.effects == (AuthorizeLogout(),)
    assert state_of(m) is S.LOGGED_OUT and not m.in_pool and m.get_timer() is None


def test_logout_while_a_call_is_reserved_counts_down_then_the_call_is_handled() -> None:
    m = machine_in(S.READY)
    m.handle(CallReserved("c1", max_logout_delay=timedelta(seconds=30)), T0)
    out = m.handle(LogoutRequested(), T0)
    deadline = T0 + timedelta(seconds=30)
    assert out.effects == (ShowLogoutCountdown(deadline),)
    assert out.audit.new is S.LOGOUT_PENDING
    assert out.audit.detail()["deadline"] == deadline.isoformat()
    assert not m.in_pool and m.logout_requested
    assert m.remaining(T0 + timedelta(seconds=12)) == timedelta(seconds=18)
    assert m.get_timer() == deadline
    assert m.handle_timer(T0 + timedelta(seconds=29)) is None

    # the call connects in time: the agent takes it, no countdown any more
    assert m.handle(CallConnected("c1"), T0 + timedelta(seconds=5)).effects == ()
    assert state_of(m) is S.ON_CALL and m.get_timer() is None
    assert m.handle_timer(deadline + timedelta(seconds=1)) is None
    m.handle(CallEnded("c1"), T0 + timedelta(seconds=40))
    assert state_of(m) is S.WRAP_UP  # not authorized before the disposition
    out = m.handle(DispositionSaved("c1", "SALE"), T0 + timedelta(seconds=50))
    assert out.effects == (AuthorizeLogout(),)
    assert state_of(m) is S.LOGGED_OUT


def test_logout_deadline_reroutes_the_waiting_call_then_authorizes() -> None:
    m = machine_in(S.LOGOUT_PENDING)
    deadline = T0 + timedelta(seconds=10)
    assert m.handle_timer(deadline - timedelta(milliseconds=1)) is None
    out = m.handle_timer(deadline)
    assert out is not None
    assert out.effects == (RerouteCall("c1"), AuthorizeLogout())
    assert out.audit.event_name == "DeadlinePassed"
    assert state_of(m) is S.LOGGED_OUT and m.call_id is None and m.get_timer() is None
    with pytest.raises(AgentStateError):  # a late connect for that call is not for this agent
        m.handle(CallConnected("c1"), deadline + timedelta(seconds=1))


def test_logout_pending_ends_at_once_when_the_reservation_is_released() -> None:
    m = machine_in(S.LOGOUT_PENDING)
    out = m.handle(ReservationReleased("c1"), T0 + timedelta(seconds=2))
    assert out.effects == (AuthorizeLogout(),)
    assert state_of(m) is S.LOGGED_OUT


def test_second_logout_click_changes_nothing() -> None:
    m = machine_in(S.LOGOUT_PENDING)
    out = m.handle(LogoutRequested(), T0 + timedelta(seconds=4))
    assert out.effects == ()
    assert m.deadline == T0 + timedelta(seconds=10)


@pytest.mark.parametrize("state", [S.ON_CALL, S.WRAP_UP])
def test_logout_on_a_call_waits_for_the_disposition(state: AgentState) -> None:
    m = machine_in(state)
    out = m.handle(LogoutRequested(), T0)
    assert out.effects == () and state_of(m) is state and m.get_timer() is None
    m.handle(ReadyRequested(), T0)  # too late: logout stays requested
    if state is S.ON_CALL:
        m.handle(CallEnded("c1"), T0)
    out = m.handle(DispositionSaved("c1", "SALE"), T0)
    assert out.effects == (AuthorizeLogout(),)
    assert state_of(m) is S.LOGGED_OUT
    m.handle(LoginSucceeded(), T0)  # a new session starts clean
    assert state_of(m) is S.NOT_READY and not m.logout_requested


def test_a_reservation_takes_its_calls_id_and_keeps_the_logout_countdown() -> None:
    m = AgentMachine("agent1001")
    m.handle(LoginSucceeded(), T0)
    m.handle(ReadyRequested(), T0)
    m.handle(CallReserved("claim-7", max_logout_delay=timedelta(seconds=20)), T0)
    m.handle(LogoutRequested(), T0)
    deadline = m.deadline
    m.handle(CallAssigned("41"), T0 + timedelta(seconds=1))
    assert (m.state, m.call_id, m.deadline) == (S.LOGOUT_PENDING, "41", deadline)
    m.handle(CallConnected("41"), T0 + timedelta(seconds=2))
    assert m.state is S.ON_CALL
