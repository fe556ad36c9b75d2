"""The agent link refuses bad input with typed errors, slows down password guessing, and neither
the session nor the stored data is changed by a bad message."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialer.config.settings import Settings
from dialer.db.models import AgentStateLog, CallAttempt, Contact, Disposition
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import AgentClient
from tests.integration.dialer_env import dialer_env, password

pytestmark = pytest.mark.pbx


def _counts(env_db: object) -> tuple[int, ...]:
    with env_db.session() as s:  # type: ignore[attr-defined]
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0
                     for t in (Contact, CallAttempt, Disposition, AgentStateLog))


async def test_bad_messages_get_typed_errors_and_change_nothing(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    async with dialer_env(settings, tmp_path, [1011], [number_for(Behaviour.ANSWER, 1, 2)],
                          mode="preview", phones=False) as env:
        async with AgentClient(env.url) as c:
            before = _counts(env.db)
            cases = [
                ("{not json", "bad_json"),
                ("[1, 2]", "bad_envelope"),
                (json.dumps({"v": 2, "type": "ready"}), "bad_version"),
                (json.dumps({"v": 1, "type": "fly"}), "unknown_type"),
                (json.dumps({"v": 1, "type": "ready"}), "not_logged_in"),
                (json.dumps({"v": 1, "type": "login", "agent": "agent1011"}), "missing_field"),
                (json.dumps({"v": 1, "type": "login", "agent": 7, "password": "x"}),
                 "bad_field"),
                (json.dumps({"v": 1, "type": "ping", "extra": 1}), "unknown_field"),
                ("x" * 70000, "too_large"),
            ]
            for text, code in cases:
                await c.send_raw(text)
                err = await c.expect("error", timeout=3)
                assert err["code"] == code, (text[:40], err)
                assert err["message"]
            assert _counts(env.db) == before
            # the session still works after all that
            assert (await c.request("ping"))["type"] == "pong"

            # wrong passwords are refused, each answer slower than the last
            took = []
            for _ in range(3):
                t0 = time.monotonic()
                reply = await c.login("agent1011", "wrong")
                took.append(time.monotonic() - t0)
                assert reply["type"] == "error" and reply["code"] == "bad_credentials"
            assert took[0] < took[1] < took[2]
            assert _counts(env.db) == before

            ok = await c.login("agent1011", password(1011))
            assert ok["type"] == "login_ok"
            again = await c.login("agent1011", password(1011))
            assert again["type"] == "error" and again["code"] == "out_of_order"
            # out-of-order requests: a disposition for an attempt that is not the agent's,
            # a record to dial that was never offered, a campaign-less preview
            for kind, fields in (("disposition", {"attempt": 99, "code": "SALE"}),
                                 ("preview_dial", {"contact": 1}),
                                 ("hangup", {}),
                                 ("disposition", {"attempt": 1, "code": "SALE",
                                                  "callback": {"at": "tomorrow"}})):
                err = await c.request(kind, **fields)
                assert err["type"] == "error", (kind, err)
            # no phone registered for this seat: the dialer says so instead of hanging
            voice = await c.expect("error", where=lambda m: m["code"] == "voice_channel",
                                   timeout=25)
            assert "PJSIP/agent1011" in voice["message"]
            after = _counts(env.db)
            assert after[:3] == before[:3]   # only the login's audit rows were added
