"""The SIP stack's object lifetimes, on a real pjsua2 stack (no PBX needed).

PJSIP aborts the whole process on a call from a thread pjlib does not know, and pjsua2's
destructors act on whatever account or call holds the *slot* the object had. A CI run of the
suite died of SIGABRT in the middle of the SIP tests; these checks run in a child process so that
such a crash fails one test with its message instead of killing the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from dialer.config.settings import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import gc, threading
    from softphone.sip.api import SipAccount
    from softphone.sip.pjsua2_ua import PjsuaStack, PjsuaUserAgent

    stack = PjsuaStack(bind="127.0.0.1")
    nowhere = "127.0.0.1:9"   # discard port: registrations fail quietly, nothing is needed
    a = PjsuaUserAgent(SipAccount("agentA", "pw", nowhere), stack=stack)
    a.register()
    a_slot = stack.run(lambda: a._acc.getId())
    kept = [a._acc]           # a traceback or a variable still holds A's account object
    a.close()

    b = PjsuaUserAgent(SipAccount("agentB", "pw", nowhere), stack=stack)
    b.register()
    b_slot = stack.run(lambda: b._acc.getId())
    print("same slot", a_slot == b_slot, flush=True)

    # the last reference to A's account goes on a thread pjlib has never seen
    t = threading.Thread(target=kept.clear)
    t.start()
    t.join()
    gc.collect()
    print("B still valid", stack.run(lambda: b._acc.isValid()), flush=True)

    c = PjsuaUserAgent(SipAccount("agentC", "pw", nowhere), stack=stack)
    c.register()              # left open: shutdown must settle it before the Endpoint goes
    stack.shutdown()
    print("shut down", flush=True)
""")


def test_a_closed_agents_account_object_outliving_it_harms_nothing() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{proc.stderr[-2000:]}"
    # B got A's account slot, so a late destructor of A's object would have deleted B's account
    assert "same slot True" in out, out
    assert "B still valid True" in out, out
    assert "shut down" in out, out
