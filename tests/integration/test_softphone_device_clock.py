"""The device clock on a real call (softphone/sip/device_clock.py): the headset's callbacks tick
PJSIP's conference, and the clock reads the call's jitter buffer through ctypes to trim it
(softphone/sip/jb_trim.py). Run in a child process with its own SIP stack (the test session's
shared stack runs on PJSIP's clock), on the echo extension of the real PBX; the headset is the
virtual device in real time (no sound server needed for what is checked here)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from dialer.config.settings import REPO_ROOT, Settings
from dialer.pbx import Backend

SEAT = 1012

SCRIPT = textwrap.dedent("""
    import ctypes, sys, time
    import pjsua2 as pj
    from dialer.config.settings import load_settings
    from dialer.core.audio import AudioFormat
    from softphone.audio.bridge import AudioBridge
    from softphone.audio.virtual import VirtualAudioDevice, tone
    from softphone.sip.api import (CallState, CallStateChanged, EventQueue, RegState,
                                   RegistrationChanged, SipAccount)
    from softphone.sip.device_clock import _JbState
    from softphone.sip.pjsua2_ua import PjsuaStack, PjsuaUserAgent

    seat = int(sys.argv[1])
    s = load_settings()
    fmt = AudioFormat()
    stack = PjsuaStack(bind="127.0.0.1", device_clock=True)
    ua = PjsuaUserAgent(SipAccount(f"agent{seat}", s.agents.sip_password(seat),
                                   f"{s.pbx.bind}:{s.pbx.sip_port}"),
                        AudioBridge(VirtualAudioDevice(fmt, tone(440, fmt)), fmt), stack=stack)
    events = EventQueue()
    ua.add_listener(events)
    ua.register()
    events.wait_for(RegistrationChanged, 8, lambda e: e.state is RegState.REGISTERED)
    call = ua.make_call("9196")
    events.wait_for(CallStateChanged, 10,
                    lambda e: e.call == call and e.state is CallState.CONFIRMED)
    time.sleep(6)
    clock = stack.clock
    print("ticks", clock.device_ticks, clock.fallback_ticks, flush=True)
    print("watching", clock.watched_stream is not None, flush=True)

    def both():
        c = ua._calls[call]
        ci = c.getInfo()
        index = next(mi.index for mi in ci.media if mi.type == pj.PJMEDIA_TYPE_AUDIO)
        j = c.getStreamStat(index).jbuf
        st = _JbState()
        clock._lib.pjmedia_stream_get_stat_jbuf(clock.watched_stream, ctypes.byref(st))
        return ((j.frameSize, j.minPrefetch, j.maxPrefetch, j.lost, j.discard, j.empty),
                (st.frame_size, st.min_prefetch, st.max_prefetch, st.lost, st.discard, st.empty))
    pjsua2_view, ours = stack.run(both)
    print("pjsua2", pjsua2_view, "ctypes", ours, flush=True)
    print("same state", pjsua2_view == ours, flush=True)
    print("trims", clock.trim.trims, flush=True)
    ua.hangup(call)
    deadline = time.monotonic() + 5
    while call in ua.calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    print("watching after hang-up", clock.watched_stream is not None, flush=True)
    ua.close()
    stack.shutdown()
    print("shut down", flush=True)
""")


def test_the_headset_ticks_the_call_and_the_clock_reads_its_jitter_buffer(
        pbx: Backend, settings: Settings) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(SEAT)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{proc.stderr[-2000:]}"
    ticks = next(line.split() for line in out.splitlines() if line.startswith("ticks "))
    assert int(ticks[1]) > 200, out          # ~300 in 6 s: the headset drove the conference
    assert "watching True" in out, out       # onStreamCreated gave the clock the call's stream
    # the ctypes view of pjmedia_jb_state is PJSIP's own (a wrong layout would read garbage)
    assert "same state True" in out, out
    assert "watching after hang-up False" in out, out   # the stream is let go before it is freed
    assert "shut down" in out, out
