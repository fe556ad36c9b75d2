"""The supervisor's live view from the database (``dialer.core.live`` does the arithmetic).

``live_view(db, now)`` gives agents (last audit-log state), open calls (attempts without an
end, with their event times) and per-campaign rates (today in the campaign's zone, the last
hour, the abandon rate over the campaign's rule window: US 30 days, UK 24 h, Canada the
month) of the running campaigns, or of those named. Read-only; a few indexed queries, fine to
call every second or two.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, time

from sqlalchemy import func, select

from dialer.core.calling_hours import zone_info
from dialer.core.campaign import CampaignStatus
from dialer.core.live import LiveView, agent_rows, call_rows, campaign_rates
from dialer.core.timeutil import require_aware
from dialer.db.campaigns import campaign_profile
from dialer.db.database import Database
from dialer.db.ledger import facts_in_session, rolling_abandon_rate
from dialer.db.models import Agent, AgentStateLog, CallAttempt, Campaign


def live_view(
    db: Database,
    now: datetime,
    campaign_ids: Collection[int] | None = None,
    include_logged_out: bool = False,
) -> LiveView:
    """The view at ``now`` (module docstring); campaigns: those started, unless named."""
    require_aware(now)
    with db.session() as session:
        latest = (
            select(AgentStateLog.agent_id, func.max(AgentStateLog.id).label("last_id"))
            .group_by(AgentStateLog.agent_id)
            .subquery()
        )
        agents = agent_rows(
            (
                (agent_id, login, name, state, at)
                for agent_id, login, name, state, at in session.execute(
                    select(
                        Agent.id,
                        Agent.login,
                        Agent.display_name,
                        AgentStateLog.new_state,
                        AgentStateLog.at,
                    )
                    .join(latest, latest.c.agent_id == Agent.id)
                    .join(AgentStateLog, AgentStateLog.id == latest.c.last_id)
                )
            ),
            now,
            include_logged_out,
        )
        query = select(Campaign)
        if campaign_ids is None:
            query = query.where(Campaign.status == CampaignStatus.STARTED)
        else:
            query = query.where(Campaign.id.in_(list(campaign_ids)))
        campaigns = [
            (c.id, c.name, c.time_zone, campaign_profile(c))
            for c in session.scalars(query.order_by(Campaign.id))
        ]
        ids = [c[0] for c in campaigns]
        open_facts = facts_in_session(
            session,
            select(CallAttempt).where(
                CallAttempt.ended_at.is_(None), CallAttempt.campaign_id.in_(ids)
            ),
        )
        campaign_of = {
            attempt_id: campaign_id
            for attempt_id, campaign_id in session.execute(
                select(CallAttempt.id, CallAttempt.campaign_id).where(
                    CallAttempt.id.in_([f.attempt_id for f in open_facts])
                )
            )
        }
        today = {}
        for cid, _name, zone, _profile in campaigns:
            local = now.astimezone(zone_info(zone))
            midnight = datetime.combine(local.date(), time(0), local.tzinfo)
            today[cid] = facts_in_session(
                session,
                select(CallAttempt).where(
                    CallAttempt.campaign_id == cid, CallAttempt.started_at >= midnight
                ),
            )
    calls = call_rows(((campaign_of[f.attempt_id], f) for f in open_facts), now)
    rates = [
        campaign_rates(
            cid,
            name,
            today[cid],
            now,
            rolling_abandon_rate(db, cid, now, (profile, zone)),
            profile.window_label,
            profile.cap,
        )
        for cid, name, zone, profile in campaigns
    ]
    return LiveView(now, tuple(agents), tuple(calls), tuple(rates))
