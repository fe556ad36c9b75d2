"""The floor's agents: one `Seat` per logged-in agent, the floor's time limits, and ids.

Every channel and bridge the floor makes has an id that says what it is, so a restarted dialer
(or the resync after Asterisk restarted) recognises its own:

    agent-<agent id>-<run><n>  an agent's voice channel (<run> is new for each dialer process)
    bridge-agent-<agent id>    the agent's own mixing bridge, where the voice channel waits
    cust-<attempt id>          the customer call of attempt <attempt id>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dialer.core import agent_state as st
from dialer.core.floor.messages import ClaimView

AGENT_PREFIX = "agent-"
CUSTOMER_PREFIX = "cust-"
BRIDGE_PREFIX = "bridge-agent-"


class FloorRefused(Exception):
    """An agent's request that cannot be carried out now; nothing changed."""


class Leg(enum.Enum):
    DOWN = "down"
    CALLING = "calling"
    UP = "up"


@dataclass
class Seat:
    """A logged-in agent."""

    agent_id: int
    login: str
    name: str
    endpoint: str
    campaigns: tuple[int, ...]
    machine: st.AgentMachine
    since: datetime
    leg: Leg = Leg.DOWN
    leg_channel: str | None = None
    leg_retry_at: datetime | None = None
    leg_failures: int = 0
    resume_ready: bool = False         # ready when the lost voice channel is back
    ticket: int | None = None          # a claim on its way for this agent
    offer: ClaimView | None = None     # a record offered (preview, push)
    offer_contact: dict[str, Any] = field(default_factory=dict)
    offer_until: datetime | None = None
    dialing_offer: bool = False        # the offered record's attempt is being stored
    wrap_attempt: int | None = None
    wrap_contact: int | None = None
    wrap_campaign: int | None = None
    wrap_since: datetime | None = None
    wrap_until: datetime | None = None
    held: bool = False                 # logout pending on a predictive campaign's ringing calls

    @property
    def bridge_id(self) -> str:
        return f"{BRIDGE_PREFIX}{self.agent_id}"


@dataclass(frozen=True)
class Limits:
    """The floor's time limits."""

    connect_limit: timedelta = timedelta(seconds=2)        # answer -> a live agent (the rule)
    decide_after: timedelta = timedelta(seconds=1.5)       # answer -> the message is decided
    tick: timedelta = timedelta(seconds=0.2)               # pacing
    refresh: timedelta = timedelta(seconds=1)              # campaigns read again
    offer_timeout: timedelta = timedelta(minutes=5)        # a preview record left undialed
    wrap_timeout: timedelta = timedelta(minutes=15)        # a disposition never given
    skip_delay: timedelta = timedelta(minutes=30)          # a skipped record comes back after
    idle_after_empty: timedelta = timedelta(seconds=3)     # no contact: ask again after
    leg_backoff_max: timedelta = timedelta(seconds=30)


