"""Figure functions: tidy table -> matplotlib Figure, one shared style.

A figure never simulates: every function here takes the table an experiment returned (or
read back from ``figures/data/NAME.csv``) and only draws it. Log-log axes carry fitted
slopes (least squares on the logs) where a scaling is claimed.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["PALETTE", "SAMPLER_STYLE", "fitted_slope", "new_figure", "plot_discretization"]

#: Okabe-Ito colour-blind-safe palette.
PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
)
#: One colour and marker per sampler variant, used by every figure.
SAMPLER_STYLE: dict[str, dict[str, str]] = {
    "beta": {"color": PALETTE[3], "marker": "o"},
    "posterior": {"color": PALETTE[0], "marker": "s"},
    "ddim": {"color": PALETTE[2], "marker": "^"},
}
RC = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7,
    "legend.frameon": False,
}


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 4.0, height: float = 3.2,
               **kwargs: object) -> tuple[Figure, np.ndarray]:
    """A figure in the shared style, with a 2-D array of axes."""
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                                 squeeze=False, **kwargs)
    for ax in axes.flat:
        for key in ("axes.grid",):
            ax.grid(RC[key], alpha=0.3)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
    return fig, axes


def fitted_slope(x: Iterable[float], y: Iterable[float]) -> float:
    """Least-squares slope of log y on log x (positive entries only)."""
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    keep = (x > 0) & (y > 0) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def plot_discretization(df: pd.DataFrame) -> Figure:
    """KL(q_1 || p_1) against T, one line per (d, sampler), log-log, with fitted slopes.

    One panel per schedule (c0, c1) and initialization; line shade darkens with d.
    """
    exact = df[df["kind"] == "exact"]
    panels = list(exact.groupby(["c0", "c1", "init"], sort=True))
    fig, axes = new_figure(1, len(panels), width=4.2, height=3.6)
    d_values = sorted(exact["d"].unique())
    for ax, ((c0, c1, init), panel) in zip(axes.flat, panels, strict=True):
        for variance, style in SAMPLER_STYLE.items():
            sub = panel[panel["variance"] == variance]
            for i, d in enumerate(d_values):
                line = sub[sub["d"] == d].sort_values("T")
                if line.empty:
                    continue
                alpha = 0.35 + 0.65 * i / max(len(d_values) - 1, 1)
                slope = fitted_slope(line["T"], line["kl"])
                label = f"{variance}, d={d} (slope {slope:.2f})" if i in (0, len(d_values) - 1) else None
                ax.loglog(line["T"], line["kl"], color=style["color"], marker=style["marker"],
                          markersize=3, linewidth=1, alpha=alpha, label=label)
        ax.set_title(f"Li schedule c0={c0:g}, c1={c1:g}; Y_T ~ {'N(0, I)' if init == 'standard' else 'q_T'}",
                     fontsize=8)
        ax.set_xlabel("steps T")
        ax.set_ylabel("KL(q_1 || p_1), exact")
        ax.legend(loc="lower left", ncol=1)
    fig.suptitle("Discretization error with exact scores, s = 4 active coordinates", fontsize=9)
    fig.tight_layout()
    return fig
