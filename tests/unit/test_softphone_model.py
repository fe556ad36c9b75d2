"""What the agent window shows, fed with dialer messages and a hand-stepped clock (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from softphone.model import AgentModel, Status, field_label, format_remaining

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
CAMPAIGN = {"id": 1, "name": "Autumn", "mode": "progressive", "status": "Started",
            "dispositions": [{"code": "SALE", "label": "Sale", "final": True}]}


def test_countdown_text_in_minutes_and_seconds() -> None:
    assert format_remaining(125) == "2 min 05 s"
    assert format_remaining(59.2) == "1 min 00 s"
    assert format_remaining(42) == "42 s"
    assert format_remaining(-3) == "0 s"


def test_campaign_started_before_login_is_announced_and_listed() -> None:
    m = AgentModel()
    m.apply({"type": "login_ok", "agent": "agent1001", "state": "not_ready",
             "campaigns": [CAMPAIGN]}, T0)
    m.apply({"type": "campaign_started", "campaign": CAMPAIGN}, T0)
    assert m.status is Status.NOT_READY
    assert [c["name"] for c in m.started_campaigns()] == ["Autumn"]
    assert "Campaign Autumn has started" in m.message_text(m.messages[-1], T0)
    m.apply({"type": "campaign_stopped", "campaign": CAMPAIGN}, T0)
    assert m.started_campaigns() == []


def test_negotiated_logout_countdown_then_confirmation() -> None:
    m = AgentModel()
    m.apply({"type": "login_ok", "agent": "a", "state": "ready", "campaigns": [CAMPAIGN]}, T0)
    m.apply({"type": "state", "state": "logout_pending"}, T0)
    m.apply({"type": "logout_pending", "deadline": "x", "remaining_s": 90.0}, T0)
    assert "Logout pending: 1 min 30 s" in m.tooltip(T0)
    later = T0 + timedelta(seconds=61)
    assert "Logout pending: 29 s" in m.tooltip(later)
    pending = m.messages[-1]
    assert m.message_text(pending, later).endswith("Awaiting logoff authorization: 29 s")
    m.apply({"type": "logout_authorized"}, later)
    assert m.status is Status.LOGGED_OUT
    assert "Logoff authorized" in m.tooltip(later)
    assert m.message_text(m.messages[-1], later).endswith("Logoff authorized. You are logged out.")
    # the old countdown line no longer counts
    assert m.message_text(pending, later).endswith("Awaiting logoff authorization")


def test_call_then_disposition_due_then_saved() -> None:
    m = AgentModel()
    m.apply({"type": "login_ok", "agent": "a", "state": "ready", "campaigns": [CAMPAIGN]}, T0)
    m.apply({"type": "push_offer", "offer": 5, "contact": {"id": 5, "number": "+1"}}, T0)
    assert m.offer_is_push and m.offer is not None
    m.apply({"type": "call_connected", "attempt": 9, "campaign": 1,
             "contact": {"id": 5, "number": "+1", "fields": {}}}, T0)
    assert m.offer is None and m.call_seconds(T0 + timedelta(seconds=75)) == 75
    m.apply({"type": "call_ended", "attempt": 9, "disposition_required": True}, T0)
    assert m.disposition_due == 9
    assert [c["code"] for c in m.disposition_codes()] == ["SALE"]
    m.apply({"type": "disposition_saved", "attempt": 9}, T0)
    assert m.disposition_due is None and m.call is None


def test_not_ready_reason_in_the_tooltip_and_errors_in_messages() -> None:
    m = AgentModel()
    m.apply({"type": "state", "state": "not_ready", "reason": "lunch"}, T0)
    assert m.tooltip(T0) == "Status: Not Ready (lunch)"
    m.apply({"type": "error", "code": "refused", "message": "pick a disposition first"}, T0)
    assert m.messages[-1].kind == "error"


def test_the_call_timer_stops_when_the_call_ends() -> None:
    m = AgentModel()
    m.apply({"type": "login_ok", "agent": "a", "state": "ready", "campaigns": [CAMPAIGN]}, T0)
    m.apply({"type": "call_connected", "attempt": 9, "campaign": 1,
             "contact": {"id": 5, "number": "+1", "fields": {}}}, T0)
    m.apply({"type": "call_ended", "attempt": 9, "disposition_required": True},
            T0 + timedelta(seconds=40))
    assert m.call_seconds(T0 + timedelta(seconds=95)) == 40      # wrap-up does not count


def test_logout_asked_on_a_call_waits_for_the_disposition_then_clears_the_campaigns() -> None:
    m = AgentModel()
    m.apply({"type": "login_ok", "agent": "a", "state": "ready", "campaigns": [CAMPAIGN]}, T0)
    m.apply({"type": "state", "state": "on_call"}, T0)
    m.apply({"type": "ok", "request": "logout"}, T0)
    assert m.logout_waiting and m.remaining(T0) is None
    assert m.tooltip(T0).endswith("Logout pending: after this call's disposition")
    assert m.message_text(m.messages[-1], T0).endswith("Logoff after this call's disposition")
    m.apply({"type": "logout_authorized"}, T0)
    assert not m.logout_waiting and m.started_campaigns() == [] and m.offer is None


def test_a_call_that_connects_in_time_ends_the_countdown() -> None:
    m = AgentModel()
    m.apply({"type": "login_ok", "agent": "a", "state": "ready", "campaigns": [CAMPAIGN]}, T0)
    m.apply({"type": "logout_pending", "deadline": "x", "remaining_s": 30.0}, T0)
    m.apply({"type": "call_connected", "attempt": 9, "campaign": 1,
             "contact": {"id": 5, "number": "+1", "fields": {}}}, T0 + timedelta(seconds=5))
    assert m.remaining(T0 + timedelta(seconds=6)) is None
    assert "after this call's disposition" in m.tooltip(T0 + timedelta(seconds=6))


def test_errors_before_the_first_login_stay_in_the_login_dialog() -> None:
    m = AgentModel()
    m.apply({"type": "error", "message": "Wrong agent name or password."}, T0)
    m.apply({"type": "login_ok", "agent": "a", "state": "ready", "campaigns": []}, T0)
    assert not any(x.kind == "error" for x in m.messages)
    assert field_label("account_no") == "Account no"
