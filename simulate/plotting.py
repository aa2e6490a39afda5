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
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
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


def new_figure(
    nrows: int = 1, ncols: int = 1, width: float = 4.0, height: float = 3.2, **kwargs: object
) -> tuple[Figure, np.ndarray]:
    """A figure in the shared style, with a 2-D array of axes."""
    with plt.rc_context(RC):
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs
        )
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


def _log_ticks(ax: object, values: Iterable[float]) -> None:
    """Major ticks at the grid values, plain labels, no minor labels (log x axis)."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    values = sorted(set(values))
    ax.xaxis.set_major_locator(FixedLocator(values))  # type: ignore[attr-defined]
    ax.xaxis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]
    ax.set_xticklabels([f"{v:g}" for v in values])  # type: ignore[attr-defined]


def plot_discretization(df: pd.DataFrame) -> Figure:
    """KL(q_1 || p_1) against T, one line per (d, sampler), log-log, with fitted slopes.

    Rows: schedule constants (c0, c1); columns: Y_T ~ N(0, I) (the convention) and
    Y_T ~ q_T (initialization error removed). Darker lines are larger d; the legend gives
    the fitted log-log slope at the smallest and the largest d.
    """
    exact = df[df["kind"] == "exact"]
    consts = sorted({(c0, c1) for c0, c1 in zip(exact["c0"], exact["c1"], strict=True)})
    inits = [i for i in ("standard", "exact") if i in set(exact["init"])]
    fig, axes = new_figure(len(consts), len(inits), width=4.6, height=3.4)
    d_values = sorted(exact["d"].unique())
    for r, (c0, c1) in enumerate(consts):
        for c, init in enumerate(inits):
            ax = axes[r, c]
            panel = exact[(exact["c0"] == c0) & (exact["c1"] == c1) & (exact["init"] == init)]
            for variance, style in SAMPLER_STYLE.items():
                sub = panel[panel["variance"] == variance]
                for i, d in enumerate(d_values):
                    line = sub[sub["d"] == d].sort_values("T")
                    if line.empty:
                        continue
                    shade = 0.3 + 0.7 * i / max(len(d_values) - 1, 1)
                    slope = fitted_slope(line["T"], line["kl"])
                    label = None
                    if i in (0, len(d_values) - 1):
                        label = f"{variance}, d={d}: slope {slope:.2f}"
                    ax.loglog(
                        line["T"],
                        line["kl"],
                        color=style["color"],
                        marker=style["marker"],
                        markersize=3,
                        linewidth=1,
                        alpha=shade,
                        label=label,
                    )
            _log_ticks(ax, panel["T"])
            start = "Y_T ~ N(0, I)" if init == "standard" else "Y_T ~ q_T (no init. error)"
            abar = panel["alpha_bar_T"]
            ax.set_title(
                f"c0={c0:g}, c1={c1:g}; {start}\nalpha_bar_T in "
                f"[{abar.min():.1e}, {abar.max():.1e}]",
                fontsize=8,
            )
            ax.set_xlabel("steps T")
            ax.set_ylabel("KL(q_1 || p_1), exact")
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6)
    fig.suptitle(
        f"Discretization error with exact scores (aligned Gaussian data, "
        f"s = {int(exact['s'].iloc[0])}, lambda = {exact['lam'].iloc[0]:g}); "
        f"darker = larger d in {[int(d) for d in d_values]}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
