"""The agent state machine, negotiated logout included.

How it works
------------
One ``AgentMachine`` per logged-in agent. The dialer feeds it events (past facts such as
``CallReserved`` or ``LogoutRequested``) together with the current time:
``machine.handle(event, now)``. Every legal event moves the machine along ``TRANSITIONS``, the
single table of ``{state: {event type: new state}}``, and returns an ``Outcome``: the effects the
dialer must carry out (imperatives such as ``RerouteCall`` or ``AuthorizeLogout``) and an
``AuditRecord`` (old -> new, event, time) to persist. An event that the table does not list for
the current state raises ``AgentStateError`` and leaves the machine untouched. The machine never
reads a clock: deadlines are exposed by ``get_timer()`` and acted on by ``handle_timer(now)``.

Normal flow::

    logged_out -LoginSucceeded-> not_ready <-ReadyRequested/NotReadyRequested-> ready
    ready -CallReserved-> reserved -CallConnected-> on_call -CallEnded-> wrap_up
    wrap_up -DispositionSaved-> ready (or not_ready, or logged_out: see "after the call")
    reserved -ReservationReleased-> ready (the call failed before connecting, or was skipped)
    reserved -CallAssigned-> reserved (the reservation now names the call's attempt)
    not_ready -NotReadyRequested-> not_ready (a new reason; ``not_ready_reason``)

After the call: a table entry may name ``AFTER_CALL`` instead of a state. It resolves to where the
agent asked to go while busy: ``ready`` by default, ``not_ready`` after a ``NotReadyRequested``
during reserved/on_call/wrap_up, ``logged_out`` once logout was requested. Those requests are
self-transitions in the table; they only change the remembered after-call target.

Negotiated logout (design.md):

1. ``LogoutRequested`` takes the agent out of the pacing pool at once (``in_pool`` and
   ``returns_to_pool`` are false from then on).
2. Nothing reserved and not on a call (not_ready/ready): -> logged_out with ``AuthorizeLogout``.
3. A call reserved for the agent: -> logout_pending with a deadline of now + the reserved call's
   campaign ``max_logout_delay`` (``ShowLogoutCountdown``; ``remaining(now)`` for the countdown).
   If the call connects in time, the agent handles it (on_call -> wrap_up) and logout is
   authorized when its disposition is saved. If the reservation is released, logout is
   authorized at once. When the deadline passes (``handle_timer``), the machine emits
   ``RerouteCall`` (another agent takes the call, or it is handled as abandoned) and then
   ``AuthorizeLogout``.
4. On a call or in wrap-up: no countdown; the state stays on_call/wrap_up and logout is
   authorized when the disposition is saved.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from dialer.core.timeutil import require_aware

DEFAULT_MAX_LOGOUT_DELAY: Final = timedelta(seconds=10)


class AgentState(enum.Enum):
    """Where an agent is; the dialer is the authority, the softphone shows it."""

    LOGGED_OUT = "logged_out"
    NOT_READY = "not_ready"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    LOGOUT_PENDING = "logout_pending"


class AgentStateError(Exception):
    """An event that is not legal in the machine's current state (state left unchanged)."""

    def __init__(self, state: AgentState, event: Event, reason: str = "") -> None:
        self.state = state
        self.event = event
        self.reason = reason or "not allowed"
        super().__init__(f"{type(event).__name__} in state {state.value}: {self.reason}")


# -- events: past facts ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoginSucceeded:
    """The agent authenticated and the nailed-up leg is up."""


@dataclass(frozen=True)
class ReadyRequested:
    """The agent asked to take calls (now, or after the current call)."""


@dataclass(frozen=True)
class NotReadyRequested:
    """The agent asked for a break (now, or after the current call), with a reason."""

    reason: str = ""


@dataclass(frozen=True)
class CallReserved:
    """The dialer picked this agent for a call being established (or a preview record)."""

    call_id: str
    max_logout_delay: timedelta = DEFAULT_MAX_LOGOUT_DELAY


@dataclass(frozen=True)
class CallAssigned:
    """The reservation now stands for this call: a contact being claimed got its attempt, or an
    agent held for a predictive campaign's ringing calls gets one of them (same state)."""

    call_id: str


@dataclass(frozen=True)
class ReservationReleased:
    """The reserved call will not reach the agent (busy, no answer, skipped, rerouted)."""

    call_id: str


@dataclass(frozen=True)
class CallConnected:
    """The customer is bridged with the agent."""

    call_id: str


@dataclass(frozen=True)
class CallEnded:
    """The customer leg of the agent's call hung up."""

    call_id: str


@dataclass(frozen=True)
class DispositionSaved:
    """The agent's disposition for the call was persisted."""

    call_id: str
    code: str


@dataclass(frozen=True)
class LogoutRequested:
    """The agent clicked Logout (main window or voice channel)."""


@dataclass(frozen=True)
class DeadlinePassed:
    """The negotiated-logout deadline expired (produced by ``handle_timer``)."""


@dataclass(frozen=True)
class SessionLost:
    """The agent's nailed-up leg or agent link went away without a logout."""


Event = (
    LoginSucceeded
    | ReadyRequested
    | NotReadyRequested
    | CallReserved
    | CallAssigned
    | ReservationReleased
    | CallConnected
    | CallEnded
    | DispositionSaved
    | LogoutRequested
    | DeadlinePassed
    | SessionLost
)


# -- effects: what the dialer must do -------------------------------------------------------


@dataclass(frozen=True)
class AuthorizeLogout:
    """Tell the agent (My Messages, status tooltip) that logoff is authorized; end the session."""


@dataclass(frozen=True)
class ShowLogoutCountdown:
    """Tell the agent that logout waits for a call being established, until ``deadline``."""

    deadline: datetime


@dataclass(frozen=True)
class RerouteCall:
    """Give this call to another agent, or handle it as abandoned; never leave it hanging."""

    call_id: str


@dataclass(frozen=True)
class EndCall:
    """Hang up the customer leg if still up and settle the attempt without agent disposition."""

    call_id: str


Effect = AuthorizeLogout | ShowLogoutCountdown | RerouteCall | EndCall


@dataclass(frozen=True)
class AuditRecord:
    """One transition, for the agent audit log."""

    agent_id: str
    old: AgentState
    new: AgentState
    event: Event
    at: datetime
    deadline: datetime | None = None  # the logout deadline running after this transition

    @property
    def event_name(self) -> str:
        return type(self.event).__name__

    def detail(self) -> dict[str, str | float]:
        """The event's fields as JSON-ready values (durations in seconds), for the log."""
        out: dict[str, str | float] = {}
        for name, value in vars(self.event).items():
            if isinstance(value, timedelta):
                out[name] = value.total_seconds()
            elif isinstance(value, datetime):
                out[name] = value.isoformat()
            elif isinstance(value, str | int | float):
                out[name] = value
        if self.deadline is not None:
            out["deadline"] = self.deadline.isoformat()
        return out


@dataclass(frozen=True)
class Outcome:
    """What one handled event produced."""

    effects: tuple[Effect, ...]
    audit: AuditRecord


# -- the table ------------------------------------------------------------------------------


class _Route(enum.Enum):
    AFTER_CALL = "after_call"


AFTER_CALL: Final = _Route.AFTER_CALL
Target = AgentState | _Route

_S = AgentState
_BUSY = (_S.RESERVED, _S.ON_CALL, _S.WRAP_UP)

TRANSITIONS: Final[dict[AgentState, dict[type[Event], Target]]] = {
    _S.LOGGED_OUT: {LoginSucceeded: _S.NOT_READY},
    _S.NOT_READY: {
        ReadyRequested: _S.READY,
        NotReadyRequested: _S.NOT_READY,  # a new reason
        LogoutRequested: _S.LOGGED_OUT,
        SessionLost: _S.LOGGED_OUT,
    },
    _S.READY: {
        NotReadyRequested: _S.NOT_READY,
        CallReserved: _S.RESERVED,
        LogoutRequested: _S.LOGGED_OUT,
        SessionLost: _S.LOGGED_OUT,
    },
    _S.RESERVED: {
        CallConnected: _S.ON_CALL,
        CallAssigned: _S.RESERVED,
        ReservationReleased: AFTER_CALL,
        ReadyRequested: _S.RESERVED,
        NotReadyRequested: _S.RESERVED,
        LogoutRequested: _S.LOGOUT_PENDING,
        SessionLost: _S.LOGGED_OUT,
    },
    _S.ON_CALL: {
        CallEnded: _S.WRAP_UP,
        ReadyRequested: _S.ON_CALL,
        NotReadyRequested: _S.ON_CALL,
        LogoutRequested: _S.ON_CALL,
        SessionLost: _S.LOGGED_OUT,
    },
    _S.WRAP_UP: {
        DispositionSaved: AFTER_CALL,
        ReadyRequested: _S.WRAP_UP,
        NotReadyRequested: _S.WRAP_UP,
        LogoutRequested: _S.WRAP_UP,
        SessionLost: _S.LOGGED_OUT,
    },
    _S.LOGOUT_PENDING: {
        CallConnected: _S.ON_CALL,
        CallAssigned: _S.LOGOUT_PENDING,
        ReservationReleased: _S.LOGGED_OUT,
        DeadlinePassed: _S.LOGGED_OUT,
        LogoutRequested: _S.LOGOUT_PENDING,
        SessionLost: _S.LOGGED_OUT,
    },
}

_CALL_EVENTS = (CallConnected, CallEnded, ReservationReleased, DispositionSaved)


class AgentMachine:
    """The state of one agent session; feed it ``handle(event, now)``."""

    def __init__(self, agent_id: str, state: AgentState = AgentState.LOGGED_OUT) -> None:
        self.agent_id = agent_id
        self._state = state
        self._call_id: str | None = None
        self._max_logout_delay = DEFAULT_MAX_LOGOUT_DELAY
        self._after_call = AgentState.READY
        self._logout_requested = False
        self._deadline: datetime | None = None
        self._not_ready_reason = ""

    # -- queries --------------------------------------------------------------------------

    @property
    def state(self) -> AgentState:
        return self._state

    @property
    def call_id(self) -> str | None:
        """The call reserved for, connected to, or being wrapped up by the agent."""
        return self._call_id

    @property
    def in_pool(self) -> bool:
        """Whether pacing may plan a new call on this agent right now."""
        return self._state is AgentState.READY and not self._logout_requested

    @property
    def returns_to_pool(self) -> bool:
        """Whether the agent will be ready after the current call (for predictive pacing)."""
        if self._logout_requested or self._state is AgentState.LOGGED_OUT:
            return False
        if self._state in _BUSY:
            return self._after_call is AgentState.READY
        return self._state is AgentState.READY

    @property
    def not_ready_reason(self) -> str:
        """The reason of the last not-ready request (kept until the agent is ready again)."""
        return self._not_ready_reason

    @property
    def logout_requested(self) -> bool:
        return self._logout_requested

    @property
    def deadline(self) -> datetime | None:
        """When a pending logout is authorized regardless of the reserved call."""
        return self._deadline

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left on the logout countdown (never negative); None when none runs."""
        require_aware(now)
        if self._deadline is None:
            return None
        return max(self._deadline - now, timedelta(0))

    def get_timer(self) -> datetime | None:
        """When ``handle_timer`` must next be called, if ever."""
        return self._deadline

    # -- commands -------------------------------------------------------------------------

    def handle_timer(self, now: datetime) -> Outcome | None:
        """Act on an expired deadline; None if nothing was due."""
        require_aware(now)
        if self._deadline is None or now < self._deadline:
            return None
        return self.handle(DeadlinePassed(), now)

    def handle(self, event: Event, now: datetime) -> Outcome:
        """Apply one event; raise ``AgentStateError`` (state unchanged) if it is illegal."""
        require_aware(now)
        old = self._state
        target = TRANSITIONS[old].get(type(event))
        if target is None:
            raise AgentStateError(old, event)
        self._check_call_id(event)
        new = self._after_call if target is AFTER_CALL else target
        assert isinstance(new, AgentState)
        effects = self._apply(old, new, event, now)
        audit = AuditRecord(self.agent_id, old, new, event, now, self._deadline)
        return Outcome(effects, audit)

    # -- internals ------------------------------------------------------------------------

    def _check_call_id(self, event: Event) -> None:
        if isinstance(event, _CALL_EVENTS) and event.call_id != self._call_id:
            reason = f"{type(event).__name__} for call {event.call_id!r}, "
            reason += f"but the agent's call is {self._call_id!r}"
            raise AgentStateError(self._state, event, reason)

    def _apply(
        self, old: AgentState, new: AgentState, event: Event, now: datetime
    ) -> tuple[Effect, ...]:
        effects: list[Effect] = []
        if isinstance(event, NotReadyRequested) and not self._logout_requested:
            self._not_ready_reason = event.reason
        if isinstance(event, CallReserved):
            self._call_id = event.call_id
            self._max_logout_delay = event.max_logout_delay
        elif isinstance(event, CallAssigned):
            self._call_id = event.call_id
        elif isinstance(event, ReadyRequested | NotReadyRequested) and old in _BUSY:
            if not self._logout_requested:
                wanted = isinstance(event, ReadyRequested)
                self._after_call = AgentState.READY if wanted else AgentState.NOT_READY
        elif isinstance(event, LogoutRequested):
            effects += self._request_logout(old, new, now)
        elif isinstance(event, CallConnected):
            self._deadline = None
        elif isinstance(event, DeadlinePassed | SessionLost) and self._call_id is not None:
            connected = old in (AgentState.ON_CALL, AgentState.WRAP_UP)
            call = self._call_id
            effects.append(EndCall(call) if connected else RerouteCall(call))
        if new is AgentState.LOGGED_OUT and self._logout_requested:
            effects.append(AuthorizeLogout())
        if new in (AgentState.LOGGED_OUT, AgentState.READY):
            self._not_ready_reason = ""
        if new in (AgentState.LOGGED_OUT, AgentState.READY, AgentState.NOT_READY):
            self._reset(logged_out=new is AgentState.LOGGED_OUT)
        self._state = new
        return tuple(effects)

    def _request_logout(self, old: AgentState, new: AgentState, now: datetime) -> list[Effect]:
        if self._logout_requested:
            return []  # a second click changes nothing
        self._logout_requested = True
        self._after_call = AgentState.LOGGED_OUT
        if new is AgentState.LOGOUT_PENDING:
            self._deadline = now + self._max_logout_delay
            return [ShowLogoutCountdown(self._deadline)]
        return []

    def _reset(self, logged_out: bool) -> None:
        self._call_id = None
        self._deadline = None
        self._max_logout_delay = DEFAULT_MAX_LOGOUT_DELAY
        if logged_out:
            self._logout_requested = False
            self._after_call = AgentState.READY
        elif not self._logout_requested:
            self._after_call = AgentState.READY
