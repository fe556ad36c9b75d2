"""The floor's resync with Asterisk, at every (re)connection of the events WebSocket.

Part of `Floor` (bound in its class body; `self` is the floor). Asterisk's channels and bridges
are compared with the floor's view: calls whose channel vanished end with a result, calls and
voice channels answered while the events were away are caught up, agents whose voice channel
or bridge is gone are called again, and channels and bridges of ours that nobody here knows
(an earlier run's) are removed, but only those our ARI application holds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dialer.core.floor import messages as m
from dialer.core.floor.phases import CallPhase
from dialer.core.floor.seats import AGENT_PREFIX, BRIDGE_PREFIX, CUSTOMER_PREFIX, Leg
from dialer.core.results import CallResult

if TYPE_CHECKING:
    from dialer.core.floor.floor import Floor

log = logging.getLogger(__name__)


def _on_PbxLost(self: Floor, ev: m.PbxLost) -> None:
    if self.pbx_up:
        log.warning("Asterisk connection lost (%s): not dialing until it is back", ev.reason)
    self.pbx_up = False


def _on_PbxConnected(self: Floor, ev: m.PbxConnected) -> None:
    """Compare what Asterisk has with what the floor knows: calls whose channel vanished end
    with a result, agents whose voice channel (or bridge) vanished are called again, and
    channels and bridges of ours that nobody here knows are removed."""
    self.pbx_up = True
    known: set[str] = set()
    for call in list(self.calls.values()):
        known.add(call.channel_id)
        if (call.channel_id in ev.up and call.phase in (CallPhase.DIALING, CallPhase.RINGING)
                and call.originated):
            log.warning("resync: attempt %s was answered while the events were away",
                        call.attempt_id)
            self._call_event(m.CustomerAnswered(call.attempt_id))
            continue
        if call.channel_id in ev.channels or not call.originated:
            continue
        log.warning("resync: attempt %s's channel is gone from Asterisk (phase %s)",
                    call.attempt_id, call.phase.value)
        facts = self._facts(call, None, None, "")
        result = None if call.connected_at is not None else CallResult.INTERRUPTED
        self._finish(call, facts, result,
                     note="the PBX lost the call (Asterisk restarted or the link dropped)")
    for seat in list(self.seats.values()):
        if seat.leg_channel is not None:
            known.add(seat.leg_channel)
        if seat.leg is Leg.CALLING and seat.leg_channel in ev.up:
            assert seat.leg_channel is not None
            self._on_LegAnswered(m.LegAnswered(seat.agent_id, seat.leg_channel))
            continue
        leg_ok = seat.leg_channel in ev.channels and (
            seat.leg is not Leg.UP or seat.bridge_id in ev.bridges)
        if seat.leg is Leg.DOWN or not leg_ok:
            if seat.leg is not Leg.DOWN:
                if seat.leg_channel in ev.channels:
                    self._emit(m.Hangup(seat.leg_channel, "its bridge is gone"))
                self._leg_lost(seat, "gone from Asterisk")
            self._call_agent(seat)
    bridges = {s.bridge_id for s in self.seats.values()}
    leftovers = [c for c in sorted(ev.channels)
                 if c.startswith((AGENT_PREFIX, CUSTOMER_PREFIX)) and c not in known]
    leftovers += [b for b in sorted(ev.bridges)
                  if b.startswith(BRIDGE_PREFIX) and b not in bridges]
    if ev.ours is not None:
        leftovers = [x for x in leftovers if x in ev.ours]
    if leftovers:
        log.warning("resync: removed %d leftover channels/bridges nobody here knows: %s",
                    len(leftovers), leftovers)
    for some_id in leftovers:
        if some_id.startswith(BRIDGE_PREFIX):
            self._emit(m.DropBridge(some_id))
        else:
            self._emit(m.Hangup(some_id, "resync: a leftover nobody here knows"))
