"""Baseline: VICIdial's adaptive-predictive dial level (the ADAPT_* dial methods).

Sources: VICIdial ``docs/PREDICTIVE.txt`` ("PREDICTIVE Summary and Overview",
2006-08-29) and the code it describes, ``bin/AST_VDadapt.pl`` (subs
``calculate_dial_level`` and the per-second differential sampling) and
``bin/AST_VDauto_dial.pl`` (goal calls), read from public mirrors (e.g. GitHub
ccabrerar/vicidial, inktel/Vicidial).  Reproduced here:

* every second (each ``decide``) a sample of READY agents, calls waiting for an
  agent and logged-in agents;
* every 15 s: ``differential = avg(ready) - avg(waiting)`` over those samples, plus
  ``adaptive_dl_diff_target``; ``mul = differential / avg(agents)``; the intensity
  ``i`` (``adaptive_intensity / 100``) scales ``mul`` by ``1 + i`` when positive and by
  ``|i - 1|`` when negative; ``level = level x (1 + mul')``, capped at
  ``adaptive_maximum_level`` and raised to 1.0 if below;
* the drop-percentage rules, in the same order: if more than 20 calls were placed in
  the last minute and over 50 % of them dropped, halve the level; if more than 50
  calls were placed today and drops / live answers today exceed
  ``adaptive_dropped_percentage``: ADAPT_HARD_LIMIT sets 1.0, ADAPT_AVERAGE halves
  the level, ADAPT_TAPERED multiplies it by ``(latest HHMM - now HHMM) / 1000``
  (1 when more than 1000, i.e. ten hours, remain) or sets 1.0 past the latest time;
  finally the level never goes below 1.0 ("NOTE: With Predictive dialing, the
  dial_level will never drop below 1.0");
* calls to place = ``round(level x (READY + INCALL agents))`` minus every call up
  (ringing, waiting, and those with agents): AST_VDauto_dial.pl's ``goalcalls -
  existcalls``.  Agents in wrap-up count as neither (VICIdial agents dispositioning
  are PAUSED).

"Today" is the simulator's day: ``now // day_s``; server time of day is
``day_start_hhmm`` plus ``now mod day_s``.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from dialer.pacing.base import Pacer, counts
from dialer.pacing.events import (
    CallAbandoned,
    CallLaunched,
    Decision,
    PacingEvent,
    PacingMode,
    Snapshot,
)


class AdaptMethod(Enum):
    HARD_LIMIT = "ADAPT_HARD_LIMIT"
    TAPERED = "ADAPT_TAPERED"
    AVERAGE = "ADAPT_AVERAGE"


def hhmm(seconds_of_day: float) -> int:
    """Clock time as VICIdial's integer HHMM (e.g. 9:30 -> 930)."""
    minutes = int(seconds_of_day // 60) % (24 * 60)
    return (minutes // 60) * 100 + minutes % 60


def tapered_rate(latest_hhmm: int, now_hhmm: int) -> float:
    """ADAPT_TAPERED factor: ``(latest - now) / 1000`` in HHMM arithmetic, 1 above 1000."""
    left = latest_hhmm - now_hhmm
    return 1.0 if left > 1000 else left / 1000.0


class VicidialAdaptPacer(Pacer):
    """VICIdial adaptive dial level, recomputed every 15 s from ready vs waiting."""

    name = "vicidial_adapt"

    def __init__(
        self,
        method: str = "ADAPT_TAPERED",
        drop_limit: float = 0.03,
        max_level: float = 3.0,
        start_level: float = 1.0,
        intensity: float = 0.0,
        dl_diff_target: float = 0.0,
        latest_hhmm: int = 1700,
        day_start_hhmm: int = 900,
        day_s: float = 86400.0,
        update_every: float = 15.0,
    ) -> None:
        super().__init__()
        self.method = AdaptMethod(method)
        self.drop_limit = drop_limit
        self.max_level = max_level
        self.level = max(1.0, start_level)
        self.intensity = intensity
        self.dl_diff_target = dl_diff_target
        self.latest_hhmm = latest_hhmm
        self.day_start_s = (day_start_hhmm // 100) * 3600.0 + (day_start_hhmm % 100) * 60.0
        self.day_s = day_s
        self.update_every = update_every
        self._samples: list[tuple[int, int, int]] = []
        self._next_update: float | None = None
        self._day = -1
        self._day_calls = 0
        self._day_lives0 = 0
        self._day_drops0 = 0
        self._minute: deque[tuple[float, bool]] = deque()  # (time, dropped?) per event
        self.last_rule = "start"

    def observe(self, event: PacingEvent, now: float) -> None:
        super().observe(event, now)
        if isinstance(event, CallLaunched):
            self._roll_day(now)
            self._day_calls += 1
            self._minute.append((now, False))
        elif isinstance(event, CallAbandoned):
            self._minute.append((now, True))

    def _roll_day(self, now: float) -> None:
        day = int(now // self.day_s)
        if day != self._day:
            self._day = day
            self._day_calls = 0
            self._day_lives0 = self.lives
            self._day_drops0 = self.abandons

    def server_hhmm(self, now: float) -> int:
        return hhmm(self.day_start_s + now % self.day_s)

    def _update_level(self, now: float) -> None:
        s = self._samples
        n = len(s) or 1
        avg_ready = sum(x[0] for x in s) / n
        avg_wait = sum(x[1] for x in s) / n
        avg_agents = sum(x[2] for x in s) / n
        self._samples = []
        diff = avg_ready - avg_wait + self.dl_diff_target
        mul = diff / avg_agents if diff != 0 and avg_agents != 0 else 0.0
        i = self.intensity / 100.0
        adj = mul * abs(i - 1.0) if mul < 0 else mul * (i + 1.0)
        level = min(self.level * (1.0 + adj), self.max_level)
        level = max(level, 1.0)
        rule = "differential"
        while self._minute and self._minute[0][0] < now - 60.0:
            self._minute.popleft()
        calls_one = sum(1 for _, dropped in self._minute if not dropped)
        drops_one = len(self._minute) - calls_one
        if calls_one > 20 and drops_one / calls_one > 0.5:
            level /= 2.0
            rule = "drops over 50% last minute"
        lives = self.lives - self._day_lives0
        drops = self.abandons - self._day_drops0
        if self._day_calls > 50 and lives and drops / lives > self.drop_limit:
            rule = f"{self.method.value} drop rate over limit today"
            if self.method is AdaptMethod.HARD_LIMIT:
                level = 1.0
            elif self.method is AdaptMethod.AVERAGE:
                level /= 2.0
            else:
                rate = tapered_rate(self.latest_hhmm, self.server_hhmm(now))
                level = 1.0 if rate < 0 else level * rate
        self.level = max(level, 1.0)
        self.last_rule = rule

    def decide(self, snapshot: Snapshot, now: float) -> Decision:
        self._roll_day(now)
        ready, incall, _, ringing, waiting = counts(snapshot)
        self._samples.append((ready, waiting, len(snapshot.agents)))
        if self._next_update is None:
            self._next_update = now + self.update_every
        elif now >= self._next_update:
            self._update_level(now)
            self._next_update = now + self.update_every
        goal = round(self.level * (ready + incall))
        launch = goal - ringing - waiting - incall
        return self._record(
            launch, PacingMode.PREDICTIVE,
            f"{self.method.value}: level x (ready + incall) - calls up; last {self.last_rule}",
            now,
            {"level": self.level, "ready": ready, "incall": incall, "ringing": ringing,
             "waiting": waiting, "abandon_rate": self.abandon_rate},
        )
