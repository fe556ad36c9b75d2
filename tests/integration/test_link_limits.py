"""The agent link's limits through a real WebSocket client (issue 14): hostile frames get typed
errors with the request's id (never `internal`, never a traceback in the log), frames over the
limit get `too_large` or a clear close, and every login path shares one throttle, with a
`security` line per refused login and capped connections. No PBX: `tests.integration.link_env`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dialer.config.settings import Settings
from dialer.protocol import MAX_MESSAGE_BYTES
from dialer.service.client import AgentClient, LinkClosed
from dialer.service.link import WS_MAX_MSG_SIZE
from tests.integration.link_env import SUPERVISOR, LinkEnv, link_env

pytestmark = pytest.mark.asyncio(loop_scope="session")

# the fail2ban filter's failregex as docs/security.md gives it (<HOST>: an address)
_DOC = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
FAILREGEX = re.compile(re.search(r"^failregex = (.+)$", _DOC, re.M)[1]  # type: ignore[index]
                       .replace("<HOST>", r"(?P<host>[0-9a-fA-F.:]+)"))


@pytest.fixture
async def env(settings: Settings, tmp_path: Path) -> AsyncIterator[LinkEnv]:
    async with link_env(settings, tmp_path, max_per_address=3, max_total=4) as e:
        yield e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _open(http: aiohttp.ClientSession, env: LinkEnv) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(env.url)
    assert json.loads((await ws.receive(timeout=3)).data)["type"] == "welcome"
    return ws


async def _expect(ws: aiohttp.ClientWebSocketResponse,
                  where: Callable[[dict[str, Any]], bool] = lambda m: True,
                  timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data: dict[str, Any] = json.loads(msg.data)
        if where(data):
            return data


async def _ask(ws: aiohttp.ClientWebSocketResponse, frame: str, rid: str) -> dict[str, Any]:
    await ws.send_str(frame)
    return await _expect(ws, lambda m: m.get("re") == rid or m["type"] == "error")


def _login(rid: str, password: str, agent: str = "agent1001") -> str:
    return json.dumps({"v": 1, "type": "login", "id": rid, "agent": agent, "password": password})


HOSTILE = [   # (frame, the error's code, its re)
    ('{"v": true, "type": "ping", "id": "h1"}', "bad_version", "h1"),
    ('{"v": 1, "type": "disposition", "id": "h2", "attempt": 1, "code": "X", '
     '"callback": null}', "not_logged_in", "h2"),
    ('{"v": 1, "type": "disposition", "id": "h3", "attempt": 1, "code": "X", '
     '"callback": {"at": null}}', "missing_field", "h3"),
    ('{"v": 1, "type": "record_update", "id": "h4", "contact": 1, "fields": {"a": '
     + "[" * 500 + "]" * 500 + "}}", "bad_field", "h4"),
    ("[" * 20_000 + "]" * 20_000, "bad_json", None),
    ('{"v": 1, "type": "preview_dial", "id": "h5", "contact": 99999999999999999999}',
     "bad_field", "h5"),
    (json.dumps({"v": 1, "type": "not_ready", "id": "h6", "reason": "\u20ac" * 30_000},
                ensure_ascii=False), "too_large", None),
]


async def test_hostile_frames_get_typed_errors_before_and_after_login(
        env: LinkEnv, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    ws = await _open(http, env)
    for logged_in in (False, True):
        for frame, code, rid in HOSTILE:
            if logged_in and code == "not_logged_in":
                code = "refused"        # a disposition for an attempt that is not the agent's
            err = await _ask(ws, frame, rid or "")
            assert (err["type"], err["code"], err.get("re")) == ("error", code, rid), frame[:60]
        if not logged_in:
            ok = await _ask(ws, _login("in", "right-password"), "in")
            assert ok["type"] == "login_ok", ok
    assert (await _ask(ws, '{"v": 1, "type": "ping", "id": "p"}', "p"))["type"] == "pong"
    # the dialer logged no traceback for any of it, and answered `internal` never
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    await ws.close()


async def test_frames_over_the_limit(env: LinkEnv, http: aiohttp.ClientSession) -> None:
    ws = await _open(http, env)
    just_over = "x" * (MAX_MESSAGE_BYTES + 1)
    err = await _ask(ws, just_over, "")
    assert err["code"] == "too_large" and f"{MAX_MESSAGE_BYTES + 1} bytes" in err["message"]
    near_aiohttps = "x" * (WS_MAX_MSG_SIZE - 10)
    assert (await _ask(ws, near_aiohttps, ""))["code"] == "too_large"
    # over aiohttp's own limit: the connection closes, with code 1009 and a reason
    await ws.send_str("[" * 100_000 + "]" * 100_000)
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1009
    assert f"limit is {MAX_MESSAGE_BYTES} bytes" in msg.extra
    # and the server is fine: a new connection works
    ws2 = await _open(http, env)
    assert (await _ask(ws2, '{"v": 1, "type": "ping", "id": "p"}', "p"))["type"] == "pong"
    await ws2.close()


async def test_failed_logins_hold_the_address_on_every_login_path(
        env: LinkEnv, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dialer.security")
    a = await _open(http, env)
    t0 = time.monotonic()
    bad = await _ask(a, _login("1", "wrong"), "1")
    assert bad["code"] == "bad_credentials" and time.monotonic() - t0 >= 0.2
    # the test's clock has not moved: the address is held, on the link from another connection
    b = await _open(http, env)
    held = await _ask(b, _login("2", "right-password"), "2")
    assert held["code"] == "refused" and "too many failed logins" in held["message"]
    # and on the supervisor's basic auth and form, with the right password too
    auth = {"Authorization": aiohttp.encode_basic_auth(*SUPERVISOR)}
    async with http.get(env.base + "status", headers=auth) as resp:
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    async with http.post(env.base + "login", data={"user": SUPERVISOR[0],
                                                   "password": SUPERVISOR[1]},
                         allow_redirects=False) as resp:
        assert resp.status == 429 and "Too many failed logins" in await resp.text()
    # a supervisor guess counts on the same table
    env.clock.now += 60
    guess = {"Authorization": aiohttp.encode_basic_auth("supervisor", "guess")}
    async with http.get(env.base + "status", headers=guess) as r:
        assert r.status == 401
    assert env.link.guard.throttle.failures("127.0.0.1") == 2
    env.clock.now += 60
    ok = await _ask(b, _login("3", "right-password"), "3")
    assert ok["type"] == "login_ok"
    assert env.link.guard.throttle.failures("127.0.0.1") == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "dialer.security"]
    assert lines[:2] == [
        "security: refused login for 'agent1001' from 127.0.0.1 (agent link): "
        "wrong agent or password",
        "security: refused login for 'agent1001' from 127.0.0.1 (agent link): "
        "too many failed logins"]
    assert len(lines) == 5
    for line in lines:
        found = FAILREGEX.search(line)
        assert found and found["host"] == "127.0.0.1", line
    await a.close()
    await b.close()


async def test_a_login_cannot_forge_the_address_in_the_security_line(
        env: LinkEnv, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dialer.security")
    ws = await _open(http, env)
    await _ask(ws, _login("1", "x", agent="a' from 10.9.9.9 (agent link): x\nforged"), "1")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "dialer.security"]
    assert "\n" not in line and "10.9.9.9 (" not in line
    found = FAILREGEX.search(line)
    assert found and found["host"] == "127.0.0.1"
    await ws.close()


async def test_connections_are_capped_per_address_and_in_total(
        env: LinkEnv, http: aiohttp.ClientSession) -> None:
    open_ = [await _open(http, env) for _ in range(3)]
    extra = await http.ws_connect(env.url)
    err = json.loads((await extra.receive(timeout=3)).data)
    assert err["type"] == "error" and err["code"] == "refused"
    assert "too many connections from 127.0.0.1 (at most 3)" in err["message"]
    closing = await extra.receive(timeout=3)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1013
    assert "too many connections" in closing.extra
    # the dialer's own client says why
    with pytest.raises(LinkClosed, match=r"code 1013: too many connections from 127\.0\.0\.1"):
        async with AgentClient(env.url):
            pass
    await open_[0].close()
    for _ in range(50):                     # the server counts the close once it has seen it
        if env.link.guard.total == 2:
            break
        await asyncio.sleep(0.02)
    again = await _open(http, env)          # a slot is free again
    assert env.link.guard.connections == {"127.0.0.1": 3}
    # the total cap: 4 connections in all (another address is simulated in the guard's table)
    env.link.guard.connections["192.0.2.7"] = 1
    full = await http.ws_connect(env.url)
    assert "4 agent connections already" in json.loads((await full.receive(timeout=3)).data)[
        "message"]
    for ws in (*open_[1:], again, full):
        await ws.close()
