"""What the agent window shows, fed with dialer messages and a hand-stepped clock (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dialer import protocol as p
from dialer.core.agent_state import AgentState
from dialer.core.results import CallResult
from softphone.model import AgentModel, field_label, format_remaining

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
CAMPAIGN = {"id": 1, "name": "Autumn", "mode": "progressive", "status": "Started",
            "dispositions": [{"code": "SALE", "label": "Sale", "final": True}]}
CONTACT = {"id": 5, "number": "+1", "fields": {}}


def login_ok(state: AgentState = AgentState.READY, campaigns: tuple[dict[str, object], ...] = (
        CAMPAIGN,)) -> p.LoginOk:
    return p.LoginOk("a", "A", state, campaigns)


def test_countdown_text_in_minutes_and_seconds() -> None:
    assert format_remaining(125) == "2 min 05 s"
    assert format_remaining(59.2) == "1 min 00 s"
    assert format_remaining(42) == "42 s"
    assert format_remaining(-3) == "0 s"


def test_campaign_started_before_login_is_announced_and_listed() -> None:
    m = AgentModel()
    m.apply(p.LoginOk("agent1001", "Ada", AgentState.NOT_READY, (CAMPAIGN,)), T0)
    m.apply(p.CampaignStarted(CAMPAIGN), T0)
    assert m.status is AgentState.NOT_READY
    assert [c["name"] for c in m.started_campaigns()] == ["Autumn"]
    assert "Campaign Autumn has started" in m.message_text(m.messages[-1], T0)
    m.apply(p.CampaignStopped(CAMPAIGN), T0)
    assert m.started_campaigns() == []


def test_negotiated_logout_countdown_then_confirmation() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.State(AgentState.LOGOUT_PENDING), T0)
    m.apply(p.LogoutPending(T0 + timedelta(seconds=90), 90.0), T0)
    assert "Logout pending: 1 min 30 s" in m.tooltip(T0)
    later = T0 + timedelta(seconds=61)
    assert "Logout pending: 29 s" in m.tooltip(later)
    pending = m.messages[-1]
    assert m.message_text(pending, later).endswith("Awaiting logoff authorization: 29 s")
    m.apply(p.LogoutAuthorized(), later)
    assert m.status is AgentState.LOGGED_OUT
    assert "Logoff authorized" in m.tooltip(later)
    assert m.message_text(m.messages[-1], later).endswith("Logoff authorized. You are logged out.")
    # the old countdown line no longer counts
    assert m.message_text(pending, later).endswith("Awaiting logoff authorization")


def test_call_then_disposition_due_then_saved() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.PushOffer(5, CONTACT, 1), T0)
    assert m.offer_is_push and m.offer is not None
    m.apply(p.CallConnected(9, 1, CONTACT), T0)
    assert m.offer is None and m.call_seconds(T0 + timedelta(seconds=75)) == 75
    m.apply(p.CallEnded(9, CallResult.ANSWERED_HUMAN, True), T0)
    assert m.disposition_due == 9
    assert [c["code"] for c in m.disposition_codes()] == ["SALE"]
    m.apply(p.DispositionSaved(9, "SALE", None), T0)
    assert m.disposition_due is None and m.call is None


def test_not_ready_reason_in_the_tooltip_and_errors_in_messages() -> None:
    m = AgentModel()
    m.apply(p.State(AgentState.NOT_READY, "lunch"), T0)
    assert m.tooltip(T0) == "Status: Not Ready (lunch)"
    m.apply(p.Error(p.ErrorCode.REFUSED, "pick a disposition first"), T0)
    assert m.messages[-1].kind == "error"


def test_the_call_timer_stops_when_the_call_ends() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.CallConnected(9, 1, CONTACT), T0)
    m.apply(p.CallEnded(9, CallResult.ANSWERED_HUMAN, True), T0 + timedelta(seconds=40))
    assert m.call_seconds(T0 + timedelta(seconds=95)) == 40      # wrap-up does not count


def test_logout_asked_on_a_call_waits_for_the_disposition_then_clears_the_campaigns() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.State(AgentState.ON_CALL), T0)
    m.apply(p.Ok("logout"), T0)
    assert m.logout_waiting and m.remaining(T0) is None
    assert m.tooltip(T0).endswith("Logout pending: after this call's disposition")
    assert m.message_text(m.messages[-1], T0).endswith("Logoff after this call's disposition")
    m.apply(p.LogoutAuthorized(), T0)
    assert not m.logout_waiting and m.started_campaigns() == [] and m.offer is None


def test_a_call_that_connects_in_time_ends_the_countdown() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.LogoutPending(T0 + timedelta(seconds=30), 30.0), T0)
    m.apply(p.CallConnected(9, 1, CONTACT), T0 + timedelta(seconds=5))
    assert m.remaining(T0 + timedelta(seconds=6)) is None
    assert "after this call's disposition" in m.tooltip(T0 + timedelta(seconds=6))


def test_errors_before_the_first_login_stay_in_the_login_dialog() -> None:
    m = AgentModel()
    m.apply(p.Error(p.ErrorCode.BAD_CREDENTIALS, "Wrong agent name or password.", re="q1"), T0)
    m.apply(login_ok(campaigns=()), T0)
    assert not any(x.kind == "error" for x in m.messages)
    assert field_label("account_no") == "Account no"


def test_an_offer_that_expires_is_taken_off_the_card_and_said() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.PreviewRecord(5, CONTACT, 1), T0)
    m.apply(p.OfferExpired(4), T0)                  # another record's news: this one stays
    assert m.offer is not None
    m.apply(p.OfferExpired(5), T0)
    assert m.offer is None
    assert m.messages[-1].kind == "offer_expired"


def test_a_disposition_timeout_ends_the_wrap_up_on_the_screen() -> None:
    m = AgentModel()
    m.apply(login_ok(), T0)
    m.apply(p.CallConnected(9, 1, CONTACT), T0)
    m.apply(p.CallEnded(9, CallResult.ANSWERED_HUMAN, True), T0)
    m.apply(p.DispositionTimeout(9), T0 + timedelta(seconds=120))
    assert m.disposition_due is None and m.call is None
    assert "attempt 9" in m.message_text(m.messages[-1], T0)
