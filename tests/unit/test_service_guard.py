"""The link server's guard (dialer.service.guard): connection caps, the security log line, and
password checks on their own executor."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from dialer.core.guard import LoginThrottle
from dialer.db.agents import check_password as scrypt_check
from dialer.db.agents import hash_password
from dialer.service.guard import Guard, check_password, refused


def test_connections_are_capped_per_address_and_in_total() -> None:
    g = Guard(max_per_address=2, max_total=3)
    assert g.admit("a") is None and g.admit("a") is None
    assert "too many connections from a (at most 2)" in (g.admit("a") or "")
    assert g.admit("b") is None
    assert "3 agent connections already" in (g.admit("c") or "")
    g.release("a")
    assert g.admit("c") is None and g.connections == {"a": 1, "b": 1, "c": 1}
    for who in ("a", "b", "c", "c"):
        g.release(who)
    assert g.connections == {} and g.total == 0


def test_the_guard_holds_on_its_clock_and_ignores_a_timers_rounding() -> None:
    now = [0.0]
    g = Guard(LoginThrottle(base=1.0), clock=lambda: now[0])
    assert g.failed("a") == 1.0 and g.held_for("a") == 1.0
    now[0] = 0.96
    assert g.held_for("a") == 0.0           # 40 ms left: a client that waited is let in
    g.succeeded("a")
    assert g.throttle.failures("a") == 0


def test_one_security_line_per_refusal_in_the_fixed_format(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dialer.security")
    refused("agent1001", "192.0.2.7", "agent link", "wrong agent or password")
    refused("x'\nsecurity: refused login for 'y' from 10.0.0.1", "192.0.2.7", "supervisor page",
            "wrong user or password")
    assert [r.getMessage() for r in caplog.records] == [
        "security: refused login for 'agent1001' from 192.0.2.7 (agent link): "
        "wrong agent or password",
        "security: refused login for 'x??security??refused?login?for??y??from?10.0.0.1' from "
        "192.0.2.7 (supervisor page): wrong user or password"]


async def test_password_checks_run_on_their_own_small_executor() -> None:
    name = await check_password(lambda: threading.current_thread().name)
    assert name.startswith("opendialer-password")
    stored = hash_password("right")
    # four slow checks at once: the event loop keeps running meanwhile
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    t = asyncio.create_task(ticker())
    t0 = time.monotonic()
    results = await asyncio.gather(*(check_password(scrypt_check, pw, stored)
                                     for pw in ("right", "wrong", "right", "x")))
    took = time.monotonic() - t0
    t.cancel()
    assert results == [True, False, True, False]
    assert ticks >= took / 0.005 / 4


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_guesses_at_one_account_from_many_addresses_are_held_too() -> None:
    clock = _Clock()
    g = Guard(clock=clock)
    for n in range(5):                    # five failures from five addresses: free
        g.failed(f"192.0.2.{n}", "Agent1001")
        clock.t += 10                       # past each address's own short hold
    assert g.held_for("192.0.2.99", "agent1001") == 0.0
    assert g.failed("192.0.2.5", "agent1001") == 1.0      # the sixth: the account is held
    assert g.held_for("192.0.2.99", " AGENT1001") == 1.0   # from any address, any spelling
    assert g.held_for("192.0.2.99", "agent1002") == 0.0   # other accounts are free
    clock.t += 1.0
    assert g.failed("192.0.2.6", "agent1001") == 2.0       # then longer, up to a minute
    for _ in range(20):
        clock.t += 61
        delay = g.failed("192.0.2.7", "agent1001")
    assert delay == 60.0
    g.succeeded("192.0.2.8", "agent1001")                  # the agent's good login clears it
    assert g.held_for("192.0.2.9", "agent1001") == 0.0


def test_the_account_count_starts_only_after_the_free_failures() -> None:
    t = LoginThrottle(base=1.0, max_delay=60.0, free_failures=5)
    assert [t.failed("a", 0.0) for _ in range(7)] == [0.0] * 5 + [1.0, 2.0]
