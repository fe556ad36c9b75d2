"""The agent link and the supervisor's page over TLS (issue 14), with the development certificate
`dialer security dev-cert` makes: a client that trusts it logs in over wss:// (the dialer's own
client and the softphone's Qt link), one that does not is refused at the handshake, and plain
ws:// gets nothing from the TLS port. No PBX: `tests.integration.link_env`."""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtWidgets import QApplication  # noqa: E402

from dialer import protocol as p  # noqa: E402
from dialer.config.settings import Settings  # noqa: E402
from dialer.service.client import AgentClient  # noqa: E402
from dialer.service.tls import client_context, server_context  # noqa: E402
from softphone.link import AgentLink  # noqa: E402
from tests.integration.link_env import SUPERVISOR, LinkEnv, link_env  # noqa: E402
from tests.integration.qt_wait import until  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """The development certificate, made by the command an admin runs."""
    env = dict(os.environ, OPENDIALER_RUNTIME_DIR=str(tmp_path / "var"))
    out = subprocess.run([sys.executable, "-m", "dialer.cli", "security", "dev-cert"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    crt, key = tmp_path / "var" / "tls" / "dev.crt", tmp_path / "var" / "tls" / "dev.key"
    assert f"made {crt}" in out.stdout
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    return crt, key


@pytest.fixture
async def env(settings: Settings, tmp_path: Path,
              cert: tuple[Path, Path]) -> AsyncIterator[LinkEnv]:
    async with link_env(settings, tmp_path, ssl_context=server_context(*map(str, cert))) as e:
        yield e


async def test_a_client_that_trusts_the_certificate_logs_in_over_wss(
        env: LinkEnv, cert: tuple[Path, Path]) -> None:
    assert env.url.startswith("wss://")
    async with AgentClient(env.url, ca_file=str(cert[0])) as c:
        ok = await c.login("agent1001", "right-password")
        assert ok["type"] == "login_ok" and ok["agent"] == "agent1001"


async def test_a_client_that_does_not_trust_it_is_refused_and_plain_ws_gets_nothing(
        env: LinkEnv) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        async with AgentClient(env.url):          # the system's CAs only
            pass
    with pytest.raises((aiohttp.ClientError, asyncio.TimeoutError)):
        async with aiohttp.ClientSession() as http:
            await http.ws_connect(env.url.replace("wss://", "ws://"),
                                  timeout=aiohttp.ClientWSTimeout(ws_receive=3))


async def test_the_supervisor_page_answers_over_https(env: LinkEnv,
                                                      cert: tuple[Path, Path]) -> None:
    token = base64.b64encode(":".join(SUPERVISOR).encode()).decode()
    async with aiohttp.ClientSession() as http:
        async with http.get(env.base + "status", ssl=client_context(str(cert[0])),
                            headers={"Authorization": f"Basic {token}"}) as res:
            assert res.status == 200
            assert "agents" in await res.json()
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(env.base + "status", ssl=ssl.create_default_context())


async def test_the_softphones_link_logs_in_over_wss(qapp: QApplication, env: LinkEnv,
                                                    cert: tuple[Path, Path]) -> None:
    link = AgentLink()
    got: list[p.ServerMessage] = []
    link.message.connect(got.append)
    opened: list[bool] = []
    link.opened.connect(lambda: opened.append(True))
    link.open(env.url, ca_file=str(cert[0]))
    try:
        await until(lambda: opened, what="the wss connection")
        link.login("agent1001", "right-password")
        await until(lambda: any(isinstance(m, p.LoginOk) for m in got), what="login_ok")
    finally:
        link.close()
    untrusting = AgentLink()
    closed: list[str] = []
    untrusting.closed.connect(closed.append)
    untrusting.open(env.url)                     # the system's CAs only
    await until(lambda: closed, what="the refusal")
    assert "certificate verify failed" in closed[0]

