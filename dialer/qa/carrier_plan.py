"""The simulated carrier's numbering plan: which number makes a customer do what.

Pure: builds numbers for a behaviour and reads them back, and draws seeded random calling lists
(answer rate, ring and talk time distributions) for demos and soak runs. The carrier's dialplan
(`config/carrier/extensions.conf`) is the other half; `config/carrier/numbering.md` documents both.

    +1 NPA 2 B X RR TT
         B   behaviour, see `Behaviour`
         X   free digit that tells contacts apart
         RR  seconds of ringing (00-99)
         TT  seconds of talk after answering (00: until the caller hangs up; at most 1 h)
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

# Area codes in four US time zones, so lists made here exercise calling hours.
AREA_CODES = ("212", "305", "312", "415", "503", "602", "713", "206")


class Behaviour(enum.IntEnum):
    ANSWER = 0          # answers after RR s, greets, talks for TT s (00: until the caller hangs up)
    BUSY = 1            # 486 Busy Here after RR s
    NO_ANSWER = 2       # rings until the caller gives up
    REJECT = 3          # 603 Decline after RR s of ringing
    INVALID = 4         # 404 Not Found (unallocated number)
    CONGESTION = 5      # 503 Service Unavailable (network congestion)
    MACHINE = 6         # answering machine: long greeting, beep, then records
    FAX = 7             # answers as a fax: 2 s silence, CED 2100 Hz for 3 s, then V.21
    HANGUP_RINGING = 8  # the customer gives up while it rings: 480 after RR s
    HANGUP_ANSWERED = 9  # answers after RR s and hangs up after TT s without a word


@dataclass(frozen=True)
class Customer:
    number: str
    behaviour: Behaviour
    ring_s: int
    talk_s: int


class PlanError(ValueError):
    """A number outside the plan, or a value that does not fit in it."""


def number_for(behaviour: Behaviour, ring_s: int = 0, talk_s: int = 0, tag: int = 0,
               area_code: str = "212") -> str:
    """The E.164 number that makes the carrier's customer behave so."""
    if not 0 <= ring_s <= 99 or not 0 <= talk_s <= 99:
        raise PlanError(f"ring ({ring_s}) and talk ({talk_s}) seconds must be within 0-99")
    if not 0 <= tag <= 9:
        raise PlanError(f"tag must be one digit, got {tag}")
    if len(area_code) != 3 or not area_code.isdigit() or area_code[0] in "01":
        raise PlanError(f"area code must be 3 digits starting 2-9, got {area_code!r}")
    return f"+1{area_code}2{int(behaviour)}{tag}{ring_s:02d}{talk_s:02d}"


def parse(number: str) -> Customer:
    """Read a plan number back; raises PlanError for numbers the carrier answers with 404."""
    if len(number) != 12 or not number.startswith("+1") or not number[1:].isdigit():
        raise PlanError(f"{number!r} is not in the carrier's plan (+1 NPA 2 B X RR TT)")
    if number[5] != "2" or number[2] in "01":
        raise PlanError(f"{number!r} is not in the carrier's plan (+1 NPA 2 B X RR TT)")
    return Customer(number, Behaviour(int(number[6])), int(number[8:10]), int(number[10:12]))


@dataclass(frozen=True)
class RandomMix:
    """Outcome shares and timing distributions for a random list (the rest do not answer)."""

    answer_rate: float = 0.25
    machine_rate: float = 0.15
    busy_rate: float = 0.10
    ring_mean_s: float = 8.7
    ring_sd_s: float = 4.0
    talk_mean_s: float = 30.0
    talk_cv: float = 1.0


def _lognormal(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def random_customers(count: int, seed: int, mix: RandomMix = RandomMix()) -> list[Customer]:
    """A seeded list of distinct customers whose behaviour follows `mix`."""
    if count > 10 * len(AREA_CODES) * 100 * 100:
        raise PlanError(f"at most {10 * len(AREA_CODES) * 10_000} numbers fit the plan")
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Customer] = []
    while len(out) < count:
        u = rng.random()
        ring = min(99, max(1, round(_lognormal(rng, mix.ring_mean_s, mix.ring_sd_s))))
        talk = min(99, max(1, round(_lognormal(rng, mix.talk_mean_s,
                                               mix.talk_cv * mix.talk_mean_s))))
        if u < mix.answer_rate:
            behaviour = Behaviour.ANSWER
        elif u < mix.answer_rate + mix.machine_rate:
            behaviour, ring, talk = Behaviour.MACHINE, ring, rng.randint(12, 25)
        elif u < mix.answer_rate + mix.machine_rate + mix.busy_rate:
            # digits a behaviour does not use vary too, so every outcome has room for many
            # distinct numbers and redrawing duplicates does not skew the mix
            behaviour, ring, talk = Behaviour.BUSY, rng.randint(2, 5), rng.randint(0, 99)
        else:
            behaviour, ring, talk = Behaviour.NO_ANSWER, rng.randint(0, 99), rng.randint(0, 99)
        number = number_for(behaviour, ring, talk, rng.randint(0, 9), rng.choice(AREA_CODES))
        if number in seen:
            continue
        seen.add(number)
        out.append(Customer(number, behaviour, ring, talk))
    return out
