"""Benchmark plot: occupancy against abandon rate per policy (matplotlib, Agg backend).

One panel per team size of the B0 rows: each tunable baseline's tuning sweep as a
faint line, every policy's final result as a marker (x = pooled abandon rate),
our policy at its internal targets as a line, the cap and the internal target as
vertical lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialer.sim.bench import Row

COLORS = {
    "progressive": "tab:gray",
    "ratio": "tab:orange",
    "vicidial_adapt": "tab:red",
    "omnidialer": "tab:purple",
    "predictive": "tab:blue",
    "oracle": "black",
}


X_MAX = 6.0  # percent: the interesting region around the 3 % cap


def plot_frontiers(rows: Sequence[Row], out: Path, name: str = "pacing_b0.png") -> list[Path]:
    """Write the figure into ``out``; returns the paths written (none without rows)."""
    if not rows:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    teams = sorted({r.agents for r in rows})
    cols = min(3, len(teams))
    nrows = (len(teams) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(6.0 * cols, 4.8 * nrows), squeeze=False)
    for ax in axes.flat[len(teams):]:
        ax.set_visible(False)
    for ax, agents in zip(axes.flat, teams, strict=False):
        mine = [r for r in rows if r.agents == agents]
        ours = sorted(
            (100 * r.summary.abandon_mean, r.summary.occupancy)
            for r in mine if r.policy.startswith("predictive")
        )
        shown: list[float] = []
        off_scale: list[str] = []
        for r in mine:
            base = r.policy.split("@")[0]
            color = COLORS.get(base, "tab:green")
            pts = [(100 * a, o) for a, o in r.sweep if 100 * a <= X_MAX]
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], ".", color=color, alpha=0.35)
                shown += [y for _, y in pts]
            if "@" in r.policy:
                continue
            x, y = 100 * r.summary.abandon_mean, r.summary.occupancy
            label = f"{r.policy} ({y:.3f} at {x:.2f} %)"
            if x > X_MAX:
                off_scale.append(label)
                continue
            shown.append(y)
            ax.plot(x, y, "o", color=color, markersize=9, label=label)
        if len(ours) > 1:
            ax.plot([x for x, _ in ours], [y for _, y in ours], "-",
                    color=COLORS["predictive"], alpha=0.7)
        ax.axvline(3.0, color="tab:red", linestyle="--", linewidth=1, label="cap 3 %")
        ax.axvline(2.5, color="tab:blue", linestyle=":", linewidth=1, label="target 2.5 %")
        if off_scale:
            ax.text(0.02, 0.98, "off scale: " + "; ".join(off_scale), transform=ax.transAxes,
                    fontsize=7, va="top")
        ax.set_xlim(-0.1, X_MAX)
        if shown:
            ax.set_ylim(min(shown) - 0.02, max(shown) + 0.02)
        ax.set_xlabel("abandoned / live answers (%), pooled over all runs")
        ax.set_ylabel("agent occupancy")
        ax.set_title(f"B0, {agents} agents (dots: baseline tuning sweeps)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = out / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
