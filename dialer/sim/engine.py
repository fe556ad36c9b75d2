"""Discrete-event campaign simulator driving a real :class:`~dialer.pacing.Pacer`.

Owns simulated time (a heap of events; no wall clock), the agents and the calls in
flight.  Every ``tick_s`` it builds a :class:`Snapshot`, asks the pacer how many calls
to launch, draws each call's outcome, and feeds the pacer the same facts the live
dialer would (launch, answer, failure, connect, abandon, talk end, wrap-up end).

A live answer takes the longest-idle READY agent; if none is READY it waits in a FIFO
queue for at most ``connect_limit`` seconds (an agent finishing wrap-up serves the
queue first) and is abandoned otherwise.  Days are 8 h shifts of the same campaign:
the pacer object and its estimates persist from day to day, every agent starts the
shift READY; at the end of the shift no new call is launched, the calls still up are
played out (their abandons count) and busy time is clipped to the shift.
Deterministic for a given seed: one ``random.Random(seed)`` draws everything.
"""

from __future__ import annotations

import heapq
import random

from dialer.pacing.base import Pacer
from dialer.pacing.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentState,
    AgentView,
    AnswerKind,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    CallLaunched,
    CallState,
    CallView,
    FailReason,
    Snapshot,
    TalkEnded,
    WrapUpEnded,
)
from dialer.sim.metrics import HOLD_BIN, DayStats, RunResult, Timeline
from dialer.sim.oracle import OraclePacer
from dialer.sim.scenario import Outcome, OutcomeDrawer, Scenario

_TICK, _RESOLVE, _ABANDON, _TALK_END, _WRAP_END = range(5)
DAY_S = 86400.0  # simulated day d starts at now = d * DAY_S


def simulate(
    scenario: Scenario, pacer: Pacer, seed: int, record_timeline: bool = False
) -> RunResult:
    """Run ``scenario.days`` shifts with ``pacer``; deterministic given ``seed``."""
    rng = random.Random(seed)
    draw = OutcomeDrawer(scenario, rng)
    result = RunResult(days=[])
    for day in range(scenario.days):
        stats, timeline = _Day(scenario, pacer, draw, day, record_timeline).run()
        result.days.append(stats)
        if timeline is not None:
            result.timelines.append(timeline)
    return result


class _Day:
    """One shift: the event loop and its state."""

    def __init__(
        self, sc: Scenario, pacer: Pacer, draw: OutcomeDrawer, day: int, record_timeline: bool
    ) -> None:
        self.sc = sc
        self.pacer = pacer
        self.oracle = pacer if isinstance(pacer, OraclePacer) else None
        self.draw = draw
        self.day = day
        self.t0 = day * DAY_S
        self.end = self.t0 + sc.shift_s
        self.stats = DayStats(agent_s=sc.agents * sc.shift_s,
                              hold_hist=[0] * (int(sc.connect_limit / HOLD_BIN) + 2))
        n_min = int(sc.shift_s // 60) + 1
        self.tl = Timeline([0.0] * n_min, [0] * n_min, [0] * n_min) if record_timeline else None
        self.heap: list[tuple[float, int, int, int, float]] = []
        self.seq = 0
        self.agents: dict[int, AgentView] = {}
        self.ready: list[int] = []  # FIFO of READY agents (longest idle first)
        self.ready_head = 0
        self.free_at: dict[int, float] = {}
        self.calls: dict[int, CallView] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.queue: list[int] = []  # live calls waiting for an agent, FIFO
        self.queue_head = 0
        self.answered_at: dict[int, float] = {}
        self.talk_len: dict[int, float] = {}
        self.wrap_len: dict[int, float] = {}
        self.next_call = day * 10_000_000

    def push(self, t: float, kind: int, ident: int, extra: float = 0.0) -> None:
        heapq.heappush(self.heap, (t, self.seq, kind, ident, extra))
        self.seq += 1

    def run(self) -> tuple[DayStats, Timeline | None]:
        sc, t0, observe = self.sc, self.t0, self.pacer.observe
        for ag in range(sc.agents):
            self.agents[ag] = AgentView(ag, AgentState.READY, t0)
            self.ready.append(ag)
            observe(AgentLoggedIn(ag), t0)
        self.push(t0, _TICK, 0)
        heap = self.heap
        while heap:
            now, _, kind, ident, extra = heapq.heappop(heap)
            if kind == _TICK:
                self.tick(now)
            elif kind == _RESOLVE:
                self.resolve(ident, extra, now)
            elif kind == _ABANDON:
                if ident in self.answered_at:
                    del self.answered_at[ident]
                    del self.calls[ident]
                    self.stats.abandons += 1
                    if self.tl is not None:
                        self.tl.abandons[self.minute(now - self.sc.connect_limit)] += 1
                    observe(CallAbandoned(ident, self.sc.connect_limit), now)
            elif kind == _TALK_END:
                self.agents[ident] = AgentView(ident, AgentState.WRAP_UP, now)
                self.push(now + self.wrap_len[ident], _WRAP_END, ident)
                observe(TalkEnded(ident, self.talk_len[ident]), now)
            else:
                self.wrap_end(ident, now)
        for ag in range(sc.agents):
            observe(AgentLoggedOut(ag), max(self.end, now))
        return self.stats, self.tl

    def minute(self, t: float) -> int:
        return min(int((t - self.t0) // 60), len(self.tl.busy_s) - 1) if self.tl else 0

    def tick(self, now: float) -> None:
        if now >= self.end:
            return
        if self.oracle is not None:
            self.oracle.see_future(self.free_at)
        snap = Snapshot(agents=tuple(self.agents.values()), calls=tuple(self.calls.values()))
        n = self.pacer.decide(snap, now).launch
        if n > 0:
            rate = self.sc.live_rate_at(self.day * self.sc.shift_s + (now - self.t0))
            self.stats.dials += n
            for _ in range(n):
                cid = self.next_call
                self.next_call += 1
                outcome, dt = self.draw.contact(rate)
                self.calls[cid] = CallView(cid, CallState.RINGING, now, now)
                self.outcomes[cid] = outcome
                self.push(now + dt, _RESOLVE, cid, dt)
                self.pacer.observe(CallLaunched(cid), now)
        self.push(now + self.sc.tick_s, _TICK, 0)

    def resolve(self, cid: int, ring: float, now: float) -> None:
        observe = self.pacer.observe
        outcome = self.outcomes.pop(cid)
        if outcome is not Outcome.LIVE:
            del self.calls[cid]
            if outcome is Outcome.MACHINE:
                self.stats.machines += 1
                observe(CallAnswered(cid, AnswerKind.MACHINE, ring), now)
            elif outcome is Outcome.FAILED:
                observe(CallFailed(cid, FailReason.BUSY, ring), now)
            else:
                observe(CallFailed(cid, FailReason.NO_ANSWER, ring), now)
            return
        self.stats.lives += 1
        if self.tl is not None:
            self.tl.lives[self.minute(now)] += 1
        observe(CallAnswered(cid, AnswerKind.LIVE, ring), now)
        self.answered_at[cid] = now
        while self.ready_head < len(self.ready):
            agent = self.ready[self.ready_head]
            self.ready_head += 1
            if self.agents[agent].state is AgentState.READY:
                self.connect(cid, agent, now)
                return
        self.calls[cid] = CallView(cid, CallState.QUEUED, now, self.calls[cid].launched_at)
        self.queue.append(cid)
        self.push(now + self.sc.connect_limit, _ABANDON, cid)

    def wrap_end(self, agent: int, now: float) -> None:
        self.pacer.observe(WrapUpEnded(agent, self.wrap_len[agent]), now)
        self.free_at.pop(agent, None)
        while self.queue_head < len(self.queue):
            cid = self.queue[self.queue_head]
            self.queue_head += 1
            if cid in self.answered_at:
                self.connect(cid, agent, now)
                return
        self.agents[agent] = AgentView(agent, AgentState.READY, now)
        self.ready.append(agent)

    def connect(self, cid: int, agent: int, now: float) -> None:
        st, end = self.stats, self.end
        hold = now - self.answered_at.pop(cid)
        del self.calls[cid]
        talk = self.draw.talk()
        wrap = self.draw.wrap()
        self.talk_len[agent] = talk
        self.wrap_len[agent] = wrap
        self.agents[agent] = AgentView(agent, AgentState.TALKING, now)
        self.free_at[agent] = now + talk + wrap
        st.connected += 1
        st.hold_hist[min(int(hold / HOLD_BIN), len(st.hold_hist) - 1)] += 1
        b_end = min(now + talk + wrap, end)
        if b_end > now:
            st.busy_s += b_end - now
            st.talk_s += min(now + talk, end) - now
            tl = self.tl
            if tl is not None:
                m = int((now - self.t0) // 60)
                s = now
                while s < b_end:
                    nxt = min(self.t0 + (m + 1) * 60.0, b_end)
                    tl.busy_s[m] += nxt - s
                    s = nxt
                    m += 1
        self.push(now + talk, _TALK_END, agent)
        self.pacer.observe(CallConnected(cid, agent, hold), now)
