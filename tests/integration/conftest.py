"""The integration tests' PBX: the real Asterisk 22 and simulated carrier, started once per session.

If the PBX already runs (a developer's `dialer pbx up`), the tests use it and leave it running;
otherwise the session starts it and stops it at the end. A PBX that cannot start fails the tests
with the reason: it is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dialer.config.settings import Settings, load_settings
from dialer.pbx import Backend, backend


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session", autouse=True)
def _one_sip_stack() -> Iterator[None]:
    """The softphone's SIP stack (pjsua2) is one per process: the tests that start it share it,
    and it stops once, at the end of the session. Stopping and starting it again between test
    modules (a new PJSIP Endpoint each time) aborted the process once in a CI run; a stack left
    running at exit crashed the interpreter's exit now and then."""
    yield
    from softphone.sip.pjsua2_ua import PjsuaStack

    stack = PjsuaStack.current()
    if stack is not None:
        stack.shutdown()


@pytest.fixture(scope="session")
def pbx(settings: Settings) -> Iterator[Backend]:
    be = backend(settings, log=lambda _msg: None)
    started_here = not be.status().running
    if started_here:
        be.up()
    yield be
    if started_here:
        be.down()
