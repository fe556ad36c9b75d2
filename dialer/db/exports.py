"""CSV exports of a campaign: attempts, dispositions, callbacks and per-agent statistics.

Each ``*_rows`` function returns a list of dicts with the same keys (the CSV header);
``export_all(db, campaign_id, folder, now)`` writes them as ``attempts.csv``,
``dispositions.csv``, ``callbacks.csv`` and ``agents.csv``. Times are ISO 8601 in UTC.
Read-only.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from dialer.core.agent_state import AgentState
from dialer.core.csv_cells import neutral_row, neutralize
from dialer.core.live import state_durations
from dialer.core.timeutil import require_aware
from dialer.db.database import Database
from dialer.db.models import (
    Agent,
    AgentStateLog,
    CallAttempt,
    Callback,
    Campaign,
    ContactNumber,
    Disposition,
    DispositionCode,
)
from dialer.db.reports import attempt_rows

STATE_COLUMNS = (
    AgentState.READY,
    AgentState.RESERVED,
    AgentState.ON_CALL,
    AgentState.WRAP_UP,
    AgentState.NOT_READY,
    AgentState.LOGOUT_PENDING,
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "attempts.csv": (
        "attempt_id", "contact_id", "number", "agent_id", "started_at", "answered_at",
        "bridged_at", "ended_at", "result", "sip_code", "hangup_cause", "disposition", "note",
    ),
    "dispositions.csv": (
        "disposition_id", "attempt_id", "contact_id", "number", "agent", "code", "label",
        "final", "dnc", "note", "callback_id", "call_ended_at", "saved_at", "wrap_up_s",
    ),
    "callbacks.csv": (
        "callback_id", "contact_id", "number", "kind", "agent", "due_at", "done", "attempts",
        "created_by", "created_at", "handed_over_from", "handed_over_at", "note",
    ),
    "agents.csv": (
        "agent", "name", "calls", "connected", "talk_s", "avg_talk_s", "dispositions",
        "avg_wrap_up_s", "callbacks_scheduled", "personal_callbacks_open",
        "dispositions_by_code", "logged_in_s", *(f"{s.value}_s" for s in STATE_COLUMNS),
        "occupancy",
    ),
}  # fmt: skip


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def disposition_rows(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """Every disposition of the campaign, oldest first."""
    with db.session() as session:
        query = (
            select(Disposition, DispositionCode, CallAttempt, Agent.login)
            .join(DispositionCode, DispositionCode.id == Disposition.code_id)
            .join(CallAttempt, CallAttempt.id == Disposition.attempt_id)
            .outerjoin(Agent, Agent.id == Disposition.agent_id)
            .where(CallAttempt.campaign_id == campaign_id)
            .order_by(Disposition.saved_at, Disposition.id)
        )
        return [
            {
                "disposition_id": d.id,
                "attempt_id": a.id,
                "contact_id": a.contact_id,
                "number": a.number,
                "agent": login or "",
                "code": code.code,
                "label": code.label,
                "final": "yes" if code.final else "no",
                "dnc": code.dnc or "",
                "note": d.note or "",
                "callback_id": d.callback_id or "",
                "call_ended_at": _iso(a.ended_at),
                "saved_at": _iso(d.saved_at),
                "wrap_up_s": _seconds(a.ended_at, d.saved_at),
            }
            for d, code, a, login in session.execute(query)
        ]


def callback_rows(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """Every callback of the campaign (open and done), by due time."""
    with db.session() as session:
        logins = {i: login for i, login in session.execute(select(Agent.id, Agent.login))}
        first_numbers = {
            contact_id: e164
            for contact_id, e164 in session.execute(
                select(ContactNumber.contact_id, ContactNumber.e164).where(
                    ContactNumber.campaign_id == campaign_id, ContactNumber.position == 0
                )
            )
        }
        attempts: dict[int, int] = {}
        for cb_id in session.scalars(
            select(CallAttempt.callback_id).where(
                CallAttempt.campaign_id == campaign_id, CallAttempt.callback_id.is_not(None)
            )
        ):
            if cb_id is not None:
                attempts[cb_id] = attempts.get(cb_id, 0) + 1
        query = (
            select(Callback)
            .where(Callback.campaign_id == campaign_id)
            .order_by(Callback.due_at, Callback.id)
        )
        return [
            {
                "callback_id": cb.id,
                "contact_id": cb.contact_id,
                "number": first_numbers.get(cb.contact_id, ""),
                "kind": "personal" if cb.agent_id is not None else "campaign",
                "agent": logins.get(cb.agent_id, "") if cb.agent_id is not None else "",
                "due_at": _iso(cb.due_at),
                "done": "yes" if cb.done else "no",
                "attempts": attempts.get(cb.id, 0),
                "created_by": logins.get(cb.created_by, "") if cb.created_by else "",
                "created_at": _iso(cb.created_at),
                "handed_over_from": (
                    logins.get(cb.handed_over_from, str(cb.handed_over_from))
                    if cb.handed_over_from is not None
                    else ""
                ),
                "handed_over_at": _iso(cb.handed_over_at),
                "note": cb.note or "",
            }
            for cb in session.scalars(query)
        ]


def agent_rows(db: Database, campaign_id: int, now: datetime) -> list[dict[str, Any]]:
    """Per-agent statistics for the campaign.

    Calls, talk and wrap-up times and dispositions count this campaign's attempts only; the
    time in each state comes from the agent audit log over the campaign's span (its first
    attempt to its last attempt's end, or ``now``), which covers every campaign the agent
    worked in that time.
    """
    require_aware(now)
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        attempts = list(
            session.scalars(select(CallAttempt).where(CallAttempt.campaign_id == campaign_id))
        )
        dispositions = [
            (d, ended, code)
            for d, ended, code in session.execute(
                select(Disposition, CallAttempt.ended_at, DispositionCode.code)
                .join(CallAttempt, CallAttempt.id == Disposition.attempt_id)
                .join(DispositionCode, DispositionCode.id == Disposition.code_id)
                .where(CallAttempt.campaign_id == campaign_id)
            )
        ]
        callbacks = list(
            session.scalars(select(Callback).where(Callback.campaign_id == campaign_id))
        )
        ids = {a.agent_id for a in attempts if a.agent_id is not None}
        ids |= {agent.id for agent in campaign.agents}
        agents = list(session.scalars(select(Agent).where(Agent.id.in_(ids)).order_by(Agent.login)))
        since = min((a.started_at for a in attempts), default=now)
        until = max((a.ended_at or now for a in attempts), default=now)
        logs: dict[int, list[tuple[datetime, AgentState]]] = {}
        before: dict[int, AgentState] = {}
        for log in session.scalars(
            select(AgentStateLog)
            .where(AgentStateLog.agent_id.in_(ids))
            .order_by(AgentStateLog.at, AgentStateLog.id)
        ):
            if log.at <= since:
                before[log.agent_id] = log.new_state
            else:
                logs.setdefault(log.agent_id, []).append((log.at, log.new_state))
    out = []
    for agent in agents:
        mine = [a for a in attempts if a.agent_id == agent.id]
        talks = [
            (a.ended_at - a.bridged_at).total_seconds()
            for a in mine
            if a.bridged_at is not None and a.ended_at is not None
        ]
        wraps = [
            (d.saved_at - ended).total_seconds()
            for d, ended, _code in dispositions
            if d.agent_id == agent.id and ended is not None
        ]
        codes: dict[str, int] = {}
        for d, _ended, code in dispositions:
            if d.agent_id == agent.id:
                codes[code] = codes.get(code, 0) + 1
        durations = state_durations(
            logs.get(agent.id, []), since, until, before.get(agent.id, AgentState.LOGGED_OUT)
        )
        logged = sum(v for k, v in durations.items() if k is not AgentState.LOGGED_OUT)
        busy = sum(durations.get(s, 0.0) for s in (AgentState.ON_CALL, AgentState.WRAP_UP))
        row: dict[str, Any] = {
            "agent": agent.login,
            "name": agent.display_name,
            "calls": len(mine),
            "connected": len(talks),
            "talk_s": round(sum(talks), 1),
            "avg_talk_s": round(sum(talks) / len(talks), 1) if talks else "",
            "dispositions": sum(codes.values()),
            "avg_wrap_up_s": round(sum(wraps) / len(wraps), 1) if wraps else "",
            "callbacks_scheduled": sum(1 for cb in callbacks if cb.created_by == agent.id),
            "personal_callbacks_open": sum(
                1 for cb in callbacks if cb.agent_id == agent.id and not cb.done
            ),
            "dispositions_by_code": ";".join(f"{k}={v}" for k, v in sorted(codes.items())),
            "logged_in_s": round(logged, 1),
            **{f"{s.value}_s": round(durations.get(s, 0.0), 1) for s in STATE_COLUMNS},
            "occupancy": round(busy / logged, 4) if logged else "",
        }
        out.append(row)
    return out


def _seconds(start: datetime | None, end: datetime | None) -> float | str:
    if start is None or end is None:
        return ""
    return round((end - start).total_seconds(), 1)


def write_csv(path: Path | None, rows: Sequence[dict[str, Any]],
              columns: Sequence[str] = ()) -> int:
    """Write ``rows`` as CSV (header from ``columns`` or the first row) to ``path``, or to
    standard output when it is None or ``-``; return the row count."""
    if path is None or str(path) == "-":
        return _write_csv(sys.stdout, rows, columns)
    with path.open("w", newline="", encoding="utf-8") as f:
        return _write_csv(f, rows, columns)


def _write_csv(out: TextIO, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> int:
    header = list(columns) or (list(rows[0]) if rows else [])
    writer = csv.DictWriter(out, fieldnames=header)
    if header:
        writer.writerow({h: neutralize(h) for h in header})
    for row in rows:
        writer.writerow(neutral_row(row))
    return len(rows)


TABLES = ("attempts", "dispositions", "callbacks", "agents")


def table_rows(db: Database, campaign_id: int, table: str, now: datetime) -> list[dict[str, Any]]:
    """The rows of one of ``TABLES``."""
    if table == "attempts":
        return attempt_rows(db, campaign_id)
    if table == "dispositions":
        return disposition_rows(db, campaign_id)
    if table == "callbacks":
        return callback_rows(db, campaign_id)
    if table == "agents":
        return agent_rows(db, campaign_id, now)
    raise ValueError(f"no table {table!r} (one of {', '.join(TABLES)})")


def export_table(
    db: Database, campaign_id: int, table: str, path: Path | None, now: datetime
) -> int:
    """Write one table as CSV to ``path`` (None or ``-``: standard output); rows written."""
    return write_csv(path, table_rows(db, campaign_id, table, now), COLUMNS[f"{table}.csv"])


def export_all(db: Database, campaign_id: int, folder: Path, now: datetime) -> dict[str, int]:
    """Write the four CSV files into ``folder`` (created); file name -> rows written."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        f"{table}.csv": export_table(db, campaign_id, table, folder / f"{table}.csv", now)
        for table in TABLES
    }
