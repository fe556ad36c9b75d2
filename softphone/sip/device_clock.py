"""PJSIP's conference bridge ticked by the headset's own clock (one clock instead of two).

By default PJSIP's null sound device has a clock thread of its own that ticks the conference
bridge every frame, and the headset has another clock: a FIFO each way must then absorb the two
clocks' phase difference (0-20 ms each, ~20 ms both ways on average) and their jitter. With
`PjsuaStack(device_clock=True)` there is no PJSIP clock (`pjsua_set_no_snd_dev()`), and the agent's
`AudioBridge` ticks the conference from the headset's output callback: the tick hands the call's
received frame to the bridge, which plays it in the same callback (no speaker FIFO delay), and
takes the microphone's latest frame (only the input/output phase of one device remains).

pjsua2 does not expose the conference's master port, so this calls PJSIP's C API through ctypes:
`pjsua_set_no_snd_dev()` returns the master port, `pjmedia_port_get_frame()` on it runs one tick.
Every thread that ticks is registered with pjlib first (its assertions abort the process
otherwise). While the headset gives no ticks (no call, the stream still starting, unplugged), a
fallback thread ticks every frame in its place, so RTP keeps flowing.

One headset drives one stack's clock: a process with several agents keeps PJSIP's own clock.

After each tick the clock also looks at the call's jitter buffer (`watch_stream`, given the
pjmedia stream by pjsua2's `onStreamCreated`): a 10 ms frame left behind at a stream's start stays
for the whole call (PJSIP's discard never removes it), so when `JbTrim` finds such a standing
backlog the clock reads one frame from the stream's port and throws it away (jb_trim.py).
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from typing import Any

from pjsua2 import pjsua2 as _bindings  # type: ignore[import-untyped]

from softphone.sip.jb_trim import JbTrim

log = logging.getLogger(__name__)

PJMEDIA_FRAME_TYPE_AUDIO = 1
FALLBACK_AFTER_S = 0.06      # no tick from the device for this long: the fallback thread ticks


class _PjmediaFrame(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("buf", ctypes.c_void_p), ("size", ctypes.c_size_t),
                ("timestamp", ctypes.c_uint64), ("bit_info", ctypes.c_uint32)]


class _JbState(ctypes.Structure):
    """pjmedia_jb_state (pjmedia/jbuf.h of PJSIP 2.15: 15 unsigned ints; older releases have no
    max_count, checked against pjsua2's own JbufState on this wheel)."""

    _fields_ = [(name, ctypes.c_uint) for name in (
        "frame_size", "min_prefetch", "max_prefetch", "max_count", "burst", "prefetch", "size",
        "avg_delay",
        "min_delay", "max_delay", "dev_delay", "avg_burst", "lost", "discard", "empty")]


G711_JB_FRAME_BYTES = 80     # G.711's 10 ms frames in the jitter buffer
STREAM_FRAME_BYTES = 8192     # room for one frame of the stream's port, whatever the codec


class ConferenceClock:
    """Created on the pjsua thread after `libStart()`; `tick()` from the device's thread."""

    def __init__(self, ep: Any, frame_bytes: int, frame_ms: int) -> None:
        self._ep = ep
        self._lib = ctypes.CDLL(_bindings._pjsua2.__file__)
        self._lib.pjsua_set_no_snd_dev.restype = ctypes.c_void_p
        self._lib.pjmedia_port_get_frame.argtypes = [ctypes.c_void_p,
                                                     ctypes.POINTER(_PjmediaFrame)]
        self._lib.pjmedia_stream_get_stat_jbuf.argtypes = [ctypes.c_void_p,
                                                           ctypes.POINTER(_JbState)]
        self._lib.pjmedia_stream_get_port.argtypes = [ctypes.c_void_p,
                                                      ctypes.POINTER(ctypes.c_void_p)]
        self._master = self._lib.pjsua_set_no_snd_dev()
        if not self._master:
            raise RuntimeError("pjsua_set_no_snd_dev() gave no conference master port")
        self._buf = ctypes.create_string_buffer(frame_bytes)
        self._frame = _PjmediaFrame()
        self._frame_bytes = frame_bytes
        self._period = frame_ms / 1000
        self._lock = threading.Lock()
        self._closed = False
        self._last_device_tick = 0.0
        self.device_ticks = 0
        self.fallback_ticks = 0
        self.trim = JbTrim(per_tick=max(1, frame_ms // 10))
        self.trim_enabled = True     # (the benchmark turns it off to compare)
        self._stream: int | None = None
        self._stream_port: int | None = None
        self._jb = _JbState()
        self._drop = _PjmediaFrame()
        self._drop_buf = ctypes.create_string_buffer(STREAM_FRAME_BYTES)
        self._stop = threading.Event()
        self._fallback = threading.Thread(target=self._run_fallback, name="pjsua-clock",
                                          daemon=True)
        self._fallback.start()

    def tick(self) -> None:
        """One conference tick, driven by the headset (call from its output callback)."""
        self._last_device_tick = time.monotonic()
        self.device_ticks += 1
        self._tick()

    def watch_stream(self, stream: int | None) -> None:
        """The call's pjmedia stream (a pointer; None or 0: none) whose jitter buffer to trim.
        Call on the pjsua thread from `onStreamCreated`, and with None from `onStreamDestroyed`
        (before PJSIP frees it: the lock waits for a tick in progress)."""
        port = None
        if stream:
            out = ctypes.c_void_p()
            state = _JbState()
            ok = (self._lib.pjmedia_stream_get_port(stream, ctypes.byref(out)) == 0 and out.value
                  and self._lib.pjmedia_stream_get_stat_jbuf(stream, ctypes.byref(state)) == 0
                  and 0 < state.frame_size <= STREAM_FRAME_BYTES
                  and state.min_prefetch <= state.max_prefetch <= state.max_count
                  and state.prefetch <= state.max_count and state.size <= state.max_count)
            if not ok:
                log.warning("audio: the call's jitter buffer cannot be read (frame %d bytes, "
                            "prefetch %d..%d): not trimming it", state.frame_size,
                            state.min_prefetch, state.max_prefetch)
                stream = None
            elif state.frame_size != G711_JB_FRAME_BYTES:
                # only G.711 keeps 10 ms frames, two a packet (the case jb_trim.py is about)
                stream = None
            else:
                port = out.value
        with self._lock:
            self._stream = stream or None
            self._stream_port = port
            self.trim.reset()

    @property
    def watched_stream(self) -> int | None:
        return self._stream

    def close(self) -> None:
        """Stop ticking (before `libDestroy()`); later ticks do nothing."""
        self._stop.set()
        with self._lock:
            self._closed = True
        if self._fallback is not threading.current_thread():
            self._fallback.join(2)

    def _tick(self) -> None:
        with self._lock:
            if self._closed:
                return
            if not self._ep.libIsThreadRegistered():
                self._ep.libRegisterThread(threading.current_thread().name[:30])
            f = self._frame
            f.type = PJMEDIA_FRAME_TYPE_AUDIO
            f.buf = ctypes.cast(self._buf, ctypes.c_void_p)
            f.size = self._frame_bytes
            self._lib.pjmedia_port_get_frame(self._master, ctypes.byref(f))
            if self._stream is not None and self.trim_enabled:
                self._watch_jb()

    def _watch_jb(self) -> None:
        """After a tick (lock held): drop the jitter buffer's standing backlog (jb_trim.py)."""
        jb = self._jb
        if self._lib.pjmedia_stream_get_stat_jbuf(self._stream, ctypes.byref(jb)) != 0:
            return
        if self.trim.after_tick(jb.size, jb.prefetch, jb.empty):
            d = self._drop
            d.type = PJMEDIA_FRAME_TYPE_AUDIO
            d.buf = ctypes.cast(self._drop_buf, ctypes.c_void_p)
            d.size = STREAM_FRAME_BYTES
            self._lib.pjmedia_port_get_frame(self._stream_port, ctypes.byref(d))
            log.debug("audio: dropped a frame the jitter buffer held for nothing (%d frames)",
                      jb.size)

    def _run_fallback(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += self._period
            now = time.monotonic()
            if next_at < now - 10 * self._period:   # stalled: resynchronise, do not burst
                next_at = now
            self._stop.wait(max(0.0, next_at - now))
            if time.monotonic() - self._last_device_tick > FALLBACK_AFTER_S:
                self.fallback_ticks += 1
                try:
                    self._tick()
                except Exception:  # noqa: BLE001 - keep the clock alive
                    log.exception("audio: the fallback conference tick failed")
