"""Online estimates used by the predictive pacer (pure: numpy, no clock, no I/O).

Owns three things:

* :class:`RateEstimator` - the live-answer proportion over an *adaptive* window of the
  most recent resolved calls (Lepski's method): the longest window whose mean agrees
  with every shorter window's mean, within ``z`` standard errors.  A stable rate is
  averaged over up to 3,200 calls; after a shift, the long windows disagree with the
  short ones, the estimate moves to a short window within ~100 calls and the older
  outcomes are forgotten (the window then grows again with new outcomes).  A fall of
  the estimate is read over at least 200 calls (a 50-call run of misses is chance at
  a 12 % rate, not a collapse).
* :class:`Samples` - a bounded window of recent durations (ring, talk, wrap-up).
* :func:`agent_free_table` / :func:`call_live_table` - conditional probability tables
  indexed by whole seconds of elapsed time, rebuilt from the samples now and then:
  P(a busy agent is READY within h | elapsed) and P(a ringing call answers live
  within tau | still ringing after a).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class RateEstimator:
    """Proportion of hits among recent outcomes, over a window chosen by the data.

    ``windows`` are the candidate window lengths (ascending); before ``windows[0]``
    outcomes exist, the estimate is the hits shrunk towards ``prior`` with the weight
    of ``prior_weight`` pseudo-outcomes.  A disagreement beyond ``z`` standard errors
    picks the shorter window; beyond ``z_forget`` the older outcomes are dropped.

    ``fall_window``: a window shorter than this may *raise* the estimate but not lower
    it below the mean of the last ``fall_window`` outcomes (since the last forget).
    Checked once a second, a 50-call window at a 12 % rate shows a run of misses
    (0 hits: p = 0.0017 per window) a few times an hour; read as "nobody answers", that
    made the pacer fill its line limit at once (a burst of abandons).  Under-estimating
    the rate over-dials, over-estimating it only under-dials for a while, so only a
    fall waits for more evidence; a real fall is still followed within
    ``fall_window`` outcomes.
    """

    def __init__(
        self,
        windows: Sequence[int] = (50, 100, 200, 400, 800, 1600, 3200),
        z: float = 3.0,
        z_forget: float = 4.5,
        prior: float = 0.25,
        prior_weight: float = 10.0,
        fall_window: int = 200,
    ) -> None:
        if list(windows) != sorted(windows) or not windows or windows[0] < 1:
            raise ValueError("windows must be ascending positive lengths")
        self.windows = tuple(windows)
        self.z = z
        self.z_forget = z_forget
        self.prior = prior
        self.prior_weight = prior_weight
        if fall_window < 0:
            raise ValueError("fall_window must be >= 0")
        self.fall_window = min(fall_window, self.windows[-1])
        self.n = 0
        self.shifts = 0  # times the chosen window got shorter (a detected change)
        size = self.windows[-1]
        self._buf = [0] * size
        self._sums = [0] * len(self.windows)
        self._cache: float | None = None
        self._window = 0
        self._usable = 0  # outcomes since the last detected change (at most the buffer)
        self._usum = 0  # hits among them

    def update(self, hit: bool) -> None:
        x = 1 if hit else 0
        size = len(self._buf)
        pos = self.n % size
        n = self.n
        for i, w in enumerate(self.windows):
            self._sums[i] += x
            if n >= w:  # the outcome that leaves window w
                self._sums[i] -= self._buf[(n - w) % size]
        self._usum += x
        if self._usable >= size:
            self._usum -= self._buf[pos]
        else:
            self._usable += 1
        self._buf[pos] = x
        self.n = n + 1
        self._cache = None

    @property
    def window(self) -> int:
        """Length of the window behind the current estimate (0 before the first)."""
        self.value  # noqa: B018 - refreshes the cache
        return self._window

    @property
    def value(self) -> float:
        if self._cache is not None:
            return self._cache
        n = self._usable
        if n < self.windows[0]:
            v = (self._usum + self.prior * self.prior_weight) / (n + self.prior_weight)
            self._window = n
        else:
            means = [(self._sums[i] / w, w) for i, w in enumerate(self.windows) if w <= n]
            if n not in self.windows:
                means.append((self._usum / n, n))
            best_m, best_w = means[0]
            for k in range(1, len(means)):
                m_k, w_k = means[k]
                p = min(max(m_k, 0.02), 0.98)
                var = p * (1.0 - p)
                worst = max(abs(m_l - m_k) / math.sqrt(var * (1.0 / w_l - 1.0 / w_k))
                            for m_l, w_l in means[:k])
                if worst > self.z:
                    if worst > self.z_forget:  # a sure change: forget what came before
                        self.shifts += 1
                        self._forget(best_w)
                    break
                best_m, best_w = m_k, w_k
            v = best_m
            self._window = best_w
            floor = min(self.fall_window, self._usable)
            if best_w < floor:  # a fall is read over at least fall_window outcomes
                size = len(self._buf)
                m_f = sum(self._buf[(self.n - 1 - i) % size] for i in range(floor)) / floor
                v = max(v, m_f)
        self._cache = max(v, 1e-3)
        return self._cache


    def _forget(self, keep: int) -> None:
        """Keep only the ``keep`` most recent outcomes for future estimates."""
        size = len(self._buf)
        self._usable = keep
        self._usum = sum(self._buf[(self.n - 1 - i) % size] for i in range(keep))


class Samples:
    """The most recent ``size`` non-negative durations (seconds)."""

    def __init__(self, size: int = 2000) -> None:
        self._d: deque[float] = deque(maxlen=size)

    def add(self, x: float) -> None:
        self._d.append(max(0.0, x))

    def __len__(self) -> int:
        return len(self._d)

    def sorted(self) -> FloatArray:
        return np.sort(np.fromiter(self._d, dtype=np.float64, count=len(self._d)))

    def mean(self) -> float:
        return sum(self._d) / len(self._d) if self._d else 0.0


def ecdf(sorted_samples: FloatArray, x: FloatArray) -> FloatArray:
    """Empirical CDF of ``sorted_samples`` evaluated at ``x`` (any shape)."""
    n = len(sorted_samples)
    if n == 0:
        return np.zeros_like(x)
    return np.searchsorted(sorted_samples, x, side="right").astype(np.float64) / n


def _tail_fix(q: FloatArray, survivors: FloatArray, min_survivors: float) -> FloatArray:
    """Rows whose conditioning event has too few samples copy the last reliable row."""
    bad = np.nonzero(survivors < min_survivors)[0]
    if len(bad):
        first = int(bad[0])
        q[first:] = q[first - 1] if first > 0 else 1.0
    return q


def agent_free_table(
    talk: FloatArray, wrap: FloatArray, horizons: FloatArray, max_elapsed: int
) -> tuple[FloatArray, FloatArray]:
    """P(agent READY within each horizon | elapsed whole seconds in TALK / in WRAP_UP).

    ``talk`` and ``wrap`` are sorted samples (talk and wrap-up independent).  Returns
    ``(talk_table, wrap_table)``, each of shape ``(max_elapsed + 1, len(horizons))``;
    rows past the point where fewer than 20 (10) samples survive repeat the last
    reliable row.
    """
    e = np.arange(max_elapsed + 1, dtype=np.float64)[:, None]
    h = horizons[None, :]
    n_t = max(len(talk), 1)
    f_t_e = ecdf(talk, e)
    s_t = np.maximum(1.0 - f_t_e, 1e-12)
    w_q = np.quantile(wrap, (np.arange(16) + 0.5) / 16) if len(wrap) else np.zeros(1)
    acc = np.zeros((max_elapsed + 1, len(horizons)))
    for w in w_q:
        acc += np.maximum(ecdf(talk, e + h - w) - f_t_e, 0.0)
    q_talk = np.clip(acc / len(w_q) / s_t, 0.0, 1.0)
    q_talk = _tail_fix(q_talk, (1.0 - f_t_e[:, 0]) * n_t, 20.0)

    n_w = max(len(wrap), 1)
    f_w_e = ecdf(wrap, e)
    s_w = np.maximum(1.0 - f_w_e, 1e-12)
    q_wrap = np.clip((ecdf(wrap, e + h) - f_w_e) / s_w, 0.0, 1.0)
    q_wrap = _tail_fix(q_wrap, (1.0 - f_w_e[:, 0]) * n_w, 10.0)
    return q_talk, q_wrap


def call_live_table(
    live_ring: FloatArray,
    other_end: FloatArray,
    p_live: float,
    taus: FloatArray,
    max_elapsed: int,
) -> FloatArray:
    """P(a ringing call answers live within each ``tau`` | still ringing after ``a`` s).

    ``live_ring``: sorted ring times of live answers; ``other_end``: sorted times at
    which non-live calls ended (machines, failures, ring timeouts).  Shape
    ``(max_elapsed + 1, len(taus))``.
    """
    a = np.arange(max_elapsed + 1, dtype=np.float64)[:, None]
    f_l_a = ecdf(live_ring, a)
    alive = p_live * (1.0 - f_l_a) + (1.0 - p_live) * (1.0 - ecdf(other_end, a))
    gain = p_live * (ecdf(live_ring, a + taus[None, :]) - f_l_a)
    out = np.where(alive > 1e-9, gain / np.maximum(alive, 1e-9), 0.0)
    return np.clip(out, 0.0, 1.0)
