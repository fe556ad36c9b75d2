"""Benchmark (not a test): time from a customer's answer to the agent bridge, 20 concurrent calls.

Runs the real path: PBX + carrier, 20 agents on real SIP phones (baresip) ready on the agent
link, a progressive campaign of 20 x ROUNDS customers who answer after 1 s. Two measures:

- ARI: from the customer's StasisStart (the answer reaching the dialer) to the response of the
  addChannel that puts the customer into the agent's bridge (the engine's own timestamps);
- wire: from the carrier's 200 OK leaving the carrier to the first RTP packet the PBX sends to the
  customer afterwards (the agent's voice reaching the customer), from a tshark capture on loopback.

Prints `connect_latency_ms p50=<x> p99=<y> calls=<n>` (ARI) and `connect_latency_wire_ms ...`.
Usage: .venv/bin/python bench/connect_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.config.settings import load_settings  # noqa: E402
from dialer.core.campaign import CampaignStatus  # noqa: E402
from dialer.db import repository as repo  # noqa: E402
from dialer.db.campaigns import set_campaign_status  # noqa: E402
from dialer.pbx import backend  # noqa: E402
from dialer.qa.carrier_plan import Behaviour, number_for  # noqa: E402
from dialer.service.client import scripted_agent  # noqa: E402
from tests.integration.dialer_env import dialer_env, password  # noqa: E402

SEATS = list(range(1001, 1021))


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


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


async def run(rounds: int) -> None:
    settings = load_settings()
    backend(settings, log=lambda _m: None).up()
    # distinct numbers: the tag digit, the area code and the talk seconds (2-9) vary
    areas = ("212", "305", "312", "415", "503", "602", "713", "206")
    numbers = [number_for(Behaviour.ANSWER, 1, 2 + i // 80, tag=i % 10,
                          area_code=areas[i // 10 % 8]) for i in range(len(SEATS) * rounds)]
    assert len(set(numbers)) == len(numbers), "numbers must be distinct"
    tmp = Path(tempfile.mkdtemp(prefix="bench-connect-"))
    pcap = tmp / "lo.pcap"
    cap = subprocess.Popen(["tshark", "-i", "lo", "-q", "-f", "udp", "-w", str(pcap)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    try:
        async with dialer_env(settings, tmp, SEATS, numbers) as env:
            bots = [asyncio.create_task(scripted_agent(env.url, f"agent{s}", password(s),
                                                       "SALE")) for s in SEATS]
            while sum(1 for a in env.engine.agents.values()
                      if a.leg_up and a.machine.state.value == "ready") < len(SEATS):
                await asyncio.sleep(0.1)
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            while True:
                await asyncio.sleep(0.5)
                s = repo.campaign_summary(env.db, env.campaign_id)
                print(f"  {s.attempts} attempts, {s.connected} connected", file=sys.stderr,
                      end="\r")
                if s.attempts == len(numbers) and s.open_attempts == 0:
                    break
            for bot in bots:
                bot.cancel()
            await asyncio.gather(*bots, return_exceptions=True)
            ari = [1000 * x for x in env.engine.connect_latencies]
            abandoned = s.abandoned
    finally:
        time.sleep(1)
        cap.terminate()
        cap.wait(10)
    print(file=sys.stderr)
    wire = [1000 * x for x in wire_latencies(
        pcap, settings.carrier.sip_port, range(settings.pbx.rtp_start, settings.pbx.rtp_end + 1))]
    print(f"connect_latency_ms p50={percentile(ari, 50):.2f} p99={percentile(ari, 99):.2f} "
          f"calls={len(ari)} concurrent={len(SEATS)} abandoned={abandoned}")
    if wire:
        print(f"connect_latency_wire_ms p50={percentile(wire, 50):.2f} "
              f"p99={percentile(wire, 99):.2f} calls={len(wire)}")
    else:
        print("connect_latency_wire_ms: no answers found in the capture")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
