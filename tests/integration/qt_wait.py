"""Waiting in a test that drives Qt objects from asyncio: both loops run until a check holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PyQt5.QtWidgets import QApplication


async def until(check: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Run Qt's and asyncio's loops together until `check()` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        QApplication.processEvents()
        await asyncio.sleep(0.02)
