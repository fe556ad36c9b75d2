"""The supervisor's live view for real: the JSON status behind a login, `dialer status`'s text,
and the page in a real headless browser (Debian chromium driven by Selenium) updating live while
agents log in and a progressive call connects. Without the PBX (`tests.integration.link_env`):
the page's security headers, its content policy in the browser, logout and session expiry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.db.campaigns import set_campaign_status
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import AgentClient
from dialer.service.supervisor import render_text
from tests.integration.dialer_env import LINK_PORT, SUPERVISOR, dialer_env, password
from tests.integration.link_env import LinkEnv, link_env

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


@pytest.mark.pbx
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


# -- without the PBX: headers, content policy, logout, expiry ----------------------------------

def _jar_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))   # 127.0.0.1


async def _form_login(http: aiohttp.ClientSession, env: LinkEnv) -> None:
    async with http.post(env.base + "login", data={"user": SUPERVISOR[0],
                                                   "password": SUPERVISOR[1]},
                         allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/"
        cookie = resp.cookies["opendialer_supervisor"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"


def _secure_headers(resp: aiohttp.ClientResponse) -> None:
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp


async def test_every_answer_has_the_security_headers_and_the_policy_allows_only_the_page(
        settings: Settings, tmp_path: Path) -> None:
    async with link_env(settings, tmp_path) as env, _jar_session() as http:
        for path in ("login", "status", ""):
            async with http.get(env.base + path, allow_redirects=False) as resp:
                assert resp.status in (200, 302, 401)
                _secure_headers(resp)
        await _form_login(http, env)
        async with http.get(env.base) as resp:
            page = await resp.text()
            _secure_headers(resp)
            csp = resp.headers["Content-Security-Policy"]
        async with http.get(env.base + "status") as resp:
            assert resp.status == 200 and "agents" in await resp.json()
            _secure_headers(resp)
    # the page's inline script and style are exactly the ones the policy names, by hash
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        (body,) = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp


async def test_logout_ends_the_session_and_sessions_expire(
        settings: Settings, tmp_path: Path) -> None:
    async with link_env(settings, tmp_path) as env, _jar_session() as http:
        await _form_login(http, env)
        token = http.cookie_jar.filter_cookies(URL(env.base))["opendialer_supervisor"].value
        async with http.get(env.base + "status") as resp:
            assert resp.status == 200
        async with http.post(env.base + "logout", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/login"
            _secure_headers(resp)
        # the browser forgot the cookie, and the server the session: the old token is refused
        assert "opendialer_supervisor" not in http.cookie_jar.filter_cookies(URL(env.base))
        async with aiohttp.ClientSession(cookies={"opendialer_supervisor": token}) as old:
            async with old.get(env.base + "status") as resp:
                assert resp.status == 401
            async with old.get(env.base, allow_redirects=False) as resp:
                assert resp.status == 302 and resp.headers["Location"] == "/login"
        # a session expires after 8 hours and is pruned
        await _form_login(http, env)
        env.clock.now += 8 * 3600 - 1      # the sessions run on the guard's (the test's) clock
        async with http.get(env.base + "status") as resp:
            assert resp.status == 200
        env.clock.now += 2
        async with http.get(env.base + "status") as resp:
            assert resp.status == 401


async def test_the_page_runs_under_its_content_policy_in_a_real_browser(
        settings: Settings, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    async with link_env(settings, tmp_path) as env:
        browser = await asyncio.to_thread(_browser)
        try:
            def session() -> tuple[str, str, list[dict[str, str]], str]:
                b: Any = browser
                b.get(env.base)
                b.find_element(By.ID, "user").send_keys(SUPERVISOR[0])
                b.find_element(By.ID, "password").send_keys(SUPERVISOR[1])
                b.find_element(By.ID, "submit").click()
                for _ in range(40):             # the script fills in the time from /status
                    shown = b.find_element(By.ID, "time").text
                    if shown:
                        break
                    time.sleep(0.1)
                color = b.find_element(By.TAG_NAME, "th").value_of_css_property(
                    "background-color")
                logs = b.get_log("browser")
                b.find_element(By.ID, "logout").click()
                for _ in range(40):                 # a click does not wait for the next page
                    if "log in" in b.title:
                        break
                    time.sleep(0.1)
                return shown, color, logs, b.title

            shown, color, logs, title = await asyncio.to_thread(session)
        finally:
            await asyncio.to_thread(browser.quit)               # type: ignore[attr-defined]
    assert re.match(r"\d{4}-\d\d-\d\dT", shown), shown          # the script ran
    assert color == "rgba(240, 240, 240, 1)"                       # the style applied
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs
    assert "log in" in title                                       # logged out
