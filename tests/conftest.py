"""For every test: when a test is about to hit pytest-timeout, print what each pending asyncio
task awaits. pytest-timeout's own dump shows the threads only, and an async test that hangs
shows just the event loop idling in `select`; the tasks' stacks name the await that never ended.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator

import pytest

WARN_BEFORE_S = 10.0


def _dump_tasks(nodeid: str) -> None:
    # asyncio keeps every task in a weak set; reading it from this thread is safe enough while
    # the loop's thread is idle in select (it holds no lock on it), and this runs only on a hang
    tasks = [t for t in list(asyncio.tasks._all_tasks) if not t.done()]  # type: ignore[attr-defined]
    print(f"\n--- {nodeid}: about to time out; {len(tasks)} pending asyncio tasks ---",
          file=sys.stderr)
    for task in tasks:
        print(f"{task!r}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker and marker.args else float(
        item.config.getini("timeout") or 0)
    timer = None
    if timeout > WARN_BEFORE_S * 2:
        timer = threading.Timer(timeout - WARN_BEFORE_S, _dump_tasks, args=(item.nodeid,))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
