"""The compliance ledger against a hand-computed example, and the report it renders."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

from dialer.cli import report
from dialer.core.ledger import AttemptFacts, Flag, Rate, build_ledger, judge, window_rate
from dialer.core.results import CallResult, HangupSide

R = CallResult
S = timedelta(seconds=1)
NOW = datetime(2026, 2, 10, 0, 0, tzinfo=UTC)


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def answered(
    n: int,
    day: date,
    result: CallResult,
    *,
    to_agent: float | None = None,
    to_message: float | None = None,
    amd: float | None = None,
    ended: float = 30.0,
) -> AttemptFacts:
    t = at(day) + n * S
    ans = t + 2 * S
    return AttemptFacts(
        attempt_id=n,
        started_at=t,
        result=result,
        ended_at=ans + ended * S,
        number=f"+1212200{n:04d}",
        originated_at=t,
        ringing_at=t + S,
        answered_at=ans,
        amd_done_at=None if amd is None else ans + amd * S,
        bridged_at=None if to_agent is None else ans + to_agent * S,
        safe_harbor_at=None if to_message is None else ans + to_message * S,
    )


def unanswered(
    n: int, day: date, result: CallResult, ring: float, by: HangupSide | None = None
) -> AttemptFacts:
    t = at(day) + n * S
    return AttemptFacts(
        attempt_id=n,
        started_at=t,
        result=result,
        ended_at=t + S + ring * S,
        number=f"+1212200{n:04d}",
        hung_up_by=by,
        originated_at=t,
        ringing_at=t + S,
    )


D1, D20, D35 = date(2026, 1, 1), date(2026, 1, 20), date(2026, 2, 4)


def hand_made() -> list[AttemptFacts]:
    """Day 1: 6 live answers, 3 abandoned; day 20: 4 live, none; day 35: 2 live, 1 abandoned."""
    return [
        answered(1, D1, R.ANSWERED_HUMAN, to_agent=0.5),
        answered(2, D1, R.ANSWERED_HUMAN, to_agent=3.0),  # late: counts as abandoned
        answered(3, D1, R.ANSWERED_HUMAN, amd=2.5, to_agent=3.0),  # 0.5 s after the greeting
        answered(4, D1, R.ABANDONED, to_message=1.0, ended=8),
        answered(5, D1, R.MACHINE, amd=3.0, ended=5),  # not a live answer
        unanswered(6, D1, R.NO_ANSWER, ring=10),  # short ring
        unanswered(7, D1, R.BUSY, ring=3),  # the callee's doing
        unanswered(8, D1, R.NO_ANSWER, ring=20),
        answered(9, D1, R.DROPPED_BY_CUSTOMER, ended=5),  # waited 5 s: abandoned
        answered(10, D1, R.DROPPED_BY_CUSTOMER, ended=1),  # hung up at once: not abandoned
        *(answered(20 + i, D20, R.ANSWERED_HUMAN, to_agent=0.2) for i in range(4)),
        unanswered(30, D20, R.HUNG_UP_RINGING, ring=4, by=HangupSide.CUSTOMER),
        answered(40, D35, R.ANSWERED_HUMAN, to_agent=1.0),
        answered(41, D35, R.ABANDONED, ended=4),  # no message at all
    ]


def test_each_attempt_is_judged() -> None:
    entries = {e.facts.attempt_id: e for e in (judge(f) for f in hand_made())}
    assert entries[1].flags == frozenset() and entries[1].answer_to_agent_s == 0.5
    assert entries[2].flags == {Flag.LATE_CONNECT, Flag.ABANDONED}
    assert entries[3].flags == frozenset()
    assert entries[3].answer_to_agent_s == 3.0 and entries[3].greeting_to_agent_s == 0.5
    assert entries[4].flags == {Flag.ABANDONED} and entries[4].answer_to_message_s == 1.0
    assert not entries[5].live and entries[5].ring_s is None
    assert entries[6].flags == {Flag.SHORT_RING} and entries[6].ring_s == 10.0
    assert entries[7].flags == frozenset() and entries[7].ring_s == 3.0
    assert entries[8].flags == frozenset() and entries[8].ring_s == 20.0
    assert entries[9].flags == {Flag.DROPPED_WAITING, Flag.ABANDONED}
    assert entries[10].live and not entries[10].abandoned
    assert entries[30].flags == frozenset()  # the customer gave up ringing
    late_message = answered(50, D1, R.ABANDONED, to_message=2.5)
    assert judge(late_message).flags == {Flag.LATE_MESSAGE, Flag.ABANDONED}


def test_rates_per_day_rolling_window_and_successive_periods() -> None:
    ledger = build_ledger(hand_made(), NOW, "UTC", cap=0.03)
    days = {d.day: d for d in ledger.days}
    assert len(ledger.days) == 35  # every calendar day from the first to the last
    assert days[D1].day_rate == Rate(6, 3)
    assert days[D1].attempts == 10 and days[D1].unanswered == 3 and days[D1].short_rings == 1
    assert days[D1].connected == 3 and days[D1].late_connects == 1
    assert days[D1].median_answer_to_agent_s == 3.0
    assert days[D1].window == Rate(6, 3)
    assert days[D20].window == Rate(10, 3)  # 1..20 January
    assert days[date(2026, 1, 30)].window == Rate(10, 3)  # 30 days: 1..30 January
    assert days[date(2026, 1, 31)].window == Rate(4, 0)  # 1 January has left the window
    assert days[D35].window == Rate(6, 1)
    assert days[date(2026, 1, 5)].attempts == 0
    assert [(p.start, p.end, p.rate) for p in ledger.periods] == [
        (D1, date(2026, 1, 30), Rate(10, 3)),
        (date(2026, 1, 31), date(2026, 3, 1), Rate(2, 1)),
    ]
    assert ledger.current == Rate(6, 1)  # (11 January, 10 February]
    assert window_rate(hand_made(), NOW) == Rate(6, 1)
    assert ledger.total == Rate(12, 4)
    assert ledger.current.over(0.03) and not Rate(100, 3).over(0.03)
    assert [e.facts.attempt_id for e in ledger.flagged()] == [2, 4, 6, 9, 41]
    assert ledger.flagged()[-1].flags == {Flag.ABANDONED, Flag.NO_MESSAGE}


def test_days_are_counted_in_the_campaign_zone() -> None:
    late_evening = answered(1, date(2026, 1, 2), R.ANSWERED_HUMAN, to_agent=0.4)
    moved = AttemptFacts(**{**late_evening.__dict__, "started_at": at(date(2026, 1, 2), 3)})
    assert judge(moved, "America/New_York").day == date(2026, 1, 1)
    assert judge(moved, "UTC").day == date(2026, 1, 2)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_csv_and_html() -> None:
    ledger = build_ledger(hand_made(), NOW, "UTC", cap=0.03)
    daily = list(csv.DictReader(io.StringIO(report.daily_csv(ledger))))
    assert len(daily) == 35
    assert daily[0]["day"] == "2026-01-01" and daily[0]["abandon_rate"] == "0.5000"
    assert daily[-1]["abandon_rate_window"] == "0.1667" and daily[-1]["over_cap_window"] == "yes"
    per_attempt = list(csv.DictReader(io.StringIO(report.attempts_csv(ledger))))
    assert len(per_attempt) == len(hand_made())
    six = next(r for r in per_attempt if r["attempt_id"] == "6")
    assert six["ring_s"] == "10.00" and six["flags"] == "short_ring"
    page = report.html_page(ledger, 'spring <"A">')
    parser = _Collect()
    parser.feed(page)
    assert {"html", "svg", "table", "polyline"} <= set(parser.tags)
    text = " ".join(parser.text)
    assert 'spring <"A">' in text  # escaped in the page, read back as text
    assert "over the 3.0% cap" in text
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    root = ET.fromstring(svg)
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect")][1:]
    assert len(bars) == 35
