"""softphone/audio/steady.py: real-time scheduling for one audio thread, never for the others."""

from __future__ import annotations

import ctypes
import logging
import os
import threading

from softphone.audio import steady


def test_realtime_is_asked_for_the_calling_thread_only_and_once() -> None:
    seen: dict[str, object] = {}

    def audio_thread() -> None:
        seen["first"] = steady.realtime_thread()
        seen["policy"] = os.sched_getscheduler(0)
        seen["again"] = steady.realtime_thread()

    before = os.sched_getscheduler(0)
    t = threading.Thread(target=audio_thread)
    t.start()
    t.join(5)
    assert seen["first"] == seen["again"]
    # granted (root, or an rtprio limit) or refused: the answer says which, truthfully
    assert (seen["policy"] == os.SCHED_RR) is seen["first"]
    assert os.sched_getscheduler(0) == before == os.SCHED_OTHER   # this thread is untouched


def test_a_refusal_is_logged_once(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def refuse(*_a: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    caplog.set_level(logging.INFO, logger="softphone.audio.steady")
    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    monkeypatch.setattr(steady, "_refused", threading.Event())
    answers = []
    for _ in range(2):
        t = threading.Thread(target=lambda: answers.append(steady.realtime_thread()))
        t.start()
        t.join(5)
    assert answers == [False, False]
    lines = [r for r in caplog.records if "no real-time scheduling" in r.getMessage()]
    assert len(lines) == 1 and "Operation not permitted" in lines[0].getMessage()


def _named_thread(name: str, ready: threading.Event, done: threading.Event,
                  tid: list[int]) -> threading.Thread:
    """A thread whose kernel name (/proc/self/task/<tid>/comm) is `name`, as libpulse's are."""
    def run() -> None:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode(), 0, 0, 0)          # PR_SET_NAME
        tid.append(threading.get_native_id())
        ready.set()
        done.wait(5)
    return threading.Thread(target=run, daemon=True)


def test_the_sound_servers_client_threads_are_found_by_name_and_only_they() -> None:
    ready, done, tid = threading.Event(), threading.Event(), []
    io = _named_thread("od-test-io", ready, done, tid)
    io.start()
    assert ready.wait(5)
    try:
        have = steady.realtime_io_threads(("od-test-io",))
        policy = os.sched_getscheduler(tid[0])
        # granted or refused, the count says which, truthfully
        assert have in (0, 1) and (policy == os.SCHED_RR) is (have == 1)
        assert steady.realtime_io_threads(("od-test-io",)) == have    # asking again is harmless
        assert os.sched_getscheduler(0) == os.SCHED_OTHER             # this thread is untouched
        assert steady.realtime_io_threads(("no-such-thread",)) == 0
    finally:
        done.set()
        io.join(5)


def test_a_refusal_for_the_client_threads_is_logged(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def refuse(*_a: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    caplog.set_level(logging.INFO, logger="softphone.audio.steady")
    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    monkeypatch.setattr(os, "sched_getscheduler", lambda _tid: os.SCHED_OTHER)
    monkeypatch.setattr(steady, "_refused", threading.Event())
    ready, done, tid = threading.Event(), threading.Event(), []
    io = _named_thread("od-test-io", ready, done, tid)
    io.start()
    assert ready.wait(5)
    try:
        assert steady.realtime_io_threads(("od-test-io",)) == 0
    finally:
        done.set()
        io.join(5)
    lines = [r for r in caplog.records if "client threads" in r.getMessage()]
    assert len(lines) == 1 and "Operation not permitted" in lines[0].getMessage()
