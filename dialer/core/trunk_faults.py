"""Trunk failover, as pure logic: which fault a failed call shows (`fault_of`: congestion or an
unreachable carrier, from its SIP status or Q.850 cause) and which of a campaign's trunks the next
call leaves by (`TrunkSelector`: the first in the campaign's order under its channel cap and not
skipped after a fault). The trunks themselves are configured in `dialer.config.trunks`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class HasCap(Protocol):
    """A configured trunk, as far as the selector needs it (`dialer.config.trunks.Trunk`)."""

    @property
    def name(self) -> str: ...

    @property
    def max_channels(self) -> int: ...


class TrunkFault(Enum):
    """Why a trunk is skipped for a while."""

    CONGESTION = "congestion"  # 503, cause 34/42: the carrier is overloaded
    UNREACHABLE = "unreachable"  # no answer to the INVITE (408), or the carrier's network failed


CONGESTION_SIP = {503}
UNREACHABLE_SIP = {408, 502, 504}
CONGESTION_CAUSES = {34, 42}  # circuit/channel congestion, switch congestion
UNREACHABLE_CAUSES = {27, 38, 102}  # destination out of order, network out of order, timer


def fault_of(cause: int | None, sip_status: int | None) -> TrunkFault | None:
    """The trunk fault a failed call shows (its SIP status first), or None (the number's own
    outcome: busy, no answer, rejected, invalid...)."""
    if sip_status in CONGESTION_SIP:
        return TrunkFault.CONGESTION
    if sip_status in UNREACHABLE_SIP:
        return TrunkFault.UNREACHABLE
    if sip_status is None or sip_status == 0:
        if cause in CONGESTION_CAUSES:
            return TrunkFault.CONGESTION
        if cause in UNREACHABLE_CAUSES:
            return TrunkFault.UNREACHABLE
    return None


@dataclass(frozen=True)
class TrunkFailure:
    fault: TrunkFault
    until: float


@dataclass
class TrunkSelector:
    """Which trunk the next call of a campaign leaves by.

    `max_channels` maps every trunk to its cap. `select(order, in_use, now)` returns the first
    trunk of `order` (the campaign's trunks, preferred first) that is not marked failed at `now`
    and has fewer than its cap of channels in `in_use`; None when none can take a call. A call
    that fails with a trunk fault is retried by the caller on `select(..., exclude={tried})`.
    """

    max_channels: Mapping[str, int]
    hold_off: float = 30.0
    _failed: dict[str, TrunkFailure] = field(default_factory=dict, repr=False)

    @classmethod
    def for_trunks(cls, trunks: Iterable[HasCap], hold_off: float = 30.0) -> TrunkSelector:
        return cls({t.name: t.max_channels for t in trunks}, hold_off)

    def select(
        self,
        order: Sequence[str],
        in_use: Mapping[str, int],
        now: float,
        exclude: Collection[str] = (),
    ) -> str | None:
        for name in order:
            if name in exclude or self.is_failed(name, now):
                continue
            if in_use.get(name, 0) < self._cap(name):
                return name
        return None

    def free_channels(self, order: Sequence[str], in_use: Mapping[str, int], now: float) -> int:
        """How many more calls the campaign's trunks can carry now (for pacing)."""
        return sum(
            max(0, self._cap(n) - in_use.get(n, 0))
            for n in dict.fromkeys(order)
            if not self.is_failed(n, now)
        )

    def mark_failed(
        self, name: str, fault: TrunkFault, now: float, until: float | None = None
    ) -> None:
        """Skip `name` until `until` (default `now + hold_off`)."""
        self._cap(name)
        self._failed[name] = TrunkFailure(fault, now + self.hold_off if until is None else until)

    def mark_ok(self, name: str) -> None:
        self._failed.pop(name, None)

    def is_failed(self, name: str, now: float) -> bool:
        failure = self._failed.get(name)
        if failure is None:
            return False
        if now >= failure.until:
            del self._failed[name]
            return False
        return True

    def failures(self, now: float) -> dict[str, TrunkFailure]:
        """The trunks marked failed at `now`."""
        return {n: f for n, f in list(self._failed.items()) if self.is_failed(n, now)}

    def _cap(self, name: str) -> int:
        try:
            return self.max_channels[name]
        except KeyError:
            raise ValueError(f"unknown trunk {name!r}") from None
