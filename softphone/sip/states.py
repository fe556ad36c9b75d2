"""The user agent's state rules, in one place and without I/O (after h11's state tables).

- Calls move along `CALL_TRANSITIONS`: `CallTracker.advance(new)` returns whether the state
  changed (a repeated state, e.g. a second 18x, is not a change) and raises `IllegalTransition`
  without changing the state for a move the table does not list.
- `registration_outcome()` turns a REGISTER's final status into a `RegState` and a sentence an
  agent can act on, and says whether retrying makes sense (a wrong password stays wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

from softphone.sip.api import CallState, RegState

CALL_TRANSITIONS: dict[CallState | None, frozenset[CallState]] = {
    None: frozenset({CallState.INCOMING, CallState.CALLING}),
    CallState.INCOMING: frozenset({CallState.RINGING, CallState.CONNECTING,
                                   CallState.CONFIRMED, CallState.DISCONNECTED}),
    CallState.CALLING: frozenset({CallState.RINGING, CallState.CONNECTING,
                                  CallState.CONFIRMED, CallState.DISCONNECTED}),
    CallState.RINGING: frozenset({CallState.CONNECTING, CallState.CONFIRMED,
                                  CallState.DISCONNECTED}),
    CallState.CONNECTING: frozenset({CallState.CONFIRMED, CallState.DISCONNECTED}),
    CallState.CONFIRMED: frozenset({CallState.DISCONNECTED}),
    CallState.DISCONNECTED: frozenset(),
}


class IllegalTransition(Exception):
    """A call state change the table does not allow; the state is left as it was."""


class CallTracker:
    def __init__(self) -> None:
        self.state: CallState | None = None

    def advance(self, new: CallState) -> bool:
        if new is self.state:
            return False
        if new not in CALL_TRANSITIONS[self.state]:
            old = self.state.value if self.state else "start"
            raise IllegalTransition(f"call cannot go from {old} to {new.value}")
        self.state = new
        return True

    @property
    def up(self) -> bool:
        return self.state in (CallState.CONNECTING, CallState.CONFIRMED)

    @property
    def ended(self) -> bool:
        return self.state is CallState.DISCONNECTED


@dataclass(frozen=True)
class RegistrationOutcome:
    state: RegState
    message: str
    retry: bool


def registration_outcome(code: int, reason: str, expires_s: int, registrar: str,
                         user: str, retry_s: int) -> RegistrationOutcome:
    """What a REGISTER's final response means for the agent."""
    said = f"{code} {reason}".strip()
    if 200 <= code < 300:
        if expires_s > 0:
            return RegistrationOutcome(RegState.REGISTERED,
                                       f"{user} registered at {registrar} for {expires_s} s",
                                       True)
        return RegistrationOutcome(RegState.UNREGISTERED, f"{user} unregistered from {registrar}",
                                   False)
    if code in (401, 407):
        return RegistrationOutcome(
            RegState.FAILED,
            f"{registrar} refused the credentials of {user} ({said}): wrong user name or "
            "password?", False)
    if code == 403:
        return RegistrationOutcome(RegState.FAILED,
                                   f"{registrar} forbids {user} to register ({said})", False)
    if code == 404:
        return RegistrationOutcome(RegState.FAILED,
                                   f"{registrar} does not know {user} ({said})", False)
    if code in (408, 480, 500, 502, 503, 504) or code < 200:
        return RegistrationOutcome(
            RegState.FAILED,
            f"no answer from {registrar} for {user} ({said}); retrying every {retry_s} s", True)
    return RegistrationOutcome(RegState.FAILED,
                               f"{registrar} refused {user} ({said}); retrying every {retry_s} s",
                               True)
