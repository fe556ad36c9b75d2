"""The compliance report: the ledger (``dialer.core.ledger``) as CSV files and one HTML page.

Pure rendering, no database: ``daily_csv``/``attempts_csv`` return CSV text, ``html_page`` a
self-contained page (inline SVG chart, no script, no external file) that reads well printed.
The chart shows each day's abandon rate (bars), the rate over the campaign's rule window
ending with each day (line: US 30 days rolling, UK 24 h rolling, Canada the calendar month so
far; ``dialer.core.jurisdiction``) and the cap (dashed line).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Final

from dialer.core.csv_cells import neutral_row
from dialer.core.ledger import DayRow, Flag, Ledger, LedgerEntry, Rate

MAX_FLAGGED_ROWS: Final = 500

DAILY_COLUMNS: Final = (
    "day",
    "attempts",
    "unanswered",
    "short_rings",
    "answered",
    "live_answers",
    "abandoned",
    "abandon_rate",
    "connected",
    "late_connects",
    "median_answer_to_agent_s",
    "max_answer_to_agent_s",
    "window",
    "live_answers_window",
    "abandoned_window",
    "abandon_rate_window",
    "over_cap_window",
)

ATTEMPT_COLUMNS: Final = (
    "attempt_id",
    "contact_id",
    "number",
    "agent_id",
    "day",
    "started_at",
    "result",
    "live_answer",
    "abandoned",
    "ring_s",
    "answer_to_agent_s",
    "answer_to_message_s",
    "greeting_to_agent_s",
    "flags",
)


def daily_rows(ledger: Ledger) -> list[dict[str, object]]:
    """One dict per calendar day, keys ``DAILY_COLUMNS``."""
    return [
        {
            "day": d.day.isoformat(),
            "attempts": d.attempts,
            "unanswered": d.unanswered,
            "short_rings": d.short_rings,
            "answered": d.answered,
            "live_answers": d.day_rate.live,
            "abandoned": d.day_rate.abandoned,
            "abandon_rate": f"{d.day_rate.rate:.4f}",
            "connected": d.connected,
            "late_connects": d.late_connects,
            "median_answer_to_agent_s": _num(d.median_answer_to_agent_s),
            "max_answer_to_agent_s": _num(d.max_answer_to_agent_s),
            "window": ledger.profile.window_label,
            "live_answers_window": d.window.live,
            "abandoned_window": d.window.abandoned,
            "abandon_rate_window": f"{d.window.rate:.4f}",
            "over_cap_window": "yes" if d.window.over(ledger.cap) else "no",
        }
        for d in ledger.days
    ]


def attempt_rows(ledger: Ledger) -> list[dict[str, object]]:
    """One dict per attempt, keys ``ATTEMPT_COLUMNS``."""
    return [_attempt_row(e) for e in ledger.entries]


def _attempt_row(e: LedgerEntry) -> dict[str, object]:
    f = e.facts
    return {
        "attempt_id": f.attempt_id,
        "contact_id": f.contact_id if f.contact_id is not None else "",
        "number": f.number,
        "agent_id": f.agent_id if f.agent_id is not None else "",
        "day": e.day.isoformat(),
        "started_at": f.started_at.isoformat(),
        "result": f.result.value if f.result else "open",
        "live_answer": "yes" if e.live else "no",
        "abandoned": "yes" if e.abandoned else "no",
        "ring_s": _num(e.ring_s),
        "answer_to_agent_s": _num(e.answer_to_agent_s),
        "answer_to_message_s": _num(e.answer_to_message_s),
        "greeting_to_agent_s": _num(e.greeting_to_agent_s),
        "flags": ";".join(sorted(flag.name.lower() for flag in e.flags)),
    }


def daily_csv(ledger: Ledger) -> str:
    return _csv(DAILY_COLUMNS, daily_rows(ledger))


def attempts_csv(ledger: Ledger) -> str:
    return _csv(ATTEMPT_COLUMNS, attempt_rows(ledger))


def _csv(columns: Sequence[str], rows: Sequence[dict[str, object]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(neutral_row(r) for r in rows)
    return out.getvalue()


# -- HTML -----------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.8em}
.meta{color:#555} .ok{color:#2e7d32;font-weight:bold} .bad{color:#c62828;font-weight:bold}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f2f2f2} td.l,th.l{text-align:left;white-space:nowrap}
td.w{text-align:left;min-width:16em} tr.over td{background:#fdecea}
.cards{display:flex;gap:1em;flex-wrap:wrap} .card{border:1px solid #ddd;border-radius:6px;
padding:.6em 1em;min-width:12em} .card b{font-size:1.4em;display:block}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em}
"""


def html_page(ledger: Ledger, campaign: str, generated_at: datetime | None = None) -> str:
    """The readable report (module docstring)."""
    when = (generated_at or ledger.now).strftime("%Y-%m-%d %H:%M %Z")
    cur, total, cap = ledger.current, ledger.total, ledger.cap
    verdict = (
        f'<span class="bad">over the {_pct(cap)} cap</span>'
        if cur.over(cap)
        else f'<span class="ok">within the {_pct(cap)} cap</span>'
    )
    short = sum(Flag.SHORT_RING in e.flags for e in ledger.entries)
    late = sum(Flag.LATE_CONNECT in e.flags for e in ledger.entries)
    waits = sorted(e.answer_to_agent_s for e in ledger.entries if e.answer_to_agent_s is not None)
    median = f"{waits[len(waits) // 2]:.2f} s" if waits else "-"
    rule = ledger.profile
    window = rule.window_label
    cards = [
        (f"Abandon rate, {window}", _pct(cur.rate), f"{cur.abandoned} of {cur.live} live"),
        ("Whole campaign", _pct(total.rate), f"{total.abandoned} of {total.live} live"),
        ("Attempts", str(len(ledger.entries)), f"{len(ledger.days)} day(s)"),
        (f"Short rings (< {rule.min_ring.total_seconds():g} s)", str(short),
         "unanswered, ended by the dialer"),
        (f"Late connects (> {rule.abandon_after.total_seconds():g} s)", str(late),
         f"median answer to agent {median}"),
    ]
    limit = f"{rule.abandon_after.total_seconds():g}"
    fp = (
        f" AMD false positives count as abandons: an estimated "
        f"{100 * rule.amd_false_positive_rate:g}% of the machine verdicts are added to both "
        "the abandoned calls and the live answers."
        if rule.amd_false_positives
        else ""
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Compliance report: {escape(campaign)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Compliance report: {escape(campaign)}</h1>",
        f'<p class="meta">Generated {escape(when)}; days are calendar days in '
        f"{escape(ledger.time_zone)}. The abandon rate over the rule's window ({window}) is "
        f"{verdict}.</p>",
        f'<p class="meta">Rule: {escape(rule.describe())}.</p>',
        '<div class="cards">',
        *(f'<div class="card">{escape(t)}<b>{escape(v)}</b>{escape(s)}</div>' for t, v, s in cards),
        "</div>",
        "<h2>Abandon rate by day</h2>",
        "<figure>",
        svg_chart(ledger.days, cap),
        f"<figcaption>Bars: abandon rate of the day. Line: the rate over the window ({window}) "
        "ending with each day. Dashed: the cap.</figcaption></figure>",
        "<h2>Successive periods of the rule</h2>",
        _periods_table(ledger),
        "<h2>Days with attempts</h2>",
        _days_table(ledger),
        "<h2>Attempts flagged</h2>",
        _flagged_table(ledger.flagged()),
        "<h2>How this is counted</h2>",
        "<ul>",
        "<li>Live answer: answered by a person (not an answering machine or fax).</li>",
        f"<li>Abandoned: a live answer not connected to an agent within {limit} seconds of the "
        "end of the greeting: the dialer's abandoned calls (safe-harbor message or not), agents "
        f"connected later than {limit} s, and customers who hung up after waiting more than "
        f"{limit} s. Without answering-machine detection the greeting is taken to end at the "
        f"answer, which can only overstate the wait.{fp}</li>",
        f"<li>Rate: abandoned over live answers, per campaign, over the window ({window}) "
        "ending each day and ending now; also over each of the rule's successive periods "
        "from the first day.</li>",
        "<li>Ring time: from ringing (else origination) to the end of an unanswered attempt; "
        f"short when under {rule.min_ring.total_seconds():g} s and the dialer, not the callee, "
        "ended it.</li>",
        "</ul></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _periods_table(ledger: Ledger) -> str:
    rows = [
        "<table><tr><th class=l>From</th><th class=l>To</th><th>Live answers</th>"
        "<th>Abandoned</th><th>Rate</th></tr>"
    ]
    for p in ledger.periods:
        over = ' class="over"' if p.rate.over(ledger.cap) else ""
        rows.append(
            f"<tr{over}><td class=l>{p.start}</td><td class=l>{p.end}</td>"
            f"<td>{p.rate.live}</td><td>{p.rate.abandoned}</td><td>{_pct(p.rate.rate)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _days_table(ledger: Ledger) -> str:
    rows = [
        "<table><tr><th class=l>Day</th><th>Attempts</th><th>Unanswered</th>"
        "<th>Short rings</th><th>Live answers</th><th>Abandoned</th><th>Rate</th>"
        "<th>Connected</th><th>Late connects</th><th>Median to agent (s)</th>"
        "<th>Window live</th><th>Window abandoned</th><th>Window rate</th></tr>"
    ]
    for d in (d for d in ledger.days if d.attempts):
        over = ' class="over"' if d.window.over(ledger.cap) else ""
        rows.append(
            f"<tr{over}><td class=l>{d.day}</td><td>{d.attempts}</td><td>{d.unanswered}</td>"
            f"<td>{d.short_rings}</td><td>{d.day_rate.live}</td><td>{d.day_rate.abandoned}</td>"
            f"<td>{_pct(d.day_rate.rate)}</td><td>{d.connected}</td><td>{d.late_connects}</td>"
            f"<td>{_num(d.median_answer_to_agent_s) or '-'}</td><td>{d.window.live}</td>"
            f"<td>{d.window.abandoned}</td><td>{_pct(d.window.rate)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _flagged_table(flagged: Sequence[LedgerEntry]) -> str:
    if not flagged:
        return "<p>None.</p>"
    rows = [
        "<table><tr><th>Attempt</th><th class=l>Started</th><th class=l>Number</th>"
        "<th class=l>Result</th><th>Ring (s)</th><th>To agent (s)</th><th>To message (s)</th>"
        "<th class=l>Why</th></tr>"
    ]
    for e in flagged[:MAX_FLAGGED_ROWS]:
        f = e.facts
        why = "; ".join(flag.value for flag in sorted(e.flags, key=lambda x: x.name))
        rows.append(
            f"<tr><td>{f.attempt_id}</td><td class=l>{f.started_at:%Y-%m-%d %H:%M:%S}</td>"
            f"<td class=l>{escape(f.number)}</td>"
            f"<td class=l>{escape(f.result.value if f.result else 'open')}</td>"
            f"<td>{_num(e.ring_s)}</td><td>{_num(e.answer_to_agent_s)}</td>"
            f"<td>{_num(e.answer_to_message_s)}</td><td class=w>{escape(why)}</td></tr>"
        )
    rows.append("</table>")
    if len(flagged) > MAX_FLAGGED_ROWS:
        rows.append(
            f"<p>... and {len(flagged) - MAX_FLAGGED_ROWS} more (see the attempts CSV).</p>"
        )
    return "\n".join(rows)


def svg_chart(days: Sequence[DayRow], cap: float, width: int = 900, height: int = 260) -> str:
    """Daily rate bars, the rule window's line and the cap, as an inline SVG element."""
    left, right, top, bottom = 48, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(
        [cap * 1.5, 0.01, *(d.day_rate.rate for d in days), *(d.window.rate for d in days)]
    )
    scale = _nice_ceiling(highest)

    def y(rate: float) -> float:
        return top + plot_h * (1 - min(rate, scale) / scale)

    n = max(len(days), 1)
    step = plot_w / n
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Abandon rate by day against the {_pct(cap)} cap">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    for i in range(5):
        rate = scale * i / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" '
            'stroke="#e4e4e4"/>'
            f'<text x="{left - 6}" y="{y(rate) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{100 * rate:.3g}%</text>"
        )
    for i, d in enumerate(days):
        x = left + i * step + step * 0.15
        h = top + plot_h - y(d.day_rate.rate)
        colour = "#ef9a9a" if d.day_rate.over(cap) else "#90caf9"
        out.append(
            f'<rect x="{x:.1f}" y="{y(d.day_rate.rate):.1f}" width="{step * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{d.day}: {_pct(d.day_rate.rate)} '
            f"({d.day_rate.abandoned}/{d.day_rate.live})</title></rect>"
        )
    if days:
        points = " ".join(
            f"{left + i * step + step / 2:.1f},{y(d.window.rate):.1f}" for i, d in enumerate(days)
        )
        out.append(f'<polyline points="{points}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(cap):.1f}" y2="{y(cap):.1f}" '
        'stroke="#c62828" stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{left + plot_w - 4}" y="{y(cap) - 4:.1f}" font-size="11" text-anchor="end" '
        f'fill="#c62828">cap {_pct(cap)}</text>'
    )
    every = max(1, len(days) // 8)
    for i, d in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            out.append(
                f'<text x="{left + i * step + step / 2:.1f}" y="{height - bottom + 16}" '
                f'font-size="11" text-anchor="middle">{d.day:%m-%d}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _nice_ceiling(value: float) -> float:
    for candidate in (0.01, 0.02, 0.04, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= candidate:
            return candidate
    return 1.0


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%" if value < 0.1 else f"{100 * value:.0f}%"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def rate_text(rate: Rate) -> str:
    """``"2.5% (3 of 120 live answers)"`` (and the estimated AMD false positives, if counted)."""
    fp = f" + {rate.false_positives:.1f} estimated AMD false positives" if rate.fp_share else ""
    return f"{_pct(rate.rate)} ({rate.abandoned} of {rate.live} live answers{fp})"
