""" "Why isn't it dialing?": the reasons a campaign's records are not dialed now, in plain words.

Pure. ``classify`` puts one contact in exactly one ``Reason`` (the first that applies, in the
order of the enum) with the time it lifts, if known; ``Tally`` counts them; ``explain`` turns
the campaign's facts and the tally into a headline and lines a supervisor can act on, e.g.::

    Campaign "spring" is not dialing now:
      - no contact can be dialed now
    Contacts: 1,200
          0  can be dialed now
        800  outside calling hours (after calling hours in America/Los_Angeles); the first
             opens 2026-03-03 14:00Z
        ...
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dialer.core.callbacks import Route, route_callback
from dialer.core.calling_hours import HoursVerdict, zone_info
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.ledger import Rate
from dialer.core.results import CallResult
from dialer.core.selection import CampaignRules, ContactState


class Reason(enum.Enum):
    """Why one contact is (not) dialed now; the order is the order of the checks."""

    IN_FLIGHT = "being dialed or with an agent now"
    DONE = "finished (a final result or disposition)"
    MAX_ATTEMPTS = "reached the campaign's maximum attempts"
    EXHAUSTED = "no retry left (a per-result maximum, or no valid number)"
    NO_NUMBER = "no valid number left"
    DNC = "every number is on a Do-Not-Call list"
    CALLBACK_NOT_DUE = "callback not due yet"
    CALLBACK_AGENT_AWAY = "personal callback due, waiting for its agent"
    NO_REPEAT = "no-repeat period after an abandoned call"
    RETRY_WAIT = "waiting for the retry delay"
    PUT_OFF = "put off (skipped by an agent)"
    OUTSIDE_HOURS = "outside calling hours"
    ELIGIBLE = "can be dialed now"


@dataclass(frozen=True)
class ContactFacts:
    """What ``classify`` needs to know about one contact."""

    state: ContactState
    attempts: int
    numbers: tuple[str, ...]
    dead: frozenset[int] = frozenset()
    listed: frozenset[str] = frozenset()  # its numbers on a DNC list
    next_eligible_at: datetime | None = None
    last_result: CallResult | None = None
    zones_key: str = ""
    callback_due: datetime | None = None  # its open callback, if any
    callback_agent: int | None = None


HoursCheck = Callable[[str], HoursVerdict]  # zones key -> verdict at ``now``


def classify(
    c: ContactFacts,
    now: datetime,
    rules: CampaignRules,
    hours: HoursCheck | None,
    logged_in: Collection[int] | None = None,
) -> tuple[Reason, datetime | None, HoursVerdict | None]:
    """The contact's reason, when it lifts (if known), and the hours verdict if it is hours."""
    if c.state is ContactState.RESERVED:
        return Reason.IN_FLIGHT, None, None
    if c.state is ContactState.DONE:
        return Reason.DONE, None, None
    if c.state is ContactState.EXHAUSTED:
        if c.attempts >= rules.max_attempts:
            return Reason.MAX_ATTEMPTS, None, None
        return Reason.EXHAUSTED, None, None
    live = [n for i, n in enumerate(c.numbers) if i not in c.dead]
    if not live:
        return Reason.NO_NUMBER, None, None
    if all(n in c.listed for n in live):
        return Reason.DNC, None, None
    if c.state is ContactState.CALLBACK:
        due = c.callback_due or c.next_eligible_at
        if due is not None and due > now:
            return Reason.CALLBACK_NOT_DUE, due, None
        if due is not None and logged_in is not None:
            route = route_callback(due, c.callback_agent, now, logged_in, rules.callbacks)
            if route.route is Route.WAITING_FOR_AGENT:
                return Reason.CALLBACK_AGENT_AWAY, route.until, None
    elif c.next_eligible_at is not None and c.next_eligible_at > now:
        if c.state is ContactState.NEW:
            return Reason.PUT_OFF, c.next_eligible_at, None
        if c.last_result is CallResult.ABANDONED and rules.abandon_no_repeat is not None:
            return Reason.NO_REPEAT, c.next_eligible_at, None
        return Reason.RETRY_WAIT, c.next_eligible_at, None
    if hours is not None:
        verdict = hours(c.zones_key)
        if not verdict.allowed:
            return Reason.OUTSIDE_HOURS, verdict.next_at, verdict
    return Reason.ELIGIBLE, None, None


@dataclass
class Tally:
    """Counts per reason, the earliest time each lifts, and why contacts are outside hours."""

    counts: dict[Reason, int] = field(default_factory=dict)
    earliest: dict[Reason, datetime] = field(default_factory=dict)
    hours_why: dict[str, int] = field(default_factory=dict)

    def add(self, reason: Reason, until: datetime | None, verdict: HoursVerdict | None) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if until is not None and (reason not in self.earliest or until < self.earliest[reason]):
            self.earliest[reason] = until
        if verdict is not None:
            what = verdict.block.value if verdict.block else "outside calling hours"
            if verdict.next_at is None:
                what = "no calling window common to all its time zones"
            key = f"{what} in {verdict.zone}" if verdict.zone else what
            self.hours_why[key] = self.hours_why.get(key, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, reason: Reason) -> int:
        return self.counts.get(reason, 0)


@dataclass(frozen=True)
class CampaignFacts:
    """What ``explain`` needs to know about the campaign besides its contacts."""

    name: str
    status: CampaignStatus
    mode: DialMode
    agents_assigned: int
    ready_agents: int | None  # None: unknown
    ready_source: str = ""  # where the count comes from, said in the answer
    abandon: Rate | None = None  # over the campaign's rule window
    abandon_cap: float = 0.03
    abandon_window: str = "30 days rolling"  # the jurisdiction profile's window
    open_attempts: int = 0
    # Why predictive pacing holds back now (``dialer.db.ledger.compliance_hold``), if it does:
    # the campaign still dials, one call per free agent.
    hold: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """The answer: is it dialing, the headline, the blockers and the detail lines."""

    dialing: bool
    headline: str
    blockers: tuple[str, ...]
    lines: tuple[str, ...]

    def text(self) -> str:
        out = [self.headline, *(f"  - {b}" for b in self.blockers), *self.lines]
        return "\n".join(out)


def explain(
    campaign: CampaignFacts, tally: Tally, now: datetime, display_zone: str = "UTC"
) -> Diagnosis:
    """The plain-words answer for a campaign at ``now``; times shown in ``display_zone``."""
    blockers: list[str] = []
    name = campaign.name
    if campaign.status is not CampaignStatus.STARTED:
        blockers.append(
            f"the campaign is {campaign.status.value}"
            + (
                f" (start it: dialer campaign start {name})"
                if campaign.status is not CampaignStatus.FINISHED
                else ""
            )
        )
    eligible = tally.count(Reason.ELIGIBLE)
    if tally.total == 0:
        blockers.append("the campaign has no contacts (import a list: dialer list import)")
    elif eligible == 0:
        blockers.append(f"none of its {tally.total:,} contacts can be dialed now")
    if campaign.agents_assigned == 0:
        blockers.append("no agent is assigned to the campaign")
    elif campaign.ready_agents == 0:
        who = (
            "preview records go only to agents who are ready"
            if not (campaign.mode.dials_automatically)
            else "the dialer places calls only for ready agents"
        )
        blockers.append(f"no agent is ready ({who})")
    dialing = not blockers
    if dialing:
        headline = (
            f'Campaign "{name}" can dial: {eligible:,} contact(s) can be dialed now'
            + (f" and {campaign.ready_agents} agent(s) are ready" if campaign.ready_agents else "")
            + "."
        )
    else:
        headline = f'Campaign "{name}" is not dialing now:'
    lines = [f"Pacing held back: {campaign.hold}"] if campaign.hold else []
    lines.append(f"Contacts: {tally.total:,}")
    for reason in Reason:
        count = tally.count(reason)
        if not count and reason is not Reason.ELIGIBLE:
            continue
        lines.append(f"  {count:>9,}  {_reason_text(reason, tally, now, display_zone)}")
    lines.append(_agents_line(campaign))
    if campaign.open_attempts:
        lines.append(f"Calls in progress: {campaign.open_attempts}")
    if campaign.abandon is not None:
        a = campaign.abandon
        lines.append(
            f"Abandon rate, {campaign.abandon_window}: {_pct(a.rate)} ({a.abandoned} of "
            f"{a.live} live answers; cap {_pct(campaign.abandon_cap)})"
        )
    return Diagnosis(dialing, headline, tuple(blockers), tuple(lines))


def _reason_text(reason: Reason, tally: Tally, now: datetime, zone: str) -> str:
    text = reason.value
    if reason is Reason.OUTSIDE_HOURS and tally.hours_why:
        top = sorted(tally.hours_why.items(), key=lambda kv: (-kv[1], kv[0]))
        text += " (" + "; ".join(f"{k}: {v:,}" for k, v in top[:4])
        text += "; ..." if len(top) > 4 else ""
        text += ")"
    at = tally.earliest.get(reason)
    if at is not None:
        lead = {
            Reason.OUTSIDE_HOURS: "the first window opens",
            Reason.CALLBACK_NOT_DUE: "the first is due",
            Reason.CALLBACK_AGENT_AWAY: "the first goes to any agent",
        }.get(reason, "the first until")
        text += f"; {lead} {_when(at, now, zone)}"
    return text


def _agents_line(c: CampaignFacts) -> str:
    if c.ready_agents is None:
        return f"Agents: {c.agents_assigned} assigned; how many are ready is not known"
    source = f" ({c.ready_source})" if c.ready_source else ""
    return f"Agents: {c.ready_agents} ready of {c.agents_assigned} assigned{source}"


def _when(at: datetime, now: datetime, zone: str) -> str:
    delta = at - now
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        rel = f"in {max(minutes, 0)} min"
    elif minutes < 48 * 60:
        rel = f"in {minutes // 60} h {minutes % 60:02d} min"
    else:
        rel = f"in {minutes // (24 * 60)} days"
    local = at.astimezone(zone_info(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({rel})"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def summarize(reasons: Sequence[tuple[Reason, datetime | None, HoursVerdict | None]]) -> Tally:
    """A ``Tally`` of already classified contacts."""
    tally = Tally()
    for reason, until, verdict in reasons:
        tally.add(reason, until, verdict)
    return tally
