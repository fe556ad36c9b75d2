"""softphone/audio/steady.py: real-time scheduling for one audio thread, never for the others."""

from __future__ import annotations

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
