"""The live dialer's trunks: which trunk each customer call leaves by, and how many calls fit.

A campaign names its trunks, preferred first (`trunk = ["carrier-reg", "carrier"]` in its TOML).
Each call leaves by the first of them that is under its `max_channels` and not marked failed. A
call that fails with a trunk fault (congestion, unreachable: `dialer.config.trunks.fault_of`) is
dialed again, as the same attempt, through the next trunk it has not tried. A trunk is marked
failed (and skipped by every call for `hold_off` seconds) after `faults_to_fail` faults in a row
with no call carried in between: one 503 can be the carrier's answer for one destination, three
in a row are the trunk, and dialing on through a dead trunk would only burn the list's attempts.
Pacing never launches more calls than the campaign's trunks have free channels.

The caller ID a customer sees is the campaign's, or when the campaign sets none, the trunk's.

`LiveTrunks` reads `config/trunks.toml` (or OPENDIALER_TRUNKS) at start and again whenever the file
changes; a file that no longer checks out is refused with its error logged, and the trunks in use
stay as they were (as `dialer trunk reload` refuses it before the PBX sees it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from dialer.config.settings import Settings
from dialer.config.trunks import Trunk, TrunkError, load_trunks, trunks_path
from dialer.core.trunk_faults import TrunkFault, TrunkSelector
from dialer.pbx.render import values

log = logging.getLogger(__name__)


class LiveTrunks:
    def __init__(self, trunks: Sequence[Trunk], hold_off: float = 30.0,
                 loader: Callable[[], list[Trunk]] | None = None,
                 path: Path | None = None, faults_to_fail: int = 3) -> None:
        self.hold_off = hold_off
        self.faults_to_fail = faults_to_fail
        self._faults: dict[str, int] = {}
        self._loader = loader
        self._path = path
        self._stamp = self._file_stamp()
        self._set(trunks)
        self.selector = TrunkSelector.for_trunks(trunks, hold_off)
        self.last_error: str | None = None

    @classmethod
    def from_file(cls, path: Path, loader: Callable[[], list[Trunk]],
                  hold_off: float = 30.0) -> LiveTrunks:
        """Load through `loader` (raises TrunkError naming the field) and watch `path`."""
        return cls(loader(), hold_off, loader, path)

    def _set(self, trunks: Sequence[Trunk]) -> None:
        self.trunks: dict[str, Trunk] = {t.name: t for t in trunks}

    def _file_stamp(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def reload_if_changed(self) -> bool:
        """Re-read the trunks file if it changed since the last look. True if new trunks apply."""
        if self._loader is None:
            return False
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            trunks = self._loader()
        except TrunkError as exc:
            self.last_error = str(exc)
            log.error("trunks not reloaded, the ones in use stay: %s", exc)
            return False
        self.last_error = None
        self._set(trunks)
        # new caps; the selector keeps its failure marks (a removed trunk's is never asked for)
        self.selector.max_channels = {t.name: t.max_channels for t in trunks}
        log.info("trunks reloaded: %s", ", ".join(self.trunks))
        return True

    # ------------------------------------------------------------------ per campaign
    @staticmethod
    def order(trunk_field: str) -> list[str]:
        """A campaign's trunks, preferred first, from its stored `trunk` field."""
        return [n.strip() for n in trunk_field.split(",") if n.strip()]

    def unknown(self, order: Sequence[str]) -> list[str]:
        return [n for n in order if n not in self.trunks]

    def free_channels(self, order: Sequence[str], in_use: Mapping[str, int], now: float) -> int:
        known = [n for n in order if n in self.trunks]
        return self.selector.free_channels(known, in_use, now)

    def pick(self, order: Sequence[str], in_use: Mapping[str, int], now: float,
             exclude: Collection[str] = ()) -> str | None:
        known = [n for n in order if n in self.trunks]
        return self.selector.select(known, in_use, now, exclude)

    def caller_id(self, trunk: str, campaign_caller_id: str) -> str:
        if campaign_caller_id:
            return campaign_caller_id
        t = self.trunks.get(trunk)
        return (t.caller_id or "") if t is not None else ""

    def fault(self, trunk: str, fault: TrunkFault, now: float) -> bool:
        """A call through `trunk` failed with `fault`; True if the trunk is now marked failed."""
        if trunk not in self.trunks:
            return False
        self._faults[trunk] = self._faults.get(trunk, 0) + 1
        if self._faults[trunk] < self.faults_to_fail:
            return False
        self._faults[trunk] = 0
        self.selector.mark_failed(trunk, fault, now)
        log.warning("trunk %s: %d %s faults in a row, skipped for %.0f s", trunk,
                    self.faults_to_fail, fault.value, self.hold_off)
        return True

    def carried(self, trunk: str) -> None:
        """A call through `trunk` was carried (answered, or ended by the far end's own answer)."""
        self._faults.pop(trunk, None)

    def describe(self, order: Sequence[str], in_use: Mapping[str, int], now: float) -> str:
        """Each trunk's use in words, for the pacing decision and `dialer why`."""
        parts = []
        for name in order:
            t = self.trunks.get(name)
            if t is None:
                parts.append(f"{name}: not in the trunks file")
            elif self.selector.is_failed(name, now):
                f = self.selector.failures(now)[name]
                parts.append(f"{name}: {f.fault.value}, skipped {f.until - now:.0f} s more")
            else:
                parts.append(f"{name}: {in_use.get(name, 0)}/{t.max_channels}")
        return "; ".join(parts)


def live_trunks(settings: Settings, hold_off: float = 30.0) -> LiveTrunks:
    """The trunks file the PBX was rendered from (OPENDIALER_TRUNKS or config/trunks.toml),
    checked now (TrunkError names the field) and watched for changes."""
    path = trunks_path()
    return LiveTrunks.from_file(path, lambda: load_trunks(path, values(settings)), hold_off)
