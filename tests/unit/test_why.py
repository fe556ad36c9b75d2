""" "Why isn't it dialing?" in plain words (pure): classification and the campaign's blockers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from dialer.core.callbacks import CallbackFallback, CallbackPolicy
from dialer.core.calling_hours import CallingHours, HoursVerdict, check_hours
from dialer.core.campaign import CampaignStatus, DialMode
from dialer.core.ledger import Rate
from dialer.core.results import CallResult
from dialer.core.selection import CampaignRules, ContactState
from dialer.core.why import CampaignFacts, ContactFacts, Reason, Tally, classify, explain

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
H = timedelta(hours=1)
RULES = CampaignRules(
    max_attempts=3,
    abandon_no_repeat=72 * H,
    callbacks=CallbackPolicy(CallbackFallback.CAMPAIGN, timedelta(minutes=10)),
)
HOURS = CallingHours(time(9), time(20), frozenset(range(5)), "America/New_York")


def hours(key: str) -> HoursVerdict:
    return check_hours(HOURS, (key,) if key else ("America/New_York",), T0)


def why(**kw: object) -> Reason:
    base: dict[str, object] = {"state": ContactState.NEW, "attempts": 0, "numbers": ("+1",)}
    facts = ContactFacts(**{**base, **kw})  # type: ignore[arg-type]
    return classify(facts, T0, RULES, hours, logged_in=set())[0]


def test_each_contact_gets_one_reason() -> None:
    assert why() is Reason.ELIGIBLE
    assert why(state=ContactState.RESERVED) is Reason.IN_FLIGHT
    assert why(state=ContactState.DONE) is Reason.DONE
    assert why(state=ContactState.EXHAUSTED, attempts=3) is Reason.MAX_ATTEMPTS
    assert why(state=ContactState.EXHAUSTED, attempts=1) is Reason.EXHAUSTED
    assert why(dead=frozenset({0})) is Reason.NO_NUMBER
    assert why(listed=frozenset({"+1"})) is Reason.DNC
    assert why(state=ContactState.RETRY, next_eligible_at=T0 + H) is Reason.RETRY_WAIT
    abandoned = why(
        state=ContactState.RETRY, next_eligible_at=T0 + H, last_result=CallResult.ABANDONED
    )
    assert abandoned is Reason.NO_REPEAT
    assert why(next_eligible_at=T0 + H) is Reason.PUT_OFF
    assert why(state=ContactState.CALLBACK, callback_due=T0 + H) is Reason.CALLBACK_NOT_DUE
    assert why(state=ContactState.CALLBACK, callback_due=T0, callback_agent=7) is (
        Reason.CALLBACK_AGENT_AWAY
    )
    assert why(zones_key="America/Los_Angeles") is Reason.OUTSIDE_HOURS


def facts(**kw: object) -> CampaignFacts:
    base: dict[str, object] = {
        "name": "spring",
        "status": CampaignStatus.STARTED,
        "mode": DialMode.PREDICTIVE,
        "agents_assigned": 2,
        "ready_agents": 2,
    }
    return CampaignFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_campaign_blockers_in_plain_words() -> None:
    tally = Tally()
    tally.add(Reason.ELIGIBLE, None, None)
    assert explain(facts(), tally, T0).dialing
    # The rate alone says nothing about pacing: only the compliance hold's sentence does, and
    # a held campaign still dials (one call per free agent).
    assert "Pacing held back" not in explain(facts(abandon=Rate(100, 3)), tally, T0).text()
    held = explain(facts(abandon=Rate(100, 3), hold="30-day abandon rate 3.0% ..."), tally, T0)
    assert held.dialing and not held.blockers
    assert held.lines[0] == "Pacing held back: 30-day abandon rate 3.0% ..."
    preview = explain(facts(mode=DialMode.PREVIEW, ready_agents=0), tally, T0)
    assert preview.blockers == ("no agent is ready (preview records go only to agents who are "
                                "ready)",)  # fmt: skip
    lonely = explain(facts(agents_assigned=0, status=CampaignStatus.FINISHED), Tally(), T0)
    assert lonely.blockers == (
        "the campaign is finished",
        "the campaign has no contacts (import a list: dialer list import)",
        "no agent is assigned to the campaign",
    )
    unknown = explain(facts(ready_agents=None), tally, T0).text()
    assert "how many are ready is not known" in unknown
