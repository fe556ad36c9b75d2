"""Try one setting of the predictive pacer on the benchmark's cases, on chosen seeds.

    .venv/bin/python bench/pacing_variant.py drop '{"rate_z": 2.5}' --agents 10 --seeds 0-99
    .venv/bin/python bench/pacing_variant.py b0 '{"hour_cap": null}' --agents 5 --seeds 0-2

``drop`` runs the benchmark's ``drop25to12`` case (25 % -> 12 % live four hours into day 2)
and prints its drop report, the four worst campaigns' worst hour after the drop (rate, seed),
and the pooled occupancy of each 5-minute block in the hour after the drop against the
settled level.  ``b0`` runs B0 (30 days a seed; ``--live`` / ``--talk`` change the live rate
or the talk mean as the sensitivity grid does) and prints occupancy, the worst 30-day window
and the worst day.  The setting is a JSON object of ``PredictivePacer`` parameters; ``{}``
is the default.  This is how the variants in docs/pacing.md were compared; the full
comparison with the baselines is ``dialer bench pacing``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dialer.sim.bench import _drop, build_pacer  # noqa: E402
from dialer.sim.engine import simulate  # noqa: E402
from dialer.sim.metrics import Timeline, _rolling_max, analyze_drop, summarize  # noqa: E402
from dialer.sim.scenario import B0, Scenario  # noqa: E402

CHANGE_MIN = 240  # the drop case's change, in minutes into day 2


def _run(task: tuple[Scenario, dict[str, Any], int, bool]) -> Any:
    sc, params, seed, timeline = task
    r = simulate(sc, build_pacer("predictive", params), seed, record_timeline=timeline)
    return r.timelines[1] if timeline else r


def drop(params: dict[str, Any], agents: int, seeds: list[int], jobs: int) -> dict[str, Any]:
    sc = _drop(B0.with_(agents=agents))
    with mp.Pool(jobs) as pool:
        tls: list[Timeline] = pool.map(_run, [(sc, params, s, True) for s in seeds])
    rep = {k: round(v, 4) if isinstance(v, float) else v
           for k, v in asdict(analyze_drop(tls, agents, CHANGE_MIN)).items()}
    n = min(len(t.busy_s) for t in tls) - 1
    worst = sorted((round(_rolling_max(t.lives[:n], t.abandons[:n], CHANGE_MIN, n), 4), s)
                   for t, s in zip(tls, seeds, strict=True))
    occ = [sum(t.busy_s[m] for t in tls) / (60.0 * agents * len(tls)) for m in range(n)]
    blocks = [round(sum(occ[m:m + 5]) / 5 - rep["occupancy_after"], 4)
              for m in range(CHANGE_MIN, CHANGE_MIN + 60, 5)]
    return rep | {"worst4": worst[-4:], "blocks_vs_settled": blocks}


def b0(params: dict[str, Any], sc: Scenario, seeds: list[int], jobs: int) -> dict[str, Any]:
    with mp.Pool(jobs) as pool:
        s = summarize(pool.map(_run, [(sc, params, k, False) for k in seeds]))
    return {"occupancy": round(s.occupancy, 4), "abandon_30d": round(s.abandon_30d, 4),
            "worst_day": round(s.worst_day, 4)}


def seed_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    try:
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds {text!r}: expected N or N-M") from None
    if first < 0 or last < first:
        raise argparse.ArgumentTypeError(f"seeds {text!r}: expected 0 <= N <= M")
    return list(range(first, last + 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", choices=("drop", "b0"))
    ap.add_argument("params", help='PredictivePacer parameters as JSON, e.g. \'{"rate_z": 2.5}\'')
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--seeds", type=seed_range, default=seed_range("0-19"), help="N-M")
    ap.add_argument("--live", type=float, help="b0: live-answer rate instead of 0.25")
    ap.add_argument("--talk", type=float, help="b0: mean talk seconds instead of 120")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as e:
        ap.error(f"params: not JSON ({e})")
    if not isinstance(params, dict):
        ap.error("params: expected a JSON object of PredictivePacer parameters")
    try:  # a wrong name or value fails here, before any worker starts
        build_pacer("predictive", params)
    except (TypeError, ValueError) as e:
        ap.error(f"params: {e}")
    if args.case == "drop":
        out = drop(params, args.agents, args.seeds, args.jobs)
    else:
        sc = B0.with_(agents=args.agents)
        if args.live is not None:
            sc = sc.with_(name="live", live_rate=args.live)
        if args.talk is not None:
            sc = sc.with_(name="talk", talk_mean=args.talk)
        out = b0(params, sc, args.seeds, args.jobs)
    seeds = f"{args.seeds[0]}-{args.seeds[-1]}"
    print(f"pacing_variant case={args.case} agents={args.agents} seeds={seeds} "
          f"params={json.dumps(params)} {json.dumps(out)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
