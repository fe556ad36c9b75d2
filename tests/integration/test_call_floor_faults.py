"""The call floor under faults, seen from outside: Asterisk killed and brought back, the database
file write-locked by another process for 40 s, and an agent's logout while predictive calls ring.

Black-box: the tests look only at what an operator or an agent has (ARI's channels and bridges,
the supervisor's status JSON, each agent's link messages, the database), never at the engine's
objects, so they hold for any engine that keeps the contract of design.md. Each test collects
every failed check and fails once with all of them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import pytest

from dialer.config.settings import Settings
from dialer.core.campaign import CampaignStatus
from dialer.db import repository as repo
from dialer.db.campaigns import set_campaign_status
from dialer.pbx import Backend
from dialer.qa.carrier_plan import Behaviour, number_for
from tests.integration.dialer_env import LINK_PORT, SUPERVISOR, DialerEnv, dialer_env, password
from tests.integration.floor_watch import (
    FloorAgent,
    Watch,
    WriteLock,
    collecting,
    ghosts,
    kill_pbx_asterisk,
    pbx_running,
    stored_attempts,
    wait_until,
    wall,
)

pytestmark = pytest.mark.pbx

STATUS_URL = f"http://127.0.0.1:{LINK_PORT}/status"
SEATS = [1016, 1017]
AREAS = ("212", "305", "415")
# A customer who answers must hear an agent within this (the legal limit counts from the answer).
CONNECT_LIMIT_S = 2.0


def customers(count: int, ring_s: int, talk_s: int) -> list[str]:
    return [number_for(Behaviour.ANSWER, ring_s, talk_s, tag=i % 10, area_code=AREAS[i // 10])
            for i in range(count)]


async def floor_up(env: DialerEnv, seats: list[int], ready: list[int] | None = None
                   ) -> list[FloorAgent]:
    """Agents logged in with their voice channel up; those in `ready` (default all) ready."""
    ready = seats if ready is None else ready
    agents = [FloorAgent(env.url, f"agent{s}", password(s), go_ready=s in ready).start()
              for s in seats]
    up = await wait_until(lambda: all(a.voice and (a.state == "ready") == a.go_ready
                                      for a in agents), 25, agents=agents)
    assert up, {a.login: a.types() for a in agents}
    return agents


async def wind_down(env: DialerEnv, agents: list[FloorAgent]) -> repo.CampaignSummary:
    """Stop the campaign, let the calls still up end and be dispositioned, then the agents go."""
    set_campaign_status(env.db, env.campaign_id, CampaignStatus.STOPPED)
    summary = await env.settled(tries=100)
    for _ in range(50):     # the last dispositions may follow the attempts' end
        if sum(summary.dispositions.values()) >= summary.connected:
            break
        await asyncio.sleep(0.2)
        summary = repo.campaign_summary(env.db, env.campaign_id)
    for a in agents:
        await a.stop()
    return summary


def since(t0: float, t: float | None) -> str:
    return "never" if t is None else f"+{t - t0:.1f} s"


# ---------------------------------------------------------------------------------------------
async def test_asterisk_killed_mid_campaign_then_brought_back(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    """kill -9 of the PBX's Asterisk while two agents talk to customers, then `pbx up` as an
    operator would. Within 30 s of the PBX answering again: every agent has a voice channel
    again (told on the link, and Asterisk has it) without logging in again, new answers are
    bridged, the calls that were up are over with a stored result, and the supervisor's status
    shows nothing Asterisk does not have."""
    async with dialer_env(settings, tmp_path, SEATS, customers(24, 1, 6)) as env:
        with Watch(settings) as watch:
            agents = await floor_up(env, SEATS)
            try:
                set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
                assert await wait_until(lambda: len(watch.bridged()) >= 2, 30, agents=agents), \
                    f"no two customers bridged before the fault: {watch.bridged()}"
                up_at_kill = [a.id for a in stored_attempts(env.db, env.campaign_id)
                              if a.result is None]
                t_kill = time.monotonic()
                kill_pbx_asterisk(pbx)
                await asyncio.sleep(1.0)
                await asyncio.to_thread(pbx.up)
                t_up = time.monotonic()
                t_new = wall(t_up)

                def new_attempts() -> list[int]:
                    return [a.id for a in stored_attempts(env.db, env.campaign_id)
                            if a.started_at >= t_new]

                def recovered() -> bool:
                    ended = {a.id for a in stored_attempts(env.db, env.campaign_id)
                             if a.result is not None}
                    return (all(a.voice_back(t_kill) for a in agents)
                            and all(watch.agent_channel_up(s, t_up) for s in SEATS)
                            and all(a.first("call_connected", t_up) for a in agents)
                            and len(watch.bridged(t_up)) >= 2
                            and set(up_at_kill) <= ended)

                await wait_until(recovered, 30, agents=agents)
                t_check = time.monotonic()
                ghost = await ghosts(settings, env.db, STATUS_URL, SUPERVISOR)
                stored = {a.id: a for a in stored_attempts(env.db, env.campaign_id)}
                with collecting() as problems:
                    for a, seat in zip(agents, SEATS, strict=True):
                        back = a.voice_back(t_kill)
                        if back is None:
                            problems.append(f"{a.login}: no `channel` connected on the link "
                                            f"after the restart; got {a.types(t_kill)}")
                        if watch.agent_channel_up(seat, t_up) is None:
                            problems.append(f"{a.login}: Asterisk has no channel of its phone "
                                            "in the 30 s after the restart")
                        if a.first("call_connected", t_up) is None:
                            problems.append(f"{a.login}: no call connected after the restart")
                        if a.logins != 1 or (a.task is not None and a.task.done()):
                            problems.append(f"{a.login}: the session did not survive "
                                            f"(logins {a.logins}, link closed "
                                            f"{a.task is not None and a.task.done()})")
                        if a.first("logout_authorized"):
                            problems.append(f"{a.login}: was logged out")
                    bridged_after = watch.bridged(t_up)
                    if len(bridged_after) < 2:
                        problems.append(f"{len(bridged_after)} customers bridged to an agent in "
                                        "Asterisk in the 30 s after the restart (want >= 2)")
                    new = [stored[i] for i in new_attempts()]
                    if not any(a.bridged_at is not None or "bridged" in a.phases for a in new):
                        problems.append(f"none of the {len(new)} attempts dialed after the "
                                        "restart was bridged: "
                                        f"{[(a.id, a.result) for a in new]}")
                    if abandoned := [a.id for a in new if a.result == "abandoned"]:
                        problems.append(f"attempts abandoned after the restart (progressive "
                                        f"never abandons): {abandoned}")
                    if still_open := [i for i in up_at_kill if stored[i].result is None]:
                        problems.append(f"calls up when Asterisk died still open "
                                        f"{t_check - t_up:.0f} s after it answered again: "
                                        f"{still_open} of {up_at_kill}")
                    problems.extend(f"supervisor status: {g}" for g in ghost)
                summary = await wind_down(env, agents)
                assert summary.open_attempts == 0, summary
            finally:
                for a in agents:
                    await a.stop()
                if not pbx_running(pbx):     # the tests after this one need the PBX
                    await asyncio.to_thread(pbx.up)


# ---------------------------------------------------------------------------------------------
async def test_database_write_locked_40s_mid_campaign(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    """Another process holds the SQLite file write-locked for 40 s (WAL: reads go on) while
    customers ring. Customers who answer during the lock are bridged at once; the supervisor's
    status keeps answering; after the lock every call Asterisk carried is a stored attempt with
    its events, none open once the campaign settles; the dialer dials on, and a fresh answer is
    bridged within the connect limit."""
    async with dialer_env(settings, tmp_path, SEATS, customers(24, 6, 3)) as env:
        with Watch(settings, STATUS_URL, SUPERVISOR) as watch:
            agents = await floor_up(env, SEATS)
            try:
                set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
                assert await wait_until(lambda: len(watch.ringing_customers()) >= 2, 20,
                                        agents=agents), "no two customers ringing"
                async with WriteLock(tmp_path / "dialer.sqlite3", 40) as lock:
                    released = await lock.wait()
                locked = lock.locked_at
                t_after = wall(released)
                fresh_answers: dict[str, float] = {}

                def fresh() -> dict[str, float]:
                    """Calls dialed after the lock: answer -> bridge (s), of those bridged."""
                    new = watch.customers_seen() - watch.customers_seen(until=released)
                    bridged = watch.bridged(released)
                    fresh_answers.update({c: t for c, t in watch.answered().items() if c in new})
                    return {c: bridged[c] - t for c, t in fresh_answers.items() if c in bridged}

                await wait_until(lambda: len(fresh()) >= 2, 20, agents=agents)
                latencies = fresh()
                summary = await wind_down(env, agents)
            finally:
                for a in agents:
                    await a.stop()
            stored = stored_attempts(env.db, env.campaign_id)
            answered = watch.answered()
            bridged = watch.bridged()
            status = watch.status_answers(locked + 1, released - 1)
            seen = watch.customers_seen()
        with collecting() as problems:
            during = {c: t for c, t in answered.items() if locked <= t <= released - 3}
            if not during:
                problems.append("no customer answered during the lock: the test proves nothing "
                                f"(answers at {[since(locked, t) for t in answered.values()]})")
            for c, t in during.items():
                b = bridged.get(c)
                if b is None or b - t > CONNECT_LIMIT_S:
                    problems.append(f"customer {c} answered at {since(locked, t)} into the "
                                    f"lock, bridged to an agent {since(locked, b)}")
            if unanswered := [s for s in status if s.took is None]:
                problems.append(f"the supervisor's status did not answer {len(unanswered)} of "
                                f"{len(status)} reads during the lock")
            # every call Asterisk carried is a stored attempt with its events
            by_channel = {a.channel_id: a for a in stored if a.channel_id}
            if len(by_channel) == len(stored):
                if lost := seen - set(by_channel):
                    problems.append(f"calls seen in Asterisk with no stored attempt: {lost}")
            elif len(seen) > len(stored):
                problems.append(f"{len(seen)} customer calls seen in Asterisk, "
                                f"{len(stored)} attempts stored")
            for att in stored:
                if att.result is None:
                    problems.append(f"attempt {att.id} still open after the campaign settled")
                if "originated" not in att.phases:
                    problems.append(f"attempt {att.id} has no `originated` event: {att.phases}")
                if att.channel_id in bridged and not (
                        att.result in ("answered_human", "dropped_by_customer")
                        and "bridged" in att.phases and "answered" in att.phases):
                    problems.append(f"attempt {att.id} was bridged in Asterisk but is stored as "
                                    f"{att.result} with events {att.phases}")
            if summary.open_attempts or sum(summary.dispositions.values()) != summary.connected:
                problems.append(f"after settling: {summary}")
            if summary.abandoned:
                problems.append(f"{summary.abandoned} abandoned (progressive never abandons)")
            after = [att for att in stored if att.started_at >= t_after]
            if len(after) < 2:
                problems.append(f"{len(after)} attempts dialed after the lock (want >= 2)")
            if len(latencies) < 2:
                problems.append(f"{len(latencies)} customers dialed after the lock were bridged "
                                f"(want >= 2; answered: {len(fresh_answers)})")
            if slow := {c: round(s, 2) for c, s in latencies.items() if s > CONNECT_LIMIT_S}:
                problems.append(f"answered after the lock, bridged late (s): {slow}")


# ---------------------------------------------------------------------------------------------
async def test_predictive_logout_waits_for_the_calls_counted_on_the_agent(
        pbx: Backend, settings: Settings, tmp_path: Path) -> None:
    """Predictive, one ready agent and one not ready. While the calls the pacer launched for the
    ready agent ring (9 s before the customer answers), that agent asks to log out: it gets
    `logout_pending` with a deadline within `max_logout_delay`, leaves the pool at once (nothing
    more is dialed), then `logout_authorized` (at the deadline, or earlier once those calls end,
    or after the disposition of one that connected in time). The agent with nothing in flight
    is logged out at once."""
    delay = 15.0
    ready_seat, idle_seat = SEATS
    async with dialer_env(settings, tmp_path, SEATS, customers(8, 9, 3), mode="predictive",
                          logout_delay=f"{delay:.0f}s") as env:
        with Watch(settings) as watch:
            agents = await floor_up(env, SEATS, ready=[ready_seat])
            busy, idle = agents
            try:
                set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
                assert await wait_until(lambda: watch.ringing_customers(), 15, agents=agents), \
                    "the pacer launched no call for the ready agent"
                ringing = watch.ringing_customers()
                t_busy = await busy.logout()
                await wait_until(lambda: busy.first("logout_pending", t_busy)
                                 or busy.first("logout_authorized", t_busy), 3, agents=agents)
                t_idle = await idle.logout()
                await wait_until(lambda: idle.first("logout_authorized", t_idle), 3,
                                 agents=[busy])
                await wait_until(lambda: busy.first("logout_authorized", t_busy),
                                 delay + 15, agents=[])
                summary = await wind_down(env, agents)
            finally:
                for a in agents:
                    await a.stop()
        stored = stored_attempts(env.db, env.campaign_id)
        with collecting() as problems:
            idle_done = idle.first("logout_authorized", t_idle)
            if idle_done is None or idle_done[0] - t_idle > 2.0:
                problems.append(f"{idle.login} (not ready, nothing in flight) was not logged "
                                f"out at once: {since(t_idle, idle_done and idle_done[0])}; "
                                f"got {idle.types(t_idle)}")
            if idle.first("logout_pending", t_idle):
                problems.append(f"{idle.login} got logout_pending with nothing in flight")
            pending = busy.first("logout_pending", t_busy)
            done = busy.first("logout_authorized", t_busy)
            if pending is None:
                problems.append(f"{busy.login} asked to log out while {len(ringing)} call(s) "
                                f"launched for it rang, and got no logout_pending; got "
                                f"{busy.types(t_busy)}")
            else:
                t_p, msg = pending
                if t_p - t_busy > 2.0:
                    problems.append(f"logout_pending came {t_p - t_busy:.1f} s after the ask")
                remaining = msg.get("remaining_s")
                if not isinstance(remaining, (int, float)) or not 0 < remaining <= delay + 0.5:
                    problems.append(f"logout_pending remaining_s {remaining!r}, want within "
                                    f"(0, {delay}]")
                try:
                    deadline = datetime.fromisoformat(msg["deadline"])
                    left = (deadline - wall(t_p)).total_seconds()
                    if not -1.0 < left <= delay + 1.0:
                        problems.append(f"logout_pending deadline {msg['deadline']} is "
                                        f"{left:.1f} s away, want within {delay} s")
                except (KeyError, TypeError, ValueError) as exc:
                    problems.append(f"logout_pending without a readable deadline: {exc}: {msg}")
                if done is not None and done[0] < t_p:
                    problems.append("logout_authorized came before logout_pending")
            if done is None:
                problems.append(f"{busy.login} never got logout_authorized "
                                f"({delay + 15:.0f} s after asking): {busy.types(t_busy)}")
            else:
                connected = busy.first("call_connected", t_busy)
                saved = busy.first("disposition_saved", t_busy)
                if connected is not None and (saved is None or saved[0] > done[0]):
                    problems.append(f"{busy.login} was authorized before the disposition of the "
                                    "call that connected while logout was pending")
                if connected is None and done[0] - t_busy > delay + 2.0:
                    problems.append(f"logout authorized {done[0] - t_busy:.1f} s after asking, "
                                    f"past the {delay:.0f} s deadline with no call to handle")
            # the agent left the pool at once: nothing dialed after the ask
            late = [att.id for att in stored if att.started_at > wall(t_busy + 1.0)]
            if late:
                problems.append(f"attempts dialed after the only ready agent asked to log out: "
                                f"{late}")
            if summary.open_attempts:
                problems.append(f"attempts left open: {summary}")
