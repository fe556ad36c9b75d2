"""The database writer: one thread that runs every database call of the service, in order.

The event loop never waits on the database: the floor's `Store` commands, its claims and the
campaign reads go into one queue, and this thread runs them one after another (so writes land
in the order they were asked for). `submit(fn, *args)` returns an asyncio future for the result;
`after_writes(callback)` runs `callback` on the loop once everything submitted before it is
committed (how agent messages wait for what they acknowledge).

A locked or unreachable database does not lose a write: an operational error ("database is
locked", a dropped PostgreSQL connection) is logged with the write it stopped, and the same
call is tried again with backoff until it succeeds. Any other error is logged with the call and
its arguments and answered to its future; the next call goes on.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

_STOP = object()


class DbWriter:
    def __init__(self, loop: asyncio.AbstractEventLoop, name: str = "db-writer",
                 retry_max: float = 2.0) -> None:
        self.loop = loop
        self.retry_max = retry_max
        self._queue: queue.Queue[Any] = queue.Queue()
        self._submitted = 0
        self._done = 0
        self._waiting: collections.deque[tuple[int, Callable[[], None]]] = collections.deque()
        self.stalled_since: float | None = None     # a write has been retried since (monotonic)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def backlog(self) -> int:
        return self._submitted - self._done

    def submit(self, fn: Callable[..., Any], *args: Any,
               then: Callable[[Any, BaseException | None], None] | None = None,
               **kwargs: Any) -> asyncio.Future[Any]:
        """Run `fn(*args, **kwargs)` on the writer thread after everything submitted before.
        `then(result, error)`, if given, runs on the loop as soon as it is done, before any
        `after_writes` callback that waits for it (a future's callbacks would run later)."""
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._submitted += 1
        self._queue.put((fn, args, kwargs, (fut, then)))
        return fut

    def after_writes(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the loop once every call submitted so far has finished."""
        if self._done >= self._submitted and not self._waiting:
            callback()
        else:
            self._waiting.append((self._submitted, callback))

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until everything submitted so far has finished."""
        done: asyncio.Future[None] = self.loop.create_future()

        def finish() -> None:
            if not done.done():
                done.set_result(None)
        self.after_writes(finish)
        await asyncio.wait_for(done, timeout)

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            fn, args, kwargs, fut = item
            result, error = self._call(fn, args, kwargs)
            try:
                self.loop.call_soon_threadsafe(self._finished, fut, result, error)
            except RuntimeError:      # the loop is closed: the service is stopping
                return

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> tuple[Any, BaseException | None]:
        delay, tries = 0.05, 0
        while True:
            try:
                result = fn(*args, **kwargs)
            except OperationalError as exc:
                tries += 1
                if self.stalled_since is None:
                    self.stalled_since = time.monotonic()
                if tries == 1 or tries % 20 == 0:
                    log.warning("database unavailable (%s) for %s: retrying (try %d); %d "
                                "writes wait behind it", str(exc.orig or exc).strip(),
                                _name(fn), tries, self.backlog - 1)
                time.sleep(delay)
                delay = min(self.retry_max, delay * 2)
                continue
            except Exception as exc:     # logged with the call; the next write goes on
                log.exception("database call %s%r failed", _name(fn), args)
                return None, exc
            if tries:
                waited = time.monotonic() - (self.stalled_since or time.monotonic())
                log.warning("database available again after %.1f s; %s done", waited, _name(fn))
            self.stalled_since = None
            return result, None

    def _finished(self, target: tuple[asyncio.Future[Any], Any], result: Any,
                  error: BaseException | None) -> None:
        self._done += 1
        fut, then = target
        if then is not None:
            try:
                then(result, error)
            except Exception:
                log.exception("database call's follow-up failed")
        if not fut.done():
            if error is not None:
                fut.set_exception(error)
                fut.exception()     # retrieved: the writer logged it already
            else:
                fut.set_result(result)
        while self._waiting and self._waiting[0][0] <= self._done:
            _, callback = self._waiting.popleft()
            try:
                callback()
            except Exception:
                log.exception("after-write callback failed")


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", repr(fn))
