"""The engine's side of the database: the floor's writes handed to the writer thread in order
(`_store`), a saved disposition answered to its agent, and the reads the floor asks for (a claim,
an attempt checked again at the gate and created, the campaigns with their holds and warmed
pacers). Part of `Engine` (bound in its class body; `self` is the engine).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.floor import messages as m
from dialer.db import gate
from dialer.db import repository as repo
from dialer.db.agents import log_agent_transition
from dialer.db.campaigns import list_campaigns
from dialer.db.pacing_history import warm_pacer

if TYPE_CHECKING:
    from dialer.service.engine import Engine


def utcnow() -> datetime:
    return datetime.now(UTC)


def contact_view(record: repo.ContactRecord, number: str) -> dict[str, Any]:
    return {"id": record.id, "number": number, "numbers": list(record.numbers),
            "fields": dict(record.fields), "time_zone": record.time_zone,
            "attempts": record.attempts}


def _store(self: Engine, w: m.Write) -> None:
    assert self.writer is not None
    db = self.db
    if isinstance(w, m.AttemptEvent):
        self.writer.submit(repo.record_attempt_event, db, w.attempt_id, w.phase, w.at,
                           detail=w.detail, channel_id=w.channel_id,
                           agent_id=w.agent_id)
    elif isinstance(w, m.FinishAttempt):
        self.writer.submit(repo.finish_attempt, db, w.attempt_id, w.result, w.at,
                           facts=w.facts, note=w.note,
                           await_disposition=w.await_disposition)
    elif isinstance(w, m.CancelAttempt):
        self.writer.submit(repo.cancel_attempt, db, w.attempt_id, w.at)
    elif isinstance(w, m.ReleaseContact):
        delay = timedelta(seconds=w.delay_s) if w.delay_s is not None else None
        self.writer.submit(repo.release_contact, db, w.contact_id, w.at, delay)
    elif isinstance(w, m.SaveDisposition):
        self.writer.submit(repo.save_disposition, db, w.attempt_id, w.code, w.at,
                           agent_id=w.agent_id, note=w.note, callback_at=w.callback_at,
                           personal_callback=w.personal,
                           then=lambda out, exc: self._disposition_saved(w, out, exc))
        return
    elif isinstance(w, m.SettleWithoutDisposition):
        self.writer.submit(repo.settle_without_disposition, db, w.attempt_id, w.at,
                           w.note)
    elif isinstance(w, m.AgentTransition):
        self.writer.submit(log_agent_transition, db, w.agent_id, w.audit)
    elif isinstance(w, m.UpdateRecord):
        self.writer.submit(repo.update_contact_fields, db, w.contact_id, w.fields)
    elif isinstance(w, m.HandOverCallbacks):
        self.writer.submit(repo.hand_over_personal_callbacks, db, w.campaign_id, w.at,
                           list(w.logged_in))
    else:
        raise TypeError(f"unknown write {w!r}")


def _disposition_saved(self: Engine, w: m.SaveDisposition, out: Any,
                       exc: BaseException | None) -> None:
    outbox = self.outboxes.get(w.agent_id)
    if outbox is None:
        return
    if exc is not None:
        outbox.send("error", re=w.re, code="internal",
                    message=f"the disposition of attempt {w.attempt_id} was not saved: {exc}")
    else:
        outbox.send("disposition_saved", re=w.re, attempt=w.attempt_id, code=w.code,
                    callback=out.callback_id)


def _claim_db(self: Engine, cmd: m.Claim) -> m.Claimed:
    now = utcnow()
    attempt_id: int | None = None
    if cmd.purpose == "dial":
        got = gate.claim_for_dialing(self.db, cmd.campaign_id, now, cmd.agent_id)
        if got is None:
            return m.Claimed(cmd.ticket, None)
        claim, attempt_id = got
    else:
        offered = repo.claim_next_contact(self.db, cmd.campaign_id, now, cmd.agent_id)
        if offered is None:
            return m.Claimed(cmd.ticket, None)
        claim = offered
    record = repo.get_contact(self.db, claim.contact_id)
    return m.Claimed(cmd.ticket, claim, attempt_id, contact_view(record, claim.number))


def _create_attempt_db(self: Engine, cmd: m.CreateAttempt) -> m.AttemptCreated:
    now = utcnow()
    claim = cmd.claim
    assert isinstance(claim, repo.Claim)
    verdict = gate.check_claim(self.db, claim, now)
    if not verdict.allowed:
        # checked again just before dialing: DNC or calling hours may have changed
        gate.refuse_claim(self.db, claim, now, verdict)
        return m.AttemptCreated(cmd.agent_id, claim.contact_id, None, verdict.reason, cmd.re)
    attempt_id = repo.create_attempt(self.db, claim, now, agent_id=cmd.agent_id)
    return m.AttemptCreated(cmd.agent_id, claim.contact_id, attempt_id, "", cmd.re)


def _read_campaigns_db(self: Engine, running: frozenset[int]) -> m.CampaignsRead:
    """The campaigns as stored; for predictive ones, the profile's hold, and a pacer warmed
    from the campaign's recent history for those the floor does not run yet."""
    infos = tuple(list_campaigns(self.db))
    now = utcnow()
    holds: dict[int, str] = {}
    pacers: dict[int, Any] = {}
    for info in infos:
        if info.mode is not DialMode.PREDICTIVE or info.status is not CampaignStatus.STARTED:
            continue
        reason = self.holds(self.db, info, now)
        if reason:
            holds[info.id] = reason
        if info.id not in running:
            pacers[info.id] = warm_pacer(self.db, info, now, now.timestamp(),
                                         pacer=self.floor.make_pacer(info))
    return m.CampaignsRead(infos, holds, pacers)
