"""Personal callbacks whose agent is away: who may take them, and when (pure).

A callback is *personal* (``agent_id`` set: only that agent gets it) or for the *campaign*
(any agent). When a personal callback falls due and its agent is not logged in, the campaign's
``CallbackPolicy`` decides:

- ``fallback = CAMPAIGN`` (default): once ``grace`` has passed since it fell due with the agent
  still away, it becomes a campaign callback (any agent; the data layer records who it was
  for);
- ``fallback = WAIT``: it waits for its agent, however long.

``route_callback(cb, now, logged_in, policy)`` answers for one callback; ``handovers`` lists the
callbacks to hand over now. The service passes the ids of the agents logged in at ``now``.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.core.timeutil import require_aware


class CallbackFallback(enum.Enum):
    """What happens to a due personal callback whose agent is not logged in."""

    CAMPAIGN = "campaign"
    WAIT = "wait"


@dataclass(frozen=True)
class CallbackPolicy:
    """A campaign's rule for personal callbacks whose agent is away when they fall due."""

    fallback: CallbackFallback = CallbackFallback.CAMPAIGN
    grace: timedelta = timedelta(0)


class Route(enum.Enum):
    """Where one callback stands at ``now``."""

    NOT_DUE = "not due"
    ANY_AGENT = "any agent"
    ITS_AGENT = "its agent (logged in)"
    WAITING_FOR_AGENT = "waiting for its agent to log in"
    HAND_OVER = "hand over to any agent (its agent is away)"


@dataclass(frozen=True)
class CallbackRoute:
    """The answer for one callback: its route and, when it is waiting, until when."""

    route: Route
    until: datetime | None = None


def route_callback(
    due_at: datetime,
    agent_id: int | None,
    now: datetime,
    logged_in: Collection[int],
    policy: CallbackPolicy,
) -> CallbackRoute:
    """Route one callback due at ``due_at`` for ``agent_id`` (None: campaign) at ``now``."""
    require_aware(now)
    if due_at > now:
        return CallbackRoute(Route.NOT_DUE, due_at)
    if agent_id is None:
        return CallbackRoute(Route.ANY_AGENT)
    if agent_id in logged_in:
        return CallbackRoute(Route.ITS_AGENT)
    if policy.fallback is CallbackFallback.WAIT:
        return CallbackRoute(Route.WAITING_FOR_AGENT)
    handover_at = due_at + policy.grace
    if now >= handover_at:
        return CallbackRoute(Route.HAND_OVER)
    return CallbackRoute(Route.WAITING_FOR_AGENT, handover_at)


def handovers(
    callbacks: Iterable[tuple[int, datetime, int | None]],
    now: datetime,
    logged_in: Collection[int],
    policy: CallbackPolicy,
) -> list[int]:
    """Ids of the ``(id, due_at, agent_id)`` callbacks to hand over to any agent at ``now``."""
    return [
        cb_id
        for cb_id, due_at, agent_id in callbacks
        if route_callback(due_at, agent_id, now, logged_in, policy).route is Route.HAND_OVER
    ]
