"""When to drop the stale frames PJSIP's jitter buffer keeps after each tick. Pure.

With the headset ticking the conference (device_clock.py), each tick takes one 20 ms frame from
the call's jitter buffer, which holds G.711 in 10 ms frames (two per packet). A tick that ran
while a packet was half put (the media thread puts its two frames one at a time), or a burst of
ticks at a stream's start, leaves one 10 ms frame behind; from then on every tick plays half an
old packet and half a new one, 10 ms later than it could. PJSIP's progressive discard does not
remove it: it resets its schedule whenever the buffer is no deeper than its burst level, which
it is after the first of each packet's two frames (measured: the backlog stayed for whole calls,
`discard=0`; docs/sip-ua.md).

`JbTrim(per_tick).after_tick(size, prefetch, empty)` is told, after every tick, how many frames
the buffer still holds, PJSIP's own prefetch (how many frames it waits for after running empty:
its estimate of the network's bursts) and its count of empty gets. After a tick, a buffer that
PJSIP filled to its prefetch keeps `prefetch - per_tick` frames at most (`per_tick`: the frames
one tick takes, 2 for G.711's 10 ms frames in 20 ms ticks). If, for a whole `window` of ticks
after the first `settle` ones, it never held fewer than `floor` frames with `floor` above that,
and never ran empty, those frames are delay nobody asked for. The drop (one tick's worth) must
come at a tick after which the buffer holds just those stale frames, not yet the next packet:
the drop then takes the stale frames and an empty get (concealed, never played), and the next
packet starts on a tick. So after a stale window it waits (up to another window) for a tick that
leaves just `floor` frames, answers True there, once, and starts a new window.
"""

from __future__ import annotations


class JbTrim:
    def __init__(self, per_tick: int = 2, window: int = 50, settle: int = 150) -> None:
        if per_tick < 1 or window < 1 or settle < 0:
            raise ValueError(f"need per_tick >= 1 (got {per_tick}), window >= 1 (got {window}) "
                             f"and settle >= 0 (got {settle})")
        self.per_tick = per_tick
        self.window = window
        self.settle = settle
        self.trims = 0
        self._ticks = 0
        self._seen = 0
        self._floor: int | None = None
        self._empty: int | None = None
        self._prefetch = 0
        self._armed: int | None = None
        self._armed_ticks = 0

    def reset(self) -> None:
        """A new stream: settle again."""
        self._ticks = 0
        self._armed = None
        self._empty = None
        self._restart()

    def _restart(self) -> None:
        self._seen = 0
        self._floor = None
        self._prefetch = 0

    def after_tick(self, size: int, prefetch: int, empty: int) -> bool:
        self._ticks += 1
        if self._ticks <= self.settle:
            return False
        if self._empty is not None and empty != self._empty:   # it ran dry: nothing stale
            self._armed = None
            self._restart()
        if self._armed is not None:
            self._armed_ticks += 1
            if size == self._armed:
                self._armed = None
                self.trims += 1
                self._restart()
                return True
            if size < self._armed or self._armed_ticks >= self.window:
                self._armed = None
        self._empty = empty
        self._floor = size if self._floor is None else min(self._floor, size)
        self._prefetch = max(self._prefetch, prefetch)
        self._seen += 1
        if self._seen < self.window:
            return False
        if self._floor > max(0, self._prefetch - self.per_tick):
            self._armed = self._floor
            self._armed_ticks = 0
        self._restart()
        return False
