"""Campaign-wide enums shared by pacing, the data layer and the agent link."""

from __future__ import annotations

import enum


class DialMode(enum.Enum):
    """How a campaign delivers calls (design.md, "Dialing modes")."""

    PREVIEW = "preview"
    PUSH_PREVIEW = "push_preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"

    @property
    def dials_automatically(self) -> bool:
        """Whether the dialer places calls itself (not the agent after a preview)."""
        return self in (DialMode.PROGRESSIVE, DialMode.PREDICTIVE)


class CampaignStatus(enum.Enum):
    """Lifecycle of a campaign as supervisors and agents see it."""

    STOPPED = "stopped"
    STARTED = "started"
    PAUSED = "paused"
    FINISHED = "finished"
