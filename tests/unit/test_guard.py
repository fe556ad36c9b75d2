"""The login limiter and the supervisor's sessions (dialer.core.guard), with the time passed in."""

from __future__ import annotations

import pytest

from dialer.core.guard import LoginThrottle, Sessions, safe_login


def test_each_failure_holds_the_address_longer_up_to_the_cap() -> None:
    t = LoginThrottle(base=0.25, max_delay=8.0)
    assert t.held_for("10.0.0.1", 0.0) == 0.0
    delays = [t.failed("10.0.0.1", float(i * 100)) for i in range(8)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert t.held_for("10.0.0.1", 700.0) == 8.0
    assert t.held_for("10.0.0.1", 705.0) == 3.0
    assert t.held_for("10.0.0.1", 708.0) == 0.0
    assert t.held_for("10.0.0.2", 700.0) == 0.0        # another address is not held


def test_a_good_login_clears_the_address() -> None:
    t = LoginThrottle()
    t.failed("a", 0.0)
    t.failed("a", 1.0)
    t.succeeded("a")
    assert t.failures("a") == 0 and t.held_for("a", 1.0) == 0.0
    assert t.failed("a", 2.0) == 0.25                   # starts again from the first delay


def test_failures_are_forgotten_after_a_quiet_while() -> None:
    t = LoginThrottle(forget_after=60.0)
    for i in range(5):
        t.failed("a", float(i))
    assert t.failures("a") == 5
    assert t.failed("a", 63.0) == 8.0 and t.failures("a") == 6      # 59 s quiet: remembered
    assert t.failed("a", 123.0) == 0.25 and t.failures("a") == 1    # 60 s quiet: forgotten
    assert t.held_for("a", 500.0) == 0.0 and len(t) == 0            # and dropped when read


def test_the_table_is_bounded_expired_entries_first_then_the_oldest() -> None:
    t = LoginThrottle(forget_after=100.0, max_entries=3)
    t.failed("old", 0.0)
    t.failed("b", 50.0)
    t.failed("c", 60.0)
    t.failed("d", 120.0)                # "old" has been quiet 120 s: it goes first
    assert len(t) == 3 and t.failures("old") == 0 and t.failures("b") == 1
    t.failed("e", 130.0)                # nothing expired: the oldest ("b") goes
    assert len(t) == 3 and t.failures("b") == 0
    assert {a for a in "cde" if t.failures(a)} == {"c", "d", "e"}
    for i in range(10_000):
        t.failed(f"10.1.{i // 256}.{i % 256}", 200.0)
    assert len(t) == 3
    with pytest.raises(ValueError):
        LoginThrottle(max_entries=0)


def test_a_refreshed_address_is_not_the_oldest() -> None:
    t = LoginThrottle(max_entries=2)
    t.failed("a", 0.0)
    t.failed("b", 1.0)
    t.failed("a", 2.0)
    t.failed("c", 3.0)                  # "b" is the least recent now
    assert t.failures("a") == 2 and t.failures("b") == 0 and t.failures("c") == 1


def test_sessions_expire_are_pruned_and_capped() -> None:
    s = Sessions(ttl=100.0, max_sessions=3)
    first = s.open(0.0)
    assert s.valid(first, 99.0) and not s.valid(first, 100.0)
    assert len(s) == 0                  # pruned when found expired
    tokens = [s.open(float(200 + i)) for i in range(4)]
    assert len(s) == 3 and not s.valid(tokens[0], 210.0)      # the oldest went
    assert all(s.valid(tok, 210.0) for tok in tokens[1:])
    s.close(tokens[1])
    assert not s.valid(tokens[1], 210.0) and len(s) == 2
    assert not s.valid(None, 210.0) and not s.valid("", 210.0) and not s.valid("x", 210.0)
    assert len(set(tokens)) == 4 and all(len(tok) >= 40 for tok in tokens)


@pytest.mark.parametrize(("login", "shown"), [
    ("agent1001", "agent1001"), ("ada.l@example.com", "ada.l@example.com"),
    ("x' from 10.9.9.9 (agent link): y", "x??from?10.9.9.9??agent?link???y"),
    ("a\nsecurity: refused", "a?security??refused"), ("", ""), ("z" * 80, "z" * 64 + "..."),
])
def test_a_login_in_a_log_line_cannot_forge_an_address_or_a_line(login: str, shown: str) -> None:
    assert safe_login(login) == shown
