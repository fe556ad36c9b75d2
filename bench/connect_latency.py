"""Benchmark (not a test): time from a customer's answer to the agent bridge, 20 concurrent calls.

Runs the real path: PBX + carrier, 20 agents on real SIP phones (baresip) ready on the agent
link, a progressive campaign of 20 x ROUNDS customers who answer after 1 s. Two measures:

- ARI: from the customer's StasisStart (the answer reaching the dialer) to the response of the
  addChannel that puts the customer into the agent's bridge (the floor's own timestamps,
  `engine.floor.connect_latencies`);
- wire: from the carrier's 200 OK leaving the carrier to the first RTP packet the PBX sends to the
  customer afterwards (the agent's voice reaching the customer), from a tshark capture on loopback.

`--load import`: when the campaign starts, another process runs `dialer list import` of a
100,000-row list into another campaign of the same SQLite file (bench/import_load.py). The
benchmark checks that the import overlapped the measured calls (its run and its store phase, when
it holds the write lock, against the first and last measured answer; exit 2 if no answer fell in
the store phase) and also prints the latencies of the calls answered during it.

Prints `connect_latency_ms p50=<x> p99=<y> calls=<n> load=<none|import> ...` (ARI) and
`connect_latency_wire_ms ...`.
Usage: .venv/bin/python bench/connect_latency.py [--rounds N] [--load none|import] [--no-wire]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_load import ImportLoad  # noqa: E402
from latency_stats import latency_line, overlap, overlap_line, worst  # noqa: E402
from sqlalchemy import select  # noqa: E402

from dialer.config.settings import load_settings  # noqa: E402
from dialer.core.agent_state import AgentState  # noqa: E402
from dialer.core.campaign import CampaignStatus  # noqa: E402
from dialer.core.floor import Leg  # noqa: E402
from dialer.db import repository as repo  # noqa: E402
from dialer.db.campaigns import set_campaign_status  # noqa: E402
from dialer.db.database import Database  # noqa: E402
from dialer.db.models import CallAttempt  # noqa: E402
from dialer.pbx import backend  # noqa: E402
from dialer.qa.carrier_plan import Behaviour, number_for  # noqa: E402
from dialer.service.client import scripted_agent  # noqa: E402
from tests.integration.dialer_env import DialerEnv, dialer_env, password  # noqa: E402

SEATS = list(range(1001, 1021))
AREAS = ("212", "305", "312", "415", "503", "602", "713", "206")


def customer_numbers(count: int) -> list[str]:
    """`count` distinct numbers of customers who answer after 1-4 s and talk 2-5 s, the four
    ring times taking turns, so that answers are spread over time instead of coming in waves
    (a load that stalls dialing for a few seconds still meets calls ringing)."""
    if not 0 < count <= 4 * 4 * 10 * len(AREAS):
        raise ValueError(f"1 to {4 * 4 * 10 * len(AREAS)} customers, not {count}")
    return [number_for(Behaviour.ANSWER, 1 + i % 4, 2 + i // 4 % 4, tag=i // 16 % 10,
                       area_code=AREAS[i // 160 % len(AREAS)]) for i in range(count)]


# a 10 ms sleeper in a process of its own: how late the machine wakes any process up
MACHINE_TICKER = """
import time
while True:
    t0 = time.perf_counter()
    time.sleep(0.01)
    late = 1000 * (time.perf_counter() - t0 - 0.01)
    if late > 20:
        print(f"{time.time():.3f} {late:.1f}", flush=True)
"""


class Probes:
    """Where the time goes, without touching the service: how late the event loop wakes up
    (a 10 ms ticker), how late the machine wakes another process up (the same ticker in a
    process of its own, stalls over 20 ms), how long this process's full (generation 2) garbage
    collections stop everything, and how long each addChannel request takes (the ARI client's
    `post` wrapped on this instance). A bridge's latency is the wait for the loop to
    start its request plus the request's round trip through Asterisk."""

    def __init__(self, env: DialerEnv) -> None:
        self.lag: list[tuple[float, float]] = []          # (epoch, ms late)
        self.add_channel: list[tuple[float, float]] = []  # (epoch sent, ms)
        self.stalls: list[tuple[float, float]] = []       # (epoch, ms late), machine-wide
        self.gc_pauses: list[tuple[float, float]] = []   # (epoch, ms) of this process's GC
        self._machine = subprocess.Popen([sys.executable, "-c", MACHINE_TICKER],
                                         stdout=subprocess.PIPE, text=True)
        self._gc_t0 = 0.0
        gc.callbacks.append(self._gc)
        ari = env.engine.ari
        post = ari.post

        async def timed_post(path: str, body: Any = None, **params: Any) -> Any:
            if not path.endswith("/addChannel") or not path.startswith("bridges/bridge-agent"):
                return await post(path, body, **params)
            sent, t0 = time.time(), time.perf_counter()
            try:
                return await post(path, body, **params)
            finally:
                self.add_channel.append((sent, 1000 * (time.perf_counter() - t0)))

        ari.post = timed_post  # type: ignore[method-assign]
        self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.01)
            self.lag.append((time.time(), 1000 * (loop.time() - t0 - 0.01)))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif info.get("generation") == 2:
            self.gc_pauses.append((time.time(), 1000 * (time.perf_counter() - self._gc_t0)))

    def stop(self) -> None:
        gc.callbacks.remove(self._gc)
        self._ticker.cancel()
        self._machine.terminate()
        out, _ = self._machine.communicate(timeout=10)
        for line in out.splitlines():
            t, ms = line.split()
            self.stalls.append((float(t), float(ms)))


def wire_latencies(pcap: Path, carrier_port: int, pbx_rtp: range) -> list[float]:
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"udp.port=={carrier_port},sip", "-T", "fields",
         "-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "udp.dstport",
         "-e", "sip.Status-Code", "-e", "sip.CSeq.method", "-e", "sdp.media.port",
         "-E", "separator=;"], capture_output=True, text=True, check=True).stdout
    answers: list[tuple[float, int]] = []
    rtp_to: dict[int, list[float]] = {}
    for line in out.splitlines():
        t, src, dst, status, method, media = (line.split(";") + [""] * 6)[:6]
        if not src:
            continue
        if src == str(carrier_port) and status == "200" and method == "INVITE" and media:
            answers.append((float(t), int(media.split(",")[0])))
        elif int(src) in pbx_rtp:
            rtp_to.setdefault(int(dst), []).append(float(t))
    lat = []
    for t_answer, port in answers:
        after = [t for t in rtp_to.get(port, []) if t >= t_answer]
        if after:
            lat.append(min(after) - t_answer)
    return lat


async def ready_agents(env: DialerEnv, count: int, timeout: float = 60) -> None:
    """Until `count` agents have their voice channel up and are ready."""
    for _ in range(int(timeout / 0.1)):
        if sum(1 for seat in env.engine.floor.seats.values()
               if seat.leg is Leg.UP and seat.machine.state is AgentState.READY) >= count:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{count} agents were not ready within {timeout:.0f} s")


async def settled(env: DialerEnv, attempts: int, timeout: float = 600) -> repo.CampaignSummary:
    """The summary once every contact has its attempt and none is open (read off the loop)."""
    for _ in range(int(timeout / 0.5)):
        await asyncio.sleep(0.5)
        s = await asyncio.to_thread(repo.campaign_summary, env.db, env.campaign_id)
        print(f"  {s.attempts} attempts, {s.connected} connected", file=sys.stderr, end="\r")
        if s.attempts == attempts and s.open_attempts == 0:
            print(file=sys.stderr)
            return s
    raise RuntimeError(f"the campaign did not settle within {timeout:.0f} s")


def bridged_calls(db: Database, campaign_id: int) -> list[tuple[float, float, float]]:
    """`(started, answered, answer -> bridge in ms)` of each bridged attempt (epoch seconds)."""
    with db.session() as session:
        rows = session.execute(select(CallAttempt.started_at, CallAttempt.answered_at,
                                      CallAttempt.bridged_at)
                               .where(CallAttempt.campaign_id == campaign_id)).all()
    return [(s.timestamp(), a.timestamp(), 1000 * (b - a).total_seconds())
            for s, a, b in rows if a is not None and b is not None]


def started_in(db: Database, campaign_id: int) -> list[float]:
    with db.session() as session:
        return [t.timestamp() for t in session.scalars(
            select(CallAttempt.started_at).where(CallAttempt.campaign_id == campaign_id))]


async def run(rounds: int, load: str, wire: bool) -> int:
    settings = load_settings()
    backend(settings, log=lambda _m: None).up()
    numbers = customer_numbers(len(SEATS) * rounds)
    tmp = Path(tempfile.mkdtemp(prefix="bench-connect-"))
    pcap = tmp / "lo.pcap"
    cap = (subprocess.Popen(["tshark", "-i", "lo", "-q", "-f", "udp", "-w", str(pcap)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
           if wire else None)
    importer = ImportLoad(tmp / "dialer.sqlite3", tmp) if load == "import" else None
    time.sleep(2 if wire else 0)
    try:
        async with dialer_env(settings, tmp, SEATS, numbers) as env:
            if importer is not None:
                await asyncio.to_thread(importer.prepare, env.db)
            bots = [asyncio.create_task(scripted_agent(env.url, f"agent{s}", password(s),
                                                       "SALE")) for s in SEATS]
            await ready_agents(env, len(SEATS))
            gc.collect()        # as `dialer serve` does after start-up (dialer/cli/admin.py)
            gc.freeze()
            probes = Probes(env)
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            if importer is not None:
                importer.start()
            s = await settled(env, len(numbers))
            probes.stop()
            if importer is not None:
                await asyncio.to_thread(importer.wait)
            for bot in bots:
                bot.cancel()
            await asyncio.gather(*bots, return_exceptions=True)
            ari = [1000 * x for x in env.engine.floor.connect_latencies]
            calls = bridged_calls(env.db, env.campaign_id)
            started = started_in(env.db, env.campaign_id)
    finally:
        if importer is not None:
            importer.stop()
        if cap is not None:
            time.sleep(1)
            cap.terminate()
            cap.wait(10)
    print(latency_line("connect_latency_ms", ari, load=load, concurrent=len(SEATS),
                       abandoned=s.abandoned))
    origin = min((answered for _, answered, _ in calls), default=0.0)
    print(f"worst_connects_ms={worst([(t, ms) for _, t, ms in calls], origin)} "
          "(times from the first answer)")
    print(latency_line("add_channel_http_ms", [ms for _, ms in probes.add_channel]))
    print(latency_line("event_loop_lag_ms", [ms for _, ms in probes.lag], "ticks",
                       worst=worst(probes.lag, origin)))
    print(f"machine_stalls_over_20ms={len(probes.stalls)} worst={worst(probes.stalls, origin)}")
    print(f"full_gc_pauses={len(probes.gc_pauses)} worst={worst(probes.gc_pauses, origin)}")
    code = 0
    if importer is not None:
        run_w, store = importer.run_window, importer.store
        ov = overlap(run_w, store, [answered for _, answered, _ in calls])
        print(overlap_line(run_w, store, ov))
        print(latency_line("connect_latency_ms_during_import",
                           [ms for _, t, ms in calls if run_w.holds(t)]))
        print(latency_line("add_channel_http_ms_during_import",
                           [ms for t, ms in probes.add_channel if run_w.holds(t)]))
        print(latency_line("event_loop_lag_ms_during_import",
                           [ms for t, ms in probes.lag if run_w.holds(t)], "ticks"))
        print(latency_line("connect_latency_ms_during_store",
                           [ms for _, t, ms in calls if store is not None and store.holds(t)]))
        if store is not None:
            print(f"import_store_s={store.end - store.start:.2f} attempts_started_during_store="
                  f"{sum(1 for t in started if store.holds(t))} (dialing waits on the claims' "
                  f"writes while the import holds the write lock)")
        if not ov.overlapped:
            print("the import did not overlap the measured calls: no answer during its store "
                  "phase", file=sys.stderr)
            code = 2
    if cap is not None:
        wire_ms = [1000 * x for x in wire_latencies(
            pcap, settings.carrier.sip_port,
            range(settings.pbx.rtp_start, settings.pbx.rtp_end + 1))]
        print(latency_line("connect_latency_wire_ms", wire_ms) if wire_ms
              else "connect_latency_wire_ms: no answers found in the capture")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load", choices=("none", "import"), default="none",
                        help="import: a 100,000-row list import in another process meanwhile")
    parser.add_argument("--no-wire", action="store_true",
                        help="no tshark capture (and no wire measure)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.rounds, args.load, not args.no_wire))


if __name__ == "__main__":
    sys.exit(main())
