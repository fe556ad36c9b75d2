"""Benchmark (not a test): time from a customer's answer to the start of the safe-harbor message,
on calls abandoned on purpose.

The rule: an answered customer who gets no live agent within 2 s must start hearing the
identification message within 2 s of the answer. Runs the real path: PBX + carrier, 4 agents on
real SIP phones (baresip) ready on the agent link, a predictive campaign of 48 customers who
answer after 1-4 s and stay 11-14 s (longer than the shipped 10 s message, which then plays to
its end; `--talk 3` has them all hang up after 3 s, while hearing it). To force abandons, the
floor's pacer is a fixed ratio of 3 calls per ready agent (`engine.floor.make_pacer`) and the
30-day compliance hold is switched off (`engine.holds`), so about two answered customers in
three find every agent busy: the floor decides at `Limits.decide_after` after the answer and
plays the message; Asterisk's PlaybackStarted is the start (`engine.floor.message_delays`).

`--load import`: the 100,000-row import of bench/connect_latency.py in another process meanwhile.

Prints `safe_harbor_start_ms p50=<x> p99=<y> calls=<n> load=<none|import> ...`; exit 1 if a
message started 2 s or more after its answer, 2 if `--load import` did not overlap.
Usage: .venv/bin/python bench/safe_harbor_start.py [--customers N] [--talk S] [--load none|import]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from connect_latency import AREAS, ready_agents, settled  # noqa: E402
from import_load import ImportLoad  # noqa: E402
from latency_stats import latency_line, overlap, overlap_line  # noqa: E402
from sqlalchemy import select  # noqa: E402

from dialer import pacing as pc  # noqa: E402
from dialer.config.settings import load_settings  # noqa: E402
from dialer.core.campaign import CampaignStatus  # noqa: E402
from dialer.core.results import AttemptPhase  # noqa: E402
from dialer.db.campaigns import set_campaign_status  # noqa: E402
from dialer.db.database import Database  # noqa: E402
from dialer.db.models import AttemptEvent, CallAttempt  # noqa: E402
from dialer.pbx import backend  # noqa: E402
from dialer.qa.carrier_plan import Behaviour, number_for  # noqa: E402
from dialer.service.client import scripted_agent  # noqa: E402
from tests.integration.dialer_env import dialer_env, password  # noqa: E402

SEATS = list(range(1001, 1005))
RATIO = 3.0
RULE_S = 2.0


def customer_numbers(count: int, talk_s: int | None = None) -> list[str]:
    """`count` distinct customers who answer after 1-4 s and stay 11-14 s, in turn (so the
    agents soon fall out of step and answers keep coming), or all stay `talk_s`."""
    talks = (talk_s,) if talk_s else (11, 12, 13, 14)
    most = 4 * len(talks) * 10 * len(AREAS)
    if not 0 < count <= most:
        raise ValueError(f"1 to {most} customers, not {count}")
    numbers = []
    for i in range(count):
        k = i // 4 // len(talks)           # what is left to tell them apart: tag, area code
        numbers.append(number_for(Behaviour.ANSWER, 1 + i % 4, talks[i // 4 % len(talks)],
                                  tag=k % 10, area_code=AREAS[k // 10 % len(AREAS)]))
    return numbers


def message_starts(db: Database, campaign_id: int) -> list[tuple[float, float]]:
    """`(answered, message start)` of each stored safe-harbor message (epoch seconds)."""
    with db.session() as session:
        rows = session.execute(
            select(AttemptEvent.at, AttemptEvent.detail).join(CallAttempt)
            .where(CallAttempt.campaign_id == campaign_id,
                   AttemptEvent.phase == AttemptPhase.SAFE_HARBOR)).all()
    out = []
    for at, detail in rows:
        start = at.timestamp()
        out.append((start - (detail or {}).get("after_answer_ms", 0) / 1000, start))
    return out


def over_pacer(_info: Any) -> pc.Pacer:
    return pc.create_pacer("ratio", ratio=RATIO, basis="ready")


async def run(customers: int, talk_s: int | None, load: str) -> int:
    settings = load_settings()
    backend(settings, log=lambda _m: None).up()
    numbers = customer_numbers(customers, talk_s)
    tmp = Path(tempfile.mkdtemp(prefix="bench-safe-harbor-"))
    importer = ImportLoad(tmp / "dialer.sqlite3", tmp) if load == "import" else None
    try:
        async with dialer_env(settings, tmp, SEATS, numbers, mode="predictive") as env:
            env.engine.floor.make_pacer = over_pacer
            env.engine.holds = lambda _db, _info, _now: None
            if importer is not None:
                await asyncio.to_thread(importer.prepare, env.db)
            bots = [asyncio.create_task(scripted_agent(env.url, f"agent{s}", password(s),
                                                       "SALE")) for s in SEATS]
            await ready_agents(env, len(SEATS))
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            if importer is not None:
                importer.start()
            s = await settled(env, len(numbers))
            if importer is not None:
                await asyncio.to_thread(importer.wait)
            for bot in bots:
                bot.cancel()
            await asyncio.gather(*bots, return_exceptions=True)
            delays = [1000 * x for x in env.engine.floor.message_delays]
            stored = message_starts(env.db, env.campaign_id)
    finally:
        if importer is not None:
            importer.stop()
    late = sum(1 for ms in delays if ms >= 1000 * RULE_S)
    print(latency_line("safe_harbor_start_ms", delays, load=load, abandoned=s.abandoned,
                       connected=s.connected, stored=len(stored), late=late))
    code = 1 if late or not delays else 0
    if importer is not None:
        run_w, store = importer.run_window, importer.store
        ov = overlap(run_w, store, [answered for answered, _ in stored])
        print(overlap_line(run_w, store, ov))
        print(latency_line("safe_harbor_start_ms_during_import",
                           [1000 * (m - a) for a, m in stored if run_w.holds(a)]))
        print(latency_line("safe_harbor_start_ms_during_store",
                           [1000 * (m - a) for a, m in stored
                            if store is not None and store.holds(a)]))
        if not ov.overlapped:
            print("the import did not overlap the measured calls: no answer during its store "
                  "phase", file=sys.stderr)
            code = code or 2
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=48)
    parser.add_argument("--talk", type=int, help="seconds every customer stays (default 11-14)")
    parser.add_argument("--load", choices=("none", "import"), default="none",
                        help="import: a 100,000-row list import in another process meanwhile")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.customers, args.talk, args.load))


if __name__ == "__main__":
    sys.exit(main())
