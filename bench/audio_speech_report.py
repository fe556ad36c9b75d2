"""The speech part's figures for the audio benchmark (bench/softphone_audio.py): PESQ per
direction and loss, with the spread, the concealment ceiling and the estimate."""

from __future__ import annotations

import math
import statistics

from tests.integration.speech_path import SpeechScore


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} sd={sd:.2f} min={min(values):.2f} max={max(values):.2f}"


def print_speech(speech: dict[float, list[SpeechScore]],
                 ceiling: dict[float, list[tuple[float, float]]],
                 population: dict[float, tuple[float, float]], population_seeds: int,
                 loads: dict[float, tuple[float, float]]) -> None:
    for loss, scores in speech.items():
        to_a = [sc.to_agent for sc in scores]
        to_c = [sc.to_customer for sc in scores]
        to_s = [sc.to_customer_simple for sc in scores]
        print(f"speech_quality pesq_to_agent={statistics.mean(to_a):.2f} "
              f"pesq_to_customer={statistics.mean(to_c):.2f} "
              f"pesq_to_customer_simple={statistics.mean(to_s):.2f} loss={loss:g} "
              f"runs={len(scores)} min_to_agent={min(to_a):.2f} "
              f"min_to_customer={min(to_c):.2f} voice={scores[0].voice}")
        if loss in loads:
            print(f"detail: load average (1 min) {loads[loss][0]:.1f} before the calls, "
                  f"{loads[loss][1]:.1f} after")
        print(f"detail: to agent                               {spread(to_a)}")
        at_bridge = [sc.to_agent_at_bridge for sc in scores]
        if not any(math.isnan(x) for x in at_bridge):
            print(f"detail: to agent, as the bridge got it         {spread(at_bridge)}  (before "
                  "the headset's stream: the rest is the sound device's harm)")
        print(f"detail: to customer, phone with G.711 App. I  {spread(to_c)}  (the target's)")
        print(f"detail: to customer, phone repeating at -6 dB {spread(to_s)}")
        print(f"detail: to customer, as it arrived (no loss)  "
              f"{spread([sc.to_customer_arrived for sc in scores])}  (the path's own harm)")
        if loss in ceiling:
            ceil_a = [a for a, _ in ceiling[loss]]
            ceil_c = [c for _, c in ceiling[loss]]
            print(f"detail: the same lost packets, G.711 + App. I alone (no network, PBX or "
                  f"softphone): to agent {spread(ceil_a)}, to customer {spread(ceil_c)}")
            diff_a = [m - c for m, c in zip(to_a, ceil_a, strict=True)]
            diff_c = [m - c for m, c in zip(to_c, ceil_c, strict=True)]
            print(f"detail: measured - that, run by run: to agent {spread(diff_a)}, "
                  f"to customer {spread(diff_c)}")
            if loss in population:
                pop_a, pop_c = population[loss]
                print(f"speech_quality_estimate pesq_to_agent={pop_a + statistics.mean(diff_a):.2f}"
                      f" pesq_to_customer={pop_c + statistics.mean(diff_c):.2f} loss={loss:g} "
                      f"ceiling_to_agent={pop_a:.2f} ceiling_to_customer={pop_c:.2f} "
                      f"patterns={population_seeds}")
                print(f"detail: (the mean over {population_seeds} loss patterns of G.711 + App. I "
                      "alone, plus what the measured path lost against it on the runs' own "
                      "patterns: the mean over many patterns, without calling that often)")
        print("detail: speech runs (seed: to agent / to customer App. I / simple; packets lost "
              "to agent, to customer; to agent as the bridge got it): " +
              ", ".join(f"{sc.seed}: {sc.to_agent:.2f}/{sc.to_customer:.2f}/"
                        f"{sc.to_customer_simple:.2f} ({sc.dropped_tx},{sc.dropped_rx}; "
                        f"{sc.to_agent_at_bridge:.2f})"
                        for sc in scores))
