"""Keep the process out of the headset's way: the audio callbacks must run on time.

The headset's callbacks are Python (sounddevice's, the bridge's, the conference tick in the output
callback): they wait while the garbage collector runs, while another thread holds the
interpreter, and while other programs have the CPU. Measured on this 2-core machine with the unit
suite running beside a call (docs/sip-ua.md): a full collection of the objects the softphone has
after start-up took 35-49 ms, and a microphone block came up to 133 ms after the one before it,
each one an underrun the agent or the customer hears.

- `steady_interpreter()`, once the phone is up: a full collection, then `gc.freeze()`, so what
  exists after start-up (Qt, pjsua2, the window) is never scanned again and a later full
  collection only looks at what was made since; and a 1 ms switch interval, so an audio callback
  that wants the interpreter gets it within 1 ms of another thread's work instead of 5.
- `realtime_thread()`, from each audio callback thread once: round-robin real-time scheduling
  below the sound server's own (PulseAudio asks for 5), if the system allows it (root, or an
  `rtprio` limit as audio groups have); else the thread keeps its normal priority, said once in
  the log.
- `realtime_io_threads()`, at a stream's first callback: the same for the sound server's client
  threads in this process (ALSA's pulse plugin runs libpulse's `threaded-ml` thread for each
  stream, at normal priority, between the server and PortAudio's callback thread): beside the
  unit suite, microphone blocks more than 20 ms late went from 1-6 to 0-1 in 4-minute calls.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.001
REALTIME_PRIORITY = 4           # SCHED_RR priority; PulseAudio's own threads ask for 5
IO_THREAD_NAMES = ("threaded-ml",)   # libpulse's threaded mainloop (ALSA's pulse plugin)

_refused = threading.Event()
_local = threading.local()


def steady_interpreter() -> None:
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def realtime_io_threads(names: tuple[str, ...] = IO_THREAD_NAMES) -> int:
    """Real-time scheduling, as `realtime_thread()`, for this process's threads named in `names`
    (Linux: /proc/self/task): the sound server's client threads that carry the headset's audio
    to and from PortAudio (ALSA's pulse plugin runs one `threaded-ml` thread a stream, at normal
    priority: a busy CPU delays a microphone block there before any callback of ours can run).
    How many threads have it now."""
    have = 0
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            if (task / "comm").read_text().strip() not in names:
                continue
            tid = int(task.name)
            if os.sched_getscheduler(tid) != os.SCHED_RR:
                os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
            have += 1
        except (FileNotFoundError, ProcessLookupError):
            continue                # the thread ended meanwhile (a stream closed)
        except (OSError, ValueError, AttributeError) as exc:
            if not _refused.is_set():
                _refused.set()
                log.info("audio: no real-time scheduling for the sound server's client threads "
                         "(%s); they run at normal priority and a busy CPU may delay them", exc)
    return have


def realtime_thread() -> bool:
    """Ask real-time scheduling for the calling thread (once per thread); True if it has it."""
    done = getattr(_local, "realtime", None)
    if done is not None:
        return bool(done)
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
        _local.realtime = True
    except (OSError, AttributeError) as exc:
        _local.realtime = False
        if not _refused.is_set():
            _refused.set()
            log.info("audio: no real-time scheduling for the audio threads (%s); they run at "
                     "normal priority and a busy CPU may delay them", exc)
    return bool(_local.realtime)
