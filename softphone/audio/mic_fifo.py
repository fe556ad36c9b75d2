"""The microphone's FIFO, sample by sample: each frame sent is the newest the headset has. Pure.

The SIP side takes one 20 ms frame per conference tick; the headset hands its microphone in blocks
(5 ms from `SounddeviceAudio`). A FIFO of whole frames (`FrameFifo`) keeps the frame boundaries of
the device's first callback, so each frame waits for the tick by the phase between the input
stream and the tick: 0-20 ms, random for each call. This FIFO has no frame boundaries of its own:
a tick takes the oldest `frame` bytes, and the FIFO steers its level so that just before a tick it
holds one frame plus a small `lead` (the margin against a late callback):

- a window of `window` pops watches the level left after each pop; if even its lowest point is
  above the lead, the excess is cut out of the oldest audio once, with a short crossfade so
  the cut does not click (`trimmed_ms`); if its lowest point is below the lead (the streams
  started that way, or an underrun slipped the stream by less than the new lead), the oldest
  few ms are played twice, crossfaded, to make up the margin (`raised_ms`). A steady pair of
  streams thus settles at `lead` ms of delay plus the last block's phase to the tick (a few ms
  with 5 ms blocks), and a late block finds its margin there;
- a pop that finds less than a frame is short: what is there goes out, followed by a short fade
  to silence in place of the missing samples, so the stream slips by the missing part only (not
  by a frame). A run of short pops (the ticks that come in a burst after the process stalled)
  is one gap the listener hears: one underrun, and the lead grows by `step` (up to
  `max_lead`), so a device whose callbacks really are late gets the margin it needs. Underruns
  during the first `settle` pops (streams starting) are counted apart and do not grow the lead;
- after `relax` pops (60 s) without an underrun, if no tick in them came within a step of the
  bottom (the lead was a step more than they needed), the lead comes down a step again (not
  below where it started): an agent's call lasts a whole shift, and one busy minute of the PC
  should not cost delay for the rest of it, but a device that keeps using its margin keeps it;
- a push that would hold more than `max_depth` bytes (the device runs fast, or the ticks
  stalled) drops the oldest audio down to a frame plus the lead (`dropped`, in frames).

Not thread-safe by itself: the owner serialises `push()` and `pop()`.
"""

from __future__ import annotations

from dialer.core.audio import frame_of, samples_of
from softphone.audio.jitter import FifoStats

CROSSFADE = 32        # samples (2 ms at 16 kHz) blended across a cut or a repeat
TOLERANCE_MS = 1.0    # the lowest level may stray this far from the lead before it is corrected
FADE_OUT = 64         # samples over which a short frame fades to silence


class MicFifo:
    def __init__(self, frame_bytes: int, rate: int, lead_ms: float = 5.0, step_ms: float = 5.0,
                 max_lead_ms: float = 20.0, max_frames: int = 6, settle: int = 0,
                 window: int = 50, relax: int = 3000) -> None:
        if not 0 <= lead_ms <= max_lead_ms:
            raise ValueError(f"need 0 <= lead_ms ({lead_ms}) <= max_lead_ms ({max_lead_ms})")
        if step_ms <= 0:
            raise ValueError(f"step_ms ({step_ms}) must be > 0")
        if frame_bytes % 2 or frame_bytes <= 0:
            raise ValueError(f"frame_bytes ({frame_bytes}) must be a positive even number")
        self.frame_bytes = frame_bytes
        self.rate = rate
        self.initial_lead = self._bytes(lead_ms)
        self.lead = self.initial_lead
        self.step = max(2, self._bytes(step_ms))
        self.max_lead = self._bytes(max_lead_ms)
        self.max_depth = max(max_frames * frame_bytes, frame_bytes + self.max_lead)
        self.settle = settle
        self.window = window
        self.relax = relax
        self._calm = 0            # pops since the last underrun (or the last look at relaxing)
        self._calm_min = self.max_depth   # the lowest level left after a pop meanwhile
        self.stats = FifoStats(target=1, lead_ms=self._ms(self.lead))
        self._buf = bytearray()
        self._pushed_bytes = 0
        self._pops = 0
        self._window_pops = 0
        self._window_min = self.max_depth
        self._trimmed_bytes = 0
        self._raised_bytes = 0
        self._raise = 0           # bytes to play twice once enough audio follows them
        self._short = False       # the last pop was short: this gap is counted already
        self._tolerance = self._bytes(TOLERANCE_MS)

    def _bytes(self, ms: float) -> int:
        return 2 * int(round(ms * self.rate / 1000))

    def _ms(self, nbytes: int) -> float:
        return round(nbytes / 2 * 1000 / self.rate, 2)

    @property
    def depth(self) -> int:
        """Whole frames held now."""
        return len(self._buf) // self.frame_bytes

    @property
    def depth_ms(self) -> float:
        return self._ms(len(self._buf))

    def push(self, block: bytes) -> None:
        if len(block) % 2:
            raise ValueError(f"a block of {len(block)} bytes is not whole 16-bit samples")
        self._buf += block
        self._pushed_bytes += len(block)
        if self._raise and len(self._buf) >= self._raise + 2 * CROSSFADE:
            self._repeat(self._raise)
            self._raised_bytes += self._raise
            self.stats.raised_ms = self._ms(self._raised_bytes)
            self._raise = 0
        self.stats.pushed = self._pushed_bytes // self.frame_bytes
        if len(self._buf) > self.max_depth:
            keep = self.frame_bytes + self.lead
            excess = len(self._buf) - keep
            self._cut(excess)
            self.stats.dropped += max(1, excess // self.frame_bytes)

    def pop(self) -> bytes:
        self._pops += 1
        have = len(self._buf)
        if have >= self.frame_bytes:
            frame = bytes(self._buf[:self.frame_bytes])
            del self._buf[:self.frame_bytes]
            self.stats.popped += 1
            self._short = False
            self._calm += 1
            self._calm_min = min(self._calm_min, have - self.frame_bytes)
            if self._calm >= self.relax:
                if self.lead > self.initial_lead and self._calm_min >= self.step:
                    self.lead = max(self.initial_lead, self.lead - self.step)
                    self.stats.lead_ms = self._ms(self.lead)
                self._calm = 0
                self._calm_min = self.max_depth
            self._watch(have - self.frame_bytes)
            return frame
        frame = _fade_to_silence(bytes(self._buf), self.frame_bytes)
        self._buf.clear()
        self._raise = 0               # the slip has already made room
        self._window_pops = 0
        self._window_min = self.max_depth
        if self._short:
            return frame
        self._short = True
        self._calm = 0
        self._calm_min = self.max_depth
        if self._pops <= self.settle:
            self.stats.startup_underruns += 1
        else:
            self.stats.underruns += 1
            self.lead = min(self.max_lead, self.lead + self.step)
            self.stats.lead_ms = self._ms(self.lead)
        return frame

    def clear(self) -> None:
        """Start again (a new call or a reopened device): empty, the initial lead."""
        self._buf.clear()
        self._raise = 0
        self._short = False
        self._calm = 0
        self._calm_min = self.max_depth
        self._pops = 0
        self._window_pops = 0
        self._window_min = self.max_depth
        self.lead = self.initial_lead
        self.stats.lead_ms = self._ms(self.lead)

    def _watch(self, left: int) -> None:
        self._window_min = min(self._window_min, left)
        self._window_pops += 1
        if self._window_pops < self.window:
            return
        excess = self._window_min - self.lead
        if excess > self._tolerance:
            self._cut(excess)
            self._trimmed_bytes += excess
            self.stats.trimmed = self._trimmed_bytes // self.frame_bytes
            self.stats.trimmed_ms = self._ms(self._trimmed_bytes)
        elif -excess > self._tolerance:
            self._raise = -excess     # at the next push: the seam needs the audio after it
        self._window_pops = 0
        self._window_min = self.max_depth

    def _cut(self, nbytes: int) -> None:
        """Drop the oldest `nbytes` (whole samples), blending into what follows."""
        nbytes -= nbytes % 2
        if nbytes <= 0:
            return
        old = samples_of(bytes(self._buf[:2 * CROSSFADE]))
        del self._buf[:nbytes]
        n = min(len(old), len(self._buf) // 2)
        if n == 0:
            return
        new = samples_of(bytes(self._buf[:2 * n]))
        self._buf[:2 * n] = frame_of(int(old[i] + (new[i] - old[i]) * (i + 1) / (n + 1))
                                     for i in range(n))


    def _repeat(self, nbytes: int) -> None:
        """Play the oldest `nbytes` (whole samples) twice; the second time starts blended from
        what would have followed the first, so neither seam steps."""
        k = min(nbytes, len(self._buf)) // 2
        if k <= 0:
            return
        n = min(CROSSFADE, k, len(self._buf) // 2 - k)
        x = samples_of(bytes(self._buf[:2 * (k + n)]))
        blend = [int(x[k + i] + (x[i] - x[k + i]) * (i + 1) / (n + 1)) for i in range(n)]
        self._buf[:2 * n] = frame_of([*x[:k], *blend])


def _fade_to_silence(head: bytes, frame_bytes: int) -> bytes:
    """`head` (less than a frame), then the last sample fading out, then silence: a frame."""
    missing = (frame_bytes - len(head)) // 2
    last = samples_of(head[-2:])[0] if len(head) >= 2 else 0
    fade = min(missing, FADE_OUT)
    tail = frame_of(int(last * (fade - i) / (fade + 1)) for i in range(fade))
    return head + tail + bytes(2 * (missing - fade))
