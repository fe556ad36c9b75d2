"""The call floor as a pure state machine: `Floor.handle(event, now)` -> commands (see floor.py)."""

from dialer.core.floor.floor import Floor
from dialer.core.floor.phases import CallPhase, CallPhaseError, CustomerCall
from dialer.core.floor.seats import FloorRefused, Leg, Limits, Seat

__all__ = ["CallPhase", "CallPhaseError", "CustomerCall", "Floor", "FloorRefused", "Leg",
           "Limits", "Seat"]
