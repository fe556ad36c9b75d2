"""The numbers of the supervisor's live view, from stored facts (pure).

The live service knows its agents and calls in memory; these functions compute the same view
from what the database keeps, so a view can be served (or checked) without the engine:

- agents and their states: each agent's last row of the state audit log (``AgentRow``); time in
  each state over an interval from the whole log (``state_durations``);
- calls: the open attempts and their event times (``call_state``: dialing, ringing, answered
  and waiting for an agent, connected, playing the message);
- rates per campaign (``campaign_rates``): today's attempts, live answers, connections and
  abandons (the ledger's counting, ``dialer.core.ledger``), the last hour's attempts, the median
  answer-to-agent time, and the abandon rate over the campaign's rule window (its
  jurisdiction profile's: 30 days rolling, 24 h rolling or the calendar month; not lifetime).
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.core.agent_state import AgentState
from dialer.core.ledger import ANSWERED, AttemptFacts, LedgerEntry, Rate, judge
from dialer.core.timeutil import require_aware


class CallState(enum.Enum):
    """Where an open attempt is."""

    DIALING = "dialing"
    RINGING = "ringing"
    WAITING = "answered, waiting for an agent"
    CONNECTED = "connected"
    MESSAGE = "playing the message"


@dataclass(frozen=True)
class AgentRow:
    """An agent's current state, from the audit log."""

    agent_id: int
    login: str
    name: str
    state: AgentState
    since: datetime
    seconds: float


@dataclass(frozen=True)
class CallRow:
    """An open attempt."""

    attempt_id: int
    campaign_id: int
    number: str
    agent_id: int | None
    state: CallState
    since: datetime
    seconds: float


@dataclass(frozen=True)
class CampaignRates:
    """One campaign's figures for the live view."""

    campaign_id: int
    name: str
    attempts_today: int
    attempts_last_hour: int
    answered_today: int
    live_today: int
    connected_today: int
    abandoned_today: int
    median_answer_to_agent_s: float | None
    abandon_window: Rate
    window_label: str = "30 days rolling"
    cap: float = 0.03

    @property
    def abandon_rate_today(self) -> float:
        return self.abandoned_today / self.live_today if self.live_today else 0.0

    @property
    def answer_rate_today(self) -> float:
        return self.answered_today / self.attempts_today if self.attempts_today else 0.0


@dataclass(frozen=True)
class LiveView:
    """Everything the view shows at ``at``."""

    at: datetime
    agents: tuple[AgentRow, ...]
    calls: tuple[CallRow, ...]
    campaigns: tuple[CampaignRates, ...]

    @property
    def agents_by_state(self) -> dict[AgentState, int]:
        out: dict[AgentState, int] = {}
        for agent in self.agents:
            out[agent.state] = out.get(agent.state, 0) + 1
        return out

    @property
    def calls_by_state(self) -> dict[CallState, int]:
        out: dict[CallState, int] = {}
        for call in self.calls:
            out[call.state] = out.get(call.state, 0) + 1
        return out

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (times ISO 8601, states by value)."""
        return {
            "at": self.at.isoformat(),
            "agents": [
                {
                    "agent_id": a.agent_id,
                    "login": a.login,
                    "name": a.name,
                    "state": a.state.value,
                    "since": a.since.isoformat(),
                    "seconds": round(a.seconds, 1),
                }
                for a in self.agents
            ],
            "agents_by_state": {k.value: v for k, v in self.agents_by_state.items()},
            "calls": [
                {
                    "attempt_id": c.attempt_id,
                    "campaign_id": c.campaign_id,
                    "number": c.number,
                    "agent_id": c.agent_id,
                    "state": c.state.value,
                    "since": c.since.isoformat(),
                    "seconds": round(c.seconds, 1),
                }
                for c in self.calls
            ],
            "calls_by_state": {k.value: v for k, v in self.calls_by_state.items()},
            "campaigns": [
                {
                    "campaign_id": r.campaign_id,
                    "name": r.name,
                    "attempts_today": r.attempts_today,
                    "attempts_last_hour": r.attempts_last_hour,
                    "answered_today": r.answered_today,
                    "answer_rate_today": round(r.answer_rate_today, 4),
                    "live_today": r.live_today,
                    "connected_today": r.connected_today,
                    "abandoned_today": r.abandoned_today,
                    "abandon_rate_today": round(r.abandon_rate_today, 4),
                    "abandon_window": r.window_label,
                    "abandon_rate_window": round(r.abandon_window.rate, 4),
                    "live_window": r.abandon_window.live,
                    "abandoned_window": r.abandon_window.abandoned,
                    "abandon_cap": r.cap,
                    "median_answer_to_agent_s": r.median_answer_to_agent_s,
                }
                for r in self.campaigns
            ],
        }


def agent_rows(
    latest: Iterable[tuple[int, str, str, AgentState, datetime]],
    now: datetime,
    include_logged_out: bool = False,
) -> list[AgentRow]:
    """Agents from their last audit row ``(id, login, name, state, at)``, by login."""
    require_aware(now)
    rows = [
        AgentRow(agent_id, login, name, state, at, max((now - at).total_seconds(), 0.0))
        for agent_id, login, name, state, at in latest
        if include_logged_out or state is not AgentState.LOGGED_OUT
    ]
    return sorted(rows, key=lambda r: r.login)


def call_state(f: AttemptFacts) -> tuple[CallState, datetime]:
    """Where an open attempt is, and since when."""
    if f.bridged_at is not None:
        return CallState.CONNECTED, f.bridged_at
    if f.safe_harbor_at is not None:
        return CallState.MESSAGE, f.safe_harbor_at
    if f.answered_at is not None:
        return CallState.WAITING, f.answered_at
    if f.ringing_at is not None:
        return CallState.RINGING, f.ringing_at
    return CallState.DIALING, f.originated_at or f.started_at


def call_rows(open_attempts: Iterable[tuple[int, AttemptFacts]], now: datetime) -> list[CallRow]:
    """Rows for ``(campaign_id, facts)`` of open attempts, oldest first."""
    rows = []
    for campaign_id, f in open_attempts:
        state, since = call_state(f)
        seconds = max((now - since).total_seconds(), 0.0)
        rows.append(CallRow(f.attempt_id, campaign_id, f.number, f.agent_id, state, since, seconds))
    return sorted(rows, key=lambda r: r.attempt_id)


def campaign_rates(
    campaign_id: int,
    name: str,
    today: Sequence[AttemptFacts],
    now: datetime,
    abandon_window: Rate,
    window_label: str = "30 days rolling",
    cap: float = 0.03,
) -> CampaignRates:
    """A campaign's figures from its attempts since the start of its local day."""
    require_aware(now)
    entries: list[LedgerEntry] = [judge(f) for f in today]
    to_agent = [e.answer_to_agent_s for e in entries if e.answer_to_agent_s is not None]
    hour_ago = now - timedelta(hours=1)
    return CampaignRates(
        campaign_id=campaign_id,
        name=name,
        attempts_today=len(entries),
        attempts_last_hour=sum(f.started_at > hour_ago for f in today),
        answered_today=sum(e.facts.result in ANSWERED for e in entries),
        live_today=sum(e.live for e in entries),
        connected_today=sum(e.facts.bridged_at is not None for e in entries),
        abandoned_today=sum(e.live and e.abandoned for e in entries),
        median_answer_to_agent_s=statistics.median(to_agent) if to_agent else None,
        abandon_window=abandon_window,
        window_label=window_label,
        cap=cap,
    )


def state_durations(
    transitions: Sequence[tuple[datetime, AgentState]],
    since: datetime,
    until: datetime,
    before: AgentState = AgentState.LOGGED_OUT,
) -> Mapping[AgentState, float]:
    """Seconds spent in each state within ``[since, until)``.

    ``transitions`` are ``(at, new_state)`` in time order; ``before`` is the state before the
    first one (an agent is logged out until the log says otherwise).
    """
    out: dict[AgentState, float] = {}
    state, at = before, since
    for when, new_state in transitions:
        if when > since:
            start, end = max(at, since), min(when, until)
            if end > start:
                out[state] = out.get(state, 0.0) + (end - start).total_seconds()
        state, at = new_state, when
        if when >= until:
            break
    start = max(at, since)
    if until > start:
        out[state] = out.get(state, 0.0) + (until - start).total_seconds()
    return out
