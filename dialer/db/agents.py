"""Agents: accounts, passwords (scrypt, per-agent salt) and the agent state audit log.

Password hashes are stored as ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` so the cost can be
raised later without breaking stored hashes; comparison is constant-time, and an unknown login
costs the same scrypt work as a wrong password.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dialer.core.agent_state import AuditRecord
from dialer.db.database import Database
from dialer.db.models import Agent, AgentStateLog

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32


class AgentExistsError(ValueError):
    """An agent with that login already exists."""


@dataclass(frozen=True)
class AgentInfo:
    """An agent account as the dialer uses it (no password material)."""

    id: int
    login: str
    display_name: str
    sip_endpoint: str | None
    active: bool


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Hash ``password`` with scrypt and a fresh random salt (or the given one)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest_hex)
        actual = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=HASH_BYTES
    )


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against for unknown logins, so they cost the same time."""
    return hash_password("not a password", salt=bytes(SALT_BYTES))


def add_agent(
    db: Database,
    login: str,
    password: str,
    display_name: str | None = None,
    sip_endpoint: str | None = None,
    now: datetime | None = None,
) -> int:
    """Create an agent account; return its id. Raises ``AgentExistsError`` for a taken login."""
    if not login.strip():
        raise ValueError("agent login must not be empty")
    if not password:
        raise ValueError("agent password must not be empty")
    agent = Agent(
        login=login.strip(),
        display_name=display_name or login.strip(),
        sip_endpoint=sip_endpoint,
        password_hash=hash_password(password),
        active=True,
        created_at=now or datetime.now(UTC),
    )
    with db.session() as session:
        session.add(agent)
        try:
            session.commit()
        except IntegrityError as exc:
            raise AgentExistsError(f"agent login {login!r} already exists") from exc
        return agent.id


def verify_password(db: Database, login: str, password: str) -> AgentInfo | None:
    """The agent if ``login``/``password`` are right and the account is active, else None.
    The scrypt work runs after the database connection is given back."""
    with db.session() as session:
        agent = session.scalars(select(Agent).where(Agent.login == login)).one_or_none()
        stored = agent.password_hash if agent is not None else None
        info = _info(agent) if agent is not None else None
    ok = check_password(password, stored if stored is not None else _dummy_hash())
    if info is None or not ok or not info.active:
        return None
    return info


def set_password(db: Database, agent_id: int, password: str) -> None:
    """Replace an agent's password (new salt)."""
    if not password:
        raise ValueError("agent password must not be empty")
    with db.session() as session:
        agent = session.get_one(Agent, agent_id)
        agent.password_hash = hash_password(password)
        session.commit()


def list_agents(db: Database) -> list[AgentInfo]:
    """Every agent account, by login."""
    with db.session() as session:
        return [_info(a) for a in session.scalars(select(Agent).order_by(Agent.login))]


def get_agent(db: Database, login: str) -> AgentInfo | None:
    with db.session() as session:
        agent = session.scalars(select(Agent).where(Agent.login == login)).one_or_none()
        return None if agent is None else _info(agent)


def log_agent_transition(
    db: Database, agent_id: int, record: AuditRecord, detail: Mapping[str, Any] | None = None
) -> None:
    """Persist one agent state transition (``Outcome.audit`` of the state machine).

    ``detail`` defaults to the event's fields (reason, call id, ...); commits before returning.
    """
    with db.session() as session:
        session.add(
            AgentStateLog(
                agent_id=agent_id,
                old_state=record.old,
                new_state=record.new,
                event=record.event_name,
                at=record.at,
                detail=dict(detail) if detail is not None else record.detail() or None,
            )
        )
        session.commit()


def agent_history(db: Database, agent_id: int) -> list[AgentStateLog]:
    """The agent's logged transitions, oldest first."""
    with db.session() as session:
        query = select(AgentStateLog).where(AgentStateLog.agent_id == agent_id)
        return list(session.scalars(query.order_by(AgentStateLog.at, AgentStateLog.id)))


def _info(agent: Agent) -> AgentInfo:
    return AgentInfo(agent.id, agent.login, agent.display_name, agent.sip_endpoint, agent.active)
