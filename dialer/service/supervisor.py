"""The supervisor's live view: a snapshot of the running dialer as JSON, a page, a text table.

`snapshot(engine)` reads the engine's live state (agents and their states, calls dialing, ringing
and connected, campaigns with their counts from the database, the last pacing decision) into plain
data. `SupervisorWeb` serves it read-only on the agent link's HTTP server (loopback by default):
`/` is the page (updates itself every second), `/status` the JSON; both need the supervisor's login
(a form that sets a session cookie, or HTTP Basic for scripts such as `dialer status`); `POST
/logout` ends the session. Sessions expire (8 hours) and are pruned; failed logins are throttled
by the address's limiter shared with the agent link (`dialer.service.guard`). Every answer is
`no-store`, may not be framed, and runs only its own inline script and style (CSP by hash).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from dialer.core.floor import CallPhase, Leg
from dialer.core.guard import Sessions
from dialer.db import repository as repo
from dialer.db.ledger import rolling_abandon_rate
from dialer.service.engine import Engine
from dialer.service.guard import Guard, refused

COOKIE = "opendialer_supervisor"

# a call's phase in the supervisor's words
_CALL_STATE = {CallPhase.DIALING: "dialing", CallPhase.RINGING: "ringing",
               CallPhase.ANSWERED: "answered", CallPhase.DETECTING: "answered",
               CallPhase.WAITING: "waiting", CallPhase.BRIDGING: "answered",
               CallPhase.CONNECTED: "connected", CallPhase.MESSAGE: "abandoned",
               CallPhase.ENDING: "ending", CallPhase.ENDED: "ended"}


async def snapshot(engine: Engine) -> dict[str, Any]:
    """The floor's view is read on the event loop; the campaigns' counts come from the database
    in a thread, so a slow read never holds up a bridge."""
    floor = engine.floor
    now = datetime.now(UTC)
    agents = []
    for seat in sorted(floor.seats.values(), key=lambda a: a.login):
        call = floor.seat_call(seat.agent_id)
        agents.append({
            "agent": seat.login, "name": seat.name,
            "state": seat.machine.state.value, "reason": seat.machine.not_ready_reason,
            "voice": "connected" if seat.leg is Leg.UP else "disconnected",
            "call": call.attempt_id if call else None,
            "wrap_up": seat.wrap_attempt,
            "logout_remaining_s": (round(r.total_seconds(), 1)
                                   if (r := seat.machine.remaining(now)) else None),
        })
    calls = []
    for call in sorted(floor.calls.values(), key=lambda c: c.attempt_id):
        who = floor.seats.get(call.agent_id) if call.agent_id is not None else None
        calls.append({"attempt": call.attempt_id, "campaign": call.campaign_id,
                      "number": call.number, "state": _CALL_STATE[call.phase],
                      "phase": call.phase.value, "channel": call.channel_id,
                      "agent": who.login if who else None,
                      "seconds": round((now - call.dialed_at).total_seconds(), 1)})
    runs = list(floor.runs.values())
    read_at = datetime.now(UTC)
    summaries = await asyncio.to_thread(
        lambda: [repo.campaign_summary(engine.db, run.info.id) for run in runs])
    # the abandon rate over the campaign's own rule window (US 30 days, UK 24 h, CA month)
    windows = await asyncio.to_thread(
        lambda: [rolling_abandon_rate(engine.db, run.info.id, read_at,
                                      (run.info.profile, run.info.time_zone)) for run in runs])
    campaigns = []
    for run, summary, window in zip(runs, summaries, windows, strict=True):
        campaigns.append({
            "id": run.info.id, "name": run.info.name, "mode": run.info.mode.value,
            "status": run.info.status.value, "in_flight": len(run.in_flight),
            "contacts": summary.contacts, "attempts": summary.attempts,
            "connected": summary.connected,
            "abandoned": summary.abandoned, "abandon_rate": round(window.rate, 4),
            "abandon_window": run.info.profile.window_label, "abandon_cap": run.info.profile.cap,
            "abandoned_in_window": window.abandoned, "live_in_window": window.live,
            "contacts_by_state": {k.value: v for k, v in summary.contacts_by_state.items()},
            "pacing": run.last_decision,
        })
    lat = sorted(list(floor.connect_latencies)[-500:])
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "agents": agents, "calls": calls, "campaigns": campaigns,
        "ready_agents": sum(1 for a in agents if a["state"] == "ready"),
        "connect_ms_p50": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "connect_ms_max": round(1000 * lat[-1], 2) if lat else None,
    }


def render_text(snap: dict[str, Any]) -> str:
    """The terminal view of `dialer status`."""
    out = [f"opendialer status at {snap['time']}  ready agents: {snap['ready_agents']}"
           + (f"  answer-to-agent p50 {snap['connect_ms_p50']} ms" if snap["connect_ms_p50"]
              else "")]
    out.append("")
    out.append("CAMPAIGN             MODE          STATUS   FLIGHT ATTEMPTS CONNECTED ABANDONED")
    for c in snap["campaigns"]:
        out.append(f"{c['name'][:20]:20} {c['mode']:13} {c['status']:8} {c['in_flight']:6} "
                   f"{c['attempts']:8} {c['connected']:9} {c['abandoned']:5} "
                   f"({100 * c['abandon_rate']:.1f} % {c.get('abandon_window', '')})")
        if c.get("pacing"):
            out.append(f"  pacing: {c['pacing']}")
    if not snap["campaigns"]:
        out.append("(no campaign running)")
    out.append("")
    out.append("AGENT            STATE           VOICE         CALL")
    for a in snap["agents"]:
        state = a["state"] + (f" ({a['reason']})" if a["reason"] else "")
        if a["logout_remaining_s"] is not None:
            state += f" {a['logout_remaining_s']:.0f}s"
        out.append(f"{a['agent'][:16]:16} {state[:15]:15} {a['voice']:13} "
                   f"{a['call'] or a['wrap_up'] or ''}")
    if not snap["agents"]:
        out.append("(no agent logged in)")
    out.append("")
    out.append("CALL     NUMBER          STATE      AGENT            SECONDS")
    for c in snap["calls"]:
        out.append(f"{c['attempt']:<8} {c['number']:15} {c['state']:10} "
                   f"{(c['agent'] or '-')[:16]:16} {c['seconds']:.0f}")
    if not snap["calls"]:
        out.append("(no call in progress)")
    return "\n".join(out)


STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222} h1{font-size:1.3em}
table{border-collapse:collapse;margin:.4em 0 1.4em} td,th{border:1px solid #ccc;padding:.25em .6em}
th{background:#f0f0f0;text-align:left} .ready{color:#2e7d32} .on_call{color:#1565c0}
.not_ready{color:#c62828} .wrap_up{color:#ef6c00} .logout_pending{color:#6a1b9a}
#err,#error{color:#c62828} form.logout{float:right}
"""

SCRIPT = """
function rows(id, list, cells) {
  const t = document.getElementById(id);
  while (t.rows.length > 1) t.deleteRow(1);
  for (const item of list) {
    const r = t.insertRow();
    for (const [text, cls] of cells(item)) {
      const c = r.insertCell(); c.textContent = text; if (cls) c.className = cls;
    }
  }
}
async function tick() {
  try {
    const res = await fetch('status', {credentials: 'same-origin'});
    if (res.status === 401) { location.href = 'login'; return; }
    const s = await res.json();
    document.getElementById('err').textContent = '';
    document.getElementById('time').textContent = s.time;
    document.getElementById('ready').textContent = '(' + s.ready_agents + ' ready)';
    rows('campaigns', s.campaigns, c => [[c.name], [c.mode], [c.status], [c.in_flight],
      [c.attempts], [c.connected], [c.abandoned], [(100 * c.abandon_rate).toFixed(1) + ' % ' +
      c.abandon_window],
      [c.pacing || '']]);
    rows('agents', s.agents, a => [[a.agent], [a.state + (a.reason ? ' (' + a.reason + ')' : ''),
      a.state], [a.voice], [a.call || a.wrap_up || '']]);
    rows('calls', s.calls, c => [[c.attempt], [c.number], [c.state], [c.agent || '-'],
      [Math.round(c.seconds)]]);
  } catch (e) {
    document.getElementById('err').textContent = 'dialer not answering: ' + e;
  }
}
tick(); setInterval(tick, 1000);
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>opendialer - supervisor</title>
<style>""" + STYLE + """</style></head><body>
<form class="logout" method="post" action="logout"><button type="submit" id="logout">Log out
</button></form>
<h1>opendialer: live view <small id="time"></small></h1><div id="err"></div>
<h2>Campaigns</h2><table id="campaigns"><tr><th>Campaign</th><th>Mode</th><th>Status</th>
<th>In flight</th><th>Attempts</th><th>Connected</th><th>Abandoned</th><th>Abandon rate</th>
<th>Pacing</th></tr></table>
<h2>Agents <small id="ready"></small></h2><table id="agents"><tr><th>Agent</th><th>State</th>
<th>Voice</th><th>Call</th></tr></table>
<h2>Calls</h2><table id="calls"><tr><th>Attempt</th><th>Number</th><th>State</th><th>Agent</th>
<th>Seconds</th></tr></table>
<script>""" + SCRIPT + """</script></body></html>
"""

LOGIN = """<!doctype html>
<html><head><meta charset="utf-8"><title>opendialer - log in</title>
<style>""" + STYLE + """</style></head>
<body><h1>opendialer supervisor</h1>{error}
<form method="post" action="login"><p><label>User <input name="user" id="user"></label></p>
<p><label>Password <input type="password" name="password" id="password"></label></p>
<p><button type="submit" id="submit">Log in</button></p></form></body></html>
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# the page's own inline script and style, and nothing else; no framing, no foreign requests
CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
       "connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
           "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}
WHERE_FORM, WHERE_BASIC = "supervisor page", "supervisor basic auth"


class SupervisorWeb:
    """Routes for the live view on an aiohttp application; one supervisor account."""

    def __init__(self, engine: Engine, user: str, password: str, guard: Guard | None = None,
                 sessions: Sessions | None = None) -> None:
        self.engine = engine
        self.user = user
        self.password = password
        self.guard = guard or Guard()
        self.sessions = sessions or Sessions()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_get("/status", self.status)
        app.router.add_get("/login", self.login_form)
        app.router.add_post("/login", self.login)
        app.router.add_post("/logout", self.logout)
        app.on_response_prepare.append(self._headers)

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path != "/agent":
            response.headers.update(HEADERS)

    def _check(self, user: str, password: str) -> bool:
        return hmac.compare_digest(user.encode(), self.user.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode())

    def _session(self, request: web.Request) -> bool:
        return self.sessions.valid(request.cookies.get(COOKIE), self.guard.clock())

    async def _basic(self, request: web.Request) -> web.Response | None:
        """None if the request carries the supervisor's HTTP Basic credentials, else the answer
        (401, or 429 while the address is held after failed logins)."""
        auth = request.headers.get("Authorization", "")
        peer = request.remote or "?"
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(
                    ":")
            except (ValueError, binascii.Error):
                user, password = "?", ""
            held = self.guard.held_for(peer, user)
            if held:
                refused(user, peer, WHERE_BASIC, "too many failed logins")
                return web.json_response(
                    {"error": "too many failed logins; try again later"}, status=429,
                    headers={"Retry-After": str(max(1, round(held)))})
            if self._check(user, password):
                self.guard.succeeded(peer, user)
                return None
            refused(user, peer, WHERE_BASIC, "wrong user or password")
            await asyncio.sleep(self.guard.failed(peer, user))
        return web.json_response({"error": "log in as the supervisor"}, status=401,
                                 headers={"WWW-Authenticate": 'Basic realm="opendialer"'})

    async def page(self, request: web.Request) -> web.StreamResponse:
        if not self._session(request) and await self._basic(request) is not None:
            raise web.HTTPFound("/login")
        return web.Response(text=PAGE, content_type="text/html")

    async def status(self, request: web.Request) -> web.StreamResponse:
        if not self._session(request):
            refusal = await self._basic(request)
            if refusal is not None:
                return refusal
        return web.json_response(await snapshot(self.engine))

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=LOGIN.replace("{error}", ""), content_type="text/html")

    async def login(self, request: web.Request) -> web.StreamResponse:
        peer = request.remote or "?"
        form = await request.post()
        user = str(form.get("user", ""))
        held = self.guard.held_for(peer, user)
        if held:
            refused(user, peer, WHERE_FORM, "too many failed logins")
            return self._login_page(f"Too many failed logins; try again in "
                                    f"{max(1, round(held))} s.", 429)
        if self._check(user, str(form.get("password", ""))):
            self.guard.succeeded(peer, user)
            token = self.sessions.open(self.guard.clock())
            resp = web.HTTPFound("/")
            resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                            max_age=int(self.sessions.ttl))
            raise resp
        refused(user, peer, WHERE_FORM, "wrong user or password")
        await asyncio.sleep(self.guard.failed(peer, user))
        return self._login_page("Wrong user or password.", 401)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.close(request.cookies.get(COOKIE))
        resp = web.HTTPFound("/login")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    @staticmethod
    def _login_page(error: str, status: int) -> web.Response:
        return web.Response(text=LOGIN.replace("{error}", f'<p id="error">{error}</p>'),
                            content_type="text/html", status=status)
