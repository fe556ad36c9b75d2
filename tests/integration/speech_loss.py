"""Which packets a simulated customer's call loses, and how a simple phone conceals them: the
pure part of `speech_path`.

A loss pattern is a function of the place in the speech, one per direction and seed: packet k
of a direction's speech (counted from its first packet) is lost if `pattern[k]`. Seeded by
(seed, direction), so a seed always takes the same syllables away, whatever the run or build.
"""

from __future__ import annotations

import numpy as np

TO_AGENT, TO_CUSTOMER = 0, 1       # the directions of a loss pattern
PATTERN_PACKETS = 3000             # 60 s of 20 ms packets: longer than any speech here


def loss_pattern(seed: int, direction: int, loss: float,
                 packets: int = PATTERN_PACKETS) -> np.ndarray:
    """Which packets of one direction's speech are lost: packet k of the speech (counted from
    its first) is lost if `pattern[k]`. The same seed, direction and loss give the same
    pattern, whatever the run."""
    if not 0.0 <= loss < 1.0:
        raise ValueError(f"loss {loss} is outside 0.0..1.0")
    return np.random.default_rng([seed, direction]).random(packets) < loss


def lose_from(packets: list[np.ndarray | None], start: int, pattern: np.ndarray,
              packet: int = 160) -> tuple[list[np.ndarray | None], int]:
    """`packets` (a received stream, `packet` samples each) with the packets that `pattern`
    takes from a speech starting at sample `start` of the stream set to None (lost): the
    stream's packet j carries the speech's packet round((j * packet - start) / packet).
    Returns them and how many were taken (a packet that never arrived is not counted)."""
    out = list(packets)
    taken = 0
    for j, p in enumerate(out):
        k = round((j * packet - start) / packet)
        if 0 <= k < len(pattern) and pattern[k] and p is not None:
            out[j] = None
            taken += 1
    return out, taken


def conceal_simple(packets: list[np.ndarray | None]) -> np.ndarray:
    """A simple phone: a lost packet is the previous one again at half level, then silence."""
    out, prev, concealed = [], np.zeros(160, dtype=np.int16), False
    for p in packets:
        if p is not None:
            prev, concealed = p, False
            out.append(p)
        else:
            out.append(np.zeros(160, dtype=np.int16) if concealed else
                       (prev // 2).astype(np.int16))
            concealed = True
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
