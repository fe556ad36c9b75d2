"""The supervisor's live view for real: the JSON status behind a login, `dialer status`'s text,
and the page in a real headless browser (Debian chromium driven by Selenium) updating live while
agents log in and a progressive call connects."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.db.campaigns import set_campaign_status
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import AgentClient
from dialer.service.supervisor import render_text
from tests.integration.dialer_env import LINK_PORT, SUPERVISOR, dialer_env, password

pytestmark = pytest.mark.pbx
BASE = f"http://127.0.0.1:{LINK_PORT}/"


def _get(path: str, auth: tuple[str, str] | None) -> tuple[int, bytes]:
    req = urllib.request.Request(BASE + path)
    if auth:
        token = base64.b64encode(":".join(auth).encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def _fetch(path: str, auth: tuple[str, str] | None) -> tuple[int, bytes]:
    return await asyncio.to_thread(_get, path, auth)


def _browser() -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1200,900"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


async def test_live_view_behind_a_login_updates_while_a_call_connects(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    assert shutil.which("chromium"), "Debian chromium is installed by scripts/setup"
    from selenium.webdriver.common.by import By

    numbers = [number_for(Behaviour.ANSWER, 2, 4, tag=9, area_code="206")]
    async with dialer_env(settings, tmp_path, [1001], numbers) as env:
        assert (await _fetch("status", None))[0] == 401
        assert (await _fetch("status", ("supervisor", "guess")))[0] == 401
        code, body = await _fetch("status", SUPERVISOR)
        assert code == 200 and json.loads(body)["agents"] == []

        browser = await asyncio.to_thread(_browser)
        try:
            await asyncio.to_thread(browser.get, BASE)          # type: ignore[attr-defined]
            assert "log in" in browser.title                    # type: ignore[attr-defined]

            def login() -> None:
                browser.find_element(By.ID, "user").send_keys(SUPERVISOR[0])  # type: ignore
                browser.find_element(By.ID, "password").send_keys(SUPERVISOR[1])  # type: ignore
                browser.find_element(By.ID, "submit").click()  # type: ignore

            await asyncio.to_thread(login)

            def table(tid: str) -> str:
                return str(browser.find_element(By.ID, tid).text)  # type: ignore

            async with AgentClient(env.url) as agent:
                await agent.login("agent1001", password(1001))
                await agent.expect("channel", timeout=15,
                                   where=lambda m: m["state"] == "connected")
                await agent.request("ready")
                set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
                await agent.expect("call_connected", timeout=15)
                for _ in range(40):      # the page polls every second
                    calls = await asyncio.to_thread(table, "calls")
                    if "connected" in calls:
                        break
                    await asyncio.sleep(0.25)
                agents = await asyncio.to_thread(table, "agents")
                campaigns = await asyncio.to_thread(table, "campaigns")
                shots = os.environ.get("OPENDIALER_SCREENSHOTS")
                if shots:
                    await asyncio.to_thread(browser.save_screenshot,  # type: ignore
                                            str(Path(shots) / "supervisor.png"))
                code, body = await _fetch("status", SUPERVISOR)
                text = render_text(json.loads(body))
                ended = await agent.expect("call_ended", timeout=15)
                await agent.request("disposition", attempt=ended["attempt"], code="SALE")
        finally:
            await asyncio.to_thread(browser.quit)               # type: ignore[attr-defined]
    assert "agent1001" in agents and "on_call" in agents
    assert numbers[0] in calls and "connected" in calls
    assert "it" in campaigns and "progressive" in campaigns
    assert "agent1001" in text and "on_call" in text and numbers[0] in text
