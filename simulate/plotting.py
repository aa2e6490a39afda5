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

__all__ = [
    "PALETTE",
    "SAMPLER_STYLE",
    "fitted_slope",
    "new_figure",
    "plot_diffusers_schedulers",
    "plot_discretization",
    "plot_fewer_steps",
    "plot_r_guidance",
    "plot_toy",
    "plot_verify",
]

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


# -- score estimators: sample complexity and r sensitivity (issue 4) ---------------------------

__all__ += ["ESTIMATOR_STYLE", "plot_r_sensitivity", "plot_sample_complexity"]

#: One colour and marker per score estimator (experiments sample_complexity, r_sensitivity).
ESTIMATOR_STYLE: dict[str, dict[str, str]] = {
    "ls": {"color": PALETTE[7], "marker": "o", "label": "least squares (LinearDSM)"},
    "l1_denoiser": {"color": PALETTE[0], "marker": "s", "label": "l1 on denoiser (L1DSM)"},
    "l1_score": {"color": PALETTE[3], "marker": "v", "label": "l1 on score (L1DSM)"},
    "empirical": {"color": PALETTE[2], "marker": "^", "label": "empirical (memorizes)"},
    "exact": {"color": PALETTE[5], "marker": "D", "label": "exact score"},
    "perturbed": {"color": PALETTE[4], "marker": "P", "label": "exact + constant error"},
}


def plot_sample_complexity(df: pd.DataFrame) -> Figure:
    """eps_score^2 against n, d and s (rows), per data geometry (columns), log-log.

    Points: mean over replicates, bars: min to max; the legend gives the log-log slope
    fitted to all replicates. Dashed grey: the exact least-squares formula (``pred_ls``).
    """
    sweeps = [s for s in ("n", "d", "s") if s in set(df["sweep"])]
    geometries = [g for g in ("aligned", "rotated", "random_support") if g in set(df["geometry"])]
    fig, axes = new_figure(len(sweeps), len(geometries), width=3.9, height=3.1)
    for r, sweep in enumerate(sweeps):
        for c, geometry in enumerate(geometries):
            ax = axes[r, c]
            panel = df[(df["sweep"] == sweep) & (df["geometry"] == geometry)]
            for name, style in ESTIMATOR_STYLE.items():
                sub = panel[panel["estimator"] == name]
                if sub.empty:
                    continue
                stats = sub.groupby(sweep)["eps2"].agg(["mean", "min", "max"])
                slope = fitted_slope(sub[sweep], sub["eps2"])
                ax.errorbar(
                    stats.index,
                    stats["mean"],
                    yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                    color=style["color"],
                    marker=style["marker"],
                    markersize=3,
                    linewidth=1,
                    capsize=2,
                    label=f"{style['label']}: slope {slope:.2f}",
                )
            ls = panel[(panel["estimator"] == "ls") & panel["pred_ls"].notna()]
            if not ls.empty:
                pred = ls.groupby(sweep)["pred_ls"].mean()
                ax.plot(
                    pred.index,
                    pred.values,
                    "--",
                    color="0.55",
                    linewidth=1,
                    label="least squares, exact formula",
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            if not panel.empty:
                _log_ticks(ax, panel[sweep])
                fixed = {"n": ("d", "s"), "d": ("n", "s"), "s": ("n", "d")}[sweep]
                held = ", ".join(f"{k}={int(panel[k].iloc[0])}" for k in fixed)
                ax.set_title(f"{geometry}; {held}", fontsize=8)
            ax.set_xlabel(sweep)
            ax.set_ylabel("eps_score^2 (SCIENCE.md 1.1)")
            ax.legend(fontsize=5.5, loc="best")
    T = int(df["T"].iloc[0]) if "T" in df else 0
    fig.suptitle(
        f"Sample complexity of score estimation (Li schedule, T = {T}); "
        f"{df['replicate'].nunique()} replicates per point",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_r_sensitivity(df: pd.DataFrame) -> Figure:
    """eps_score^2 and exact KL(q_1 || p_1) against r / r_rule, per geometry (rows).

    Lines: mean over replicates per parametrization of the penalty; stars: the
    cross-validated r; grey dashed: least squares (r = 0); black dotted: the exact score
    (discretization error only); vertical line: the rule (factor 1).
    """
    geometries = [g for g in ("aligned", "rotated") if g in set(df["geometry"])]
    metrics_ = [
        ("eps2", "eps_score^2"),
        ("kl_posterior", "KL, posterior sampler"),
        ("kl_beta", "KL, beta sampler"),
    ]
    colours = {"denoiser": ESTIMATOR_STYLE["l1_denoiser"], "score": ESTIMATOR_STYLE["l1_score"]}
    fig, axes = new_figure(len(geometries), len(metrics_), width=3.6, height=3.0)
    for r, geometry in enumerate(geometries):
        panel = df[df["geometry"] == geometry]
        for c, (col, title) in enumerate(metrics_):
            ax = axes[r, c]
            for parametrization, style in colours.items():
                swept = panel[
                    (panel["parametrization"] == parametrization)
                    & panel["choice"].isin(["rule", "factor"])
                ]
                if swept.empty:
                    continue
                mean = swept.groupby("factor")[col].mean()
                ax.plot(
                    mean.index,
                    mean.values,
                    color=style["color"],
                    marker=style["marker"],
                    markersize=3,
                    linewidth=1,
                    label=f"penalty on {parametrization}",
                )
                cv = panel[
                    (panel["parametrization"] == parametrization) & (panel["choice"] == "cv")
                ]
                if not cv.empty:
                    ax.plot(
                        cv["factor"],
                        cv[col],
                        "*",
                        color=style["color"],
                        markersize=7,
                        alpha=0.7,
                        label=f"{parametrization}: cross-validated r",
                    )
            for choice, fmt, label in (
                ("ls", "--", "least squares (r = 0)"),
                ("exact", ":", "exact score"),
            ):
                ref = panel[panel["choice"] == choice][col]
                if not ref.empty and (col != "eps2" or choice != "exact"):
                    ax.axhline(
                        ref.mean(),
                        linestyle=fmt,
                        color="0.3" if choice == "exact" else "0.55",
                        linewidth=1,
                        label=label,
                    )
            ax.axvline(1.0, color="0.8", linewidth=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("r / r_rule")
            ax.set_title(f"{title}; {geometry}", fontsize=8)
            if c == 0:
                ax.legend(fontsize=5.5, loc="best")
    first = df.iloc[0]
    fig.suptitle(
        f"Sensitivity to r (d = {int(first['d'])}, s = {int(first['s'])}, n = {int(first['n'])}, "
        f"T = {int(first['T'])}); {df['replicate'].nunique()} replicates",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


# -- sparsity of the true score and denoiser (issue 3) -----------------------------------------

__all__ += ["plot_sparsity"]


def plot_sparsity(df: pd.DataFrame) -> Figure:
    """Effective sparsity of the exact score and denoiser against alpha_bar, per model.

    The x axis is the signal-to-noise ratio alpha_bar / (1 - alpha_bar) on a log scale
    (labelled by alpha_bar), which spreads both ends of the alpha_bar grid.

    Panels: the score's ||v||_1^2 / ||v||_2^2 as a fraction of d; the denoiser's share of
    squared mass in its top s coordinates; the denoiser's ||v||_1^2 / ||v||_2^2 as a fraction
    of d. Points are means over replicates with 95% t intervals; dashed lines are the claims'
    thresholds (the table's ``dense_fraction`` and ``sparse_share`` columns, written by
    ``sparsity.figure_table``) and 2/pi, the value of a Gaussian vector.
    """
    from simulate.stats import mean_ci

    dense = float(df["dense_fraction"].iloc[0]) if "dense_fraction" in df else None
    share = float(df["sparse_share"].iloc[0]) if "sparse_share" in df else None
    panels = (
        ("score_eff_frac", "score: ||v||_1^2 / (||v||_2^2 d)", dense, "linear"),
        ("denoiser_top_share", "denoiser: share of ||v||^2 in top s", share, "linear"),
        ("denoiser_eff_frac", "denoiser: ||v||_1^2 / (||v||_2^2 d)", None, "log"),
    )
    fig, axes = new_figure(1, len(panels), width=4.2, height=3.6)
    keys = list(dict.fromkeys(df["model_key"]))
    markers = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")
    for c, (col, title, threshold, yscale) in enumerate(panels):
        ax = axes[0, c]
        for i, key in enumerate(keys):
            sub = df[df["model_key"] == key]
            stats = [(ab, *mean_ci(g[col].to_numpy())) for ab, g in sub.groupby("alpha_bar")]
            ab, mean, lo, hi = (np.array(v, dtype=float) for v in zip(*stats, strict=True))
            first = sub.iloc[0]
            ax.errorbar(
                ab / (1.0 - ab),
                mean,
                yerr=np.vstack([mean - lo, hi - mean]),
                color=PALETTE[i % len(PALETTE)],
                marker=markers[i % len(markers)],
                linestyle="-" if i < len(PALETTE) else "--",
                markersize=3,
                linewidth=1,
                capsize=2,
                label=f"{key} (d={int(first['d'])}, s={int(first['s_model'])})",
            )
        if threshold is not None:
            ax.axhline(threshold, color="0.4", linestyle="--", linewidth=1)
        if col == "score_eff_frac":
            ax.axhline(2 / np.pi, color="0.7", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale(yscale)
        grid = np.array(sorted(set(df["alpha_bar"])), dtype=float)
        ax.set_xticks(grid / (1.0 - grid), [f"{g:g}" for g in grid], fontsize=6)
        ax.minorticks_off()
        ax.set_xlabel("alpha_bar (log scale of alpha_bar / (1 - alpha_bar))")
        ax.set_title(title, fontsize=8)
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6)
    fig.suptitle(
        f"Is the true score sparse? Exact scores and denoisers on draws of q_t "
        f"({df['replicate'].nunique()} replicates of n = {int(df['n'].iloc[0])}); "
        "dashed: claim thresholds, dotted: 2/pi (Gaussian noise)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


# -- Theorem 1 as read, with a fitted constant (issue 5) ---------------------------------------

__all__ += ["plot_paper_bound"]


def plot_paper_bound(df: pd.DataFrame) -> Figure:
    """KL / (C_fit x bound) against d: the paper's bound (top row) and Li et al.'s (bottom).

    One column per sampler; one marker per training replicate. C_fit is fitted per estimator
    and sampler on the fit grid (hollow markers: the geometric mean over replicates of each
    fit point is <= 1 by construction); filled markers are the fresh drawn points. Fresh
    points above the line y = 1 exceed the bound with the fitted constant; the experiment's
    verdict asks whether they do so beyond replicate noise (experiment ``paper_bound``).
    ``df`` carries the ``scaled_paper`` / ``scaled_li`` columns (``paper_bound.figure_table``).
    """
    table = df
    rows = (("paper", "paper (s^2 log^3 T / T + eps^2 log T)"), ("li", "Li et al. (d^2 ...)"))
    samplers = list(dict.fromkeys(table["sampler"]))
    fig, axes = new_figure(len(rows), len(samplers), width=3.8, height=3.1)
    for r, (key, title) in enumerate(rows):
        for c, sampler in enumerate(samplers):
            ax = axes[r, c]
            panel = table[table["sampler"] == sampler]
            for name, grp in panel.groupby("estimator", sort=False):
                style = ESTIMATOR_STYLE.get(name, {"color": "0.5", "marker": "o", "label": name})
                for grid, filled in (("fit", False), ("fresh", True)):
                    sub = grp[grp["grid"] == grid]
                    ax.scatter(
                        sub["d"] * (1.0 + 0.04 * (list(ESTIMATOR_STYLE).index(name) - 3)),
                        sub[f"scaled_{key}"],
                        s=14,
                        marker=style["marker"],
                        facecolors=style["color"] if filled else "none",
                        edgecolors=style["color"],
                        linewidths=0.8,
                        alpha=0.85,
                        label=f"{style['label']}" if grid == "fresh" else None,
                    )
            ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            lo, hi = int(table["d"].min()), int(table["d"].max())
            _log_ticks(ax, [2**j for j in range(lo.bit_length() - 1, hi.bit_length() + 1)])
            ax.set_xlabel("d (ambient dimension)")
            ax.set_ylabel("KL / (C_fit x bound)")
            ax.set_title(f"{title}; {sampler} sampler", fontsize=7.5)
    axes[0, 0].legend(fontsize=5.5, loc="lower left")
    first = df.iloc[0]
    fig.suptitle(
        "Bounds with a constant fitted on one grid (hollow) tested on fresh drawn points "
        f"(filled); n = {int(first['n'])}, Li schedule c0 = {first['c0']:g}, "
        f"c1 = {first['c1']:g}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_verify(df: pd.DataFrame) -> Figure:
    """The verify battery of one model (``simulate.verify``), one line per sampler.

    Panels: MMD^2(p_1, q_1) against T with the noise floor (mean and +-2 sd of two q_1
    samples, grey band); and, for models with a support, the exact KL of one off-support
    (pure-noise) coordinate against T (the slope of the KL in d). With a sweep, the largest
    swept value is drawn.
    """
    samp = df[df["part"] == "sampler"]
    floor = df[df["part"] == "floor"]
    if len(samp):
        last = samp["sweep_value"].iloc[-1]
        samp, floor = samp[samp["sweep_value"] == last], floor[floor["sweep_value"] == last]
    has_off = "kl_off_coord" in samp and samp["kl_off_coord"].notna().any()
    fig, axes = new_figure(1, 2 if has_off else 1, width=4.2, height=3.4)
    ax = axes[0, 0]
    stats = floor.groupby("T")["mmd2"].agg(["mean", "std"]).reset_index()
    ax.fill_between(
        stats["T"], stats["mean"] - 2 * stats["std"], stats["mean"] + 2 * stats["std"],
        color="0.85", label="noise floor (+-2 sd)",
    )  # fmt: skip
    for name, g in samp.groupby("sampler", sort=False):
        style = SAMPLER_STYLE.get(str(name), {"color": PALETTE[4], "marker": "D"})
        ax.errorbar(g["T"], g["mmd2"], yerr=2 * g["mmd2_se"], label=str(name), **style)
    ax.set_xscale("log")
    ax.set_xlabel("T")
    ax.set_ylabel("MMD^2(p_1, q_1)")
    ax.set_title(str(samp["model"].iloc[0]) if len(samp) else "")
    ax.legend()
    if has_off:
        ax = axes[0, 1]
        for name, g in samp.groupby("sampler", sort=False):
            style = SAMPLER_STYLE.get(str(name), {"color": PALETTE[4], "marker": "D"})
            ax.plot(g["T"], np.maximum(g["kl_off_coord"], 1e-300), label=str(name), **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T")
        ax.set_ylabel("exact KL per off-support coordinate")
        ax.set_title("slope of KL in d at fixed s (from N(0, I))")
        ax.legend()
    fig.tight_layout()
    return fig


# -- VP-SDE schemes on the CIFAR-10 Gaussian (issue 12) ---------------------------------------

__all__ += ["SCHEME_STYLE", "plot_gaussian_schemes"]

#: One colour and marker per VP-SDE scheme (Pierret & Galerne's names).
SCHEME_STYLE: dict[str, dict[str, str]] = {
    "EM": {"color": PALETTE[3], "marker": "o"},
    "EI": {"color": PALETTE[1], "marker": "s"},
    "DDPM": {"color": PALETTE[4], "marker": "v"},
    "Euler": {"color": PALETTE[0], "marker": "^"},
    "Heun": {"color": PALETTE[2], "marker": "D"},
    "RK4": {"color": PALETTE[7], "marker": "P"},
}


def plot_gaussian_schemes(df: pd.DataFrame) -> Figure:
    """Exact W2 to the data law against the NFE budget, one panel per early stop eps (solid:
    start p_T; dashed: N(0, I)); last panel: W2 to p_eps from p_T over the order sweep, with
    the fitted log-log slope of each scheme (its order is the negative slope)."""
    table = df[df["part"] == "table"]
    eps_values = sorted(table["eps"].unique())
    n_panels = len(eps_values) + 1
    ncols = min(n_panels, 3)
    nrows = -(-n_panels // ncols)
    fig, axes = new_figure(nrows, ncols, width=3.6, height=3.0)
    flat = list(axes.flat)
    for ax, eps in zip(flat, eps_values, strict=False):
        panel = table[table["eps"] == eps]
        for scheme, style in SCHEME_STYLE.items():
            for init, ls in (("p_T", "-"), ("normal", "--")):
                line = panel[(panel["scheme"] == scheme) & (panel["init"] == init)]
                line = line.sort_values("nfe_budget")
                if line.empty:
                    continue
                ax.loglog(
                    line["nfe_budget"], line["w2_data"], ls, color=style["color"],
                    marker=style["marker"], markersize=3, linewidth=1,
                    label=scheme if init == "p_T" else None,
                )  # fmt: skip
        _log_ticks(ax, panel["nfe_budget"])
        ax.set_title(f"eps = {eps:g} (solid p_T, dashed N(0, I))", fontsize=8)
        ax.set_xlabel("NFE budget")
        ax.set_ylabel("W2(p_hat, p_0), exact")
    ax = flat[len(eps_values)]
    order = df[df["part"] == "order"]
    for scheme, style in SCHEME_STYLE.items():
        line = order[order["scheme"] == scheme].sort_values("nfe")
        if line.empty:
            continue
        slope = fitted_slope(line["nfe"].iloc[-3:], line["w2_eps"].iloc[-3:])
        ax.loglog(
            line["nfe"], line["w2_eps"], color=style["color"], marker=style["marker"],
            markersize=3, linewidth=1, label=f"{scheme}: slope {slope:.2f}",
        )  # fmt: skip
    if not order.empty:
        ax.set_title(f"order: from p_T, eps = {order['eps'].iloc[0]:g}", fontsize=8)
    ax.set_xlabel("NFE")
    ax.set_ylabel("W2(p_hat, p_eps), exact")
    ax.legend(fontsize=6)
    flat[0].legend(fontsize=6)
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    fig.suptitle(
        f"VP-SDE schemes on the CIFAR-10 Gaussian (d = {int(df['d'].iloc[0])}; Pierret & "
        "Galerne 2025, Table 5)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


# -- steps to accuracy (issue 12) --------------------------------------------------------------

__all__ += ["plot_steps_to_accuracy"]

#: One colour and marker per sampler of the steps-to-accuracy sweep.
STEPS_STYLE: dict[str, dict[str, str]] = {
    "ddpm_beta": SAMPLER_STYLE["beta"],
    "ddpm_posterior": SAMPLER_STYLE["posterior"],
    "ddim": SAMPLER_STYLE["ddim"],
    "em": {"color": PALETTE[1], "marker": "o"},
    "ei": {"color": PALETTE[1], "marker": "s"},
    "ancestral": {"color": PALETTE[4], "marker": "v"},
    "pf_euler": {"color": PALETTE[5], "marker": "^"},
    "pf_heun": {"color": PALETTE[7], "marker": "D"},
    "pf_rk4": {"color": PALETTE[7], "marker": "P"},
}


def plot_steps_to_accuracy(df: pd.DataFrame) -> Figure:
    """T*(epsilon) against s at fixed d, against s with d = s, and against d at fixed s, one
    line per sampler (start N(0, I)); reference slopes s^2, s and d in grey; the legend gives
    each fitted slope (points at T_min or beyond T_max left out)."""
    data = df[df["init"] == "normal"] if "normal" in set(df["init"]) else df
    lines = [
        (sampler, data["sampler"] == sampler, {**style, "linestyle": "-"})
        for sampler, style in STEPS_STYLE.items()
    ]
    eps = float(df["epsilon"].iloc[0])
    return _steps_panels(
        data, lines, "T* (steps to KL <= epsilon), exact",
        f"Steps to accuracy with the exact score, KL <= {eps:g} (start N(0, I)); "
        "discrete samplers on li(T, c0, c1), VP-SDE schemes on vp_sde",
    )  # fmt: skip


def _steps_panels(data: pd.DataFrame, lines: list, ylabel: str, title: str) -> Figure:
    """Three log-log panels of T* (sweeps s, s_full, d); ``lines``: (label, row mask, style)."""
    panels = [("s", "s"), ("s_full", "s"), ("d", "d")]
    fig, axes = new_figure(1, 3, width=4.0, height=3.4)
    for ax, (sweep, var) in zip(axes.flat, panels, strict=True):
        part = data[data["sweep"] == sweep]
        # the claims' T*: t_star_stable where the table has it (steps_to_accuracy), else T_star
        col = "t_star_stable" if "t_star_stable" in data else "T_star"
        for label, mask, style in lines:
            line = part[mask[part.index]].sort_values(var)
            if line.empty:
                continue
            keep = ~line["at_floor"].astype(bool) & np.isfinite(line[col])
            slope = fitted_slope(line[var][keep], line[col][keep])
            ax.loglog(
                line[var], line[col], color=style["color"], marker=style["marker"],
                linestyle=style["linestyle"], markersize=3, linewidth=1,
                label=f"{label}: {slope:.2f}",
            )  # fmt: skip
        if not part.empty:
            x = np.array(sorted(part[var].unique()), dtype=float)
            y0 = float(np.nanmedian(part[col]))
            limits = ax.get_ylim()
            for power, ls in ((2.0, ":"), (1.0, "--")):
                ax.loglog(x, y0 * (x / x[len(x) // 2]) ** power, ls, color="0.6", linewidth=0.8)
            ax.set_ylim(limits)  # the reference slopes never rescale the data's axis
            fixed = (
                f"d = {int(part['d'].iloc[0])}" if sweep == "s"
                else "d = s" if sweep == "s_full"
                else f"s = {int(part['s'].iloc[0])}"
            )  # fmt: skip
            ax.set_title(f"T* against {var}, {fixed} (grey: slopes 2, 1)", fontsize=8)
        ax.set_xlabel(var)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=5, ncol=1)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


__all__ += ["plot_steps_box"]


def plot_steps_box(df: pd.DataFrame) -> Figure:
    """T*(epsilon) on box data (solid) and on the Gaussian control of the same variance
    (dashed), against s at fixed d, with d = s and against d at fixed s, one colour per
    sampler; KL from the grid oracle at the early stop (the table's ``v_min``)."""
    lines = []
    for sampler, style in STEPS_STYLE.items():
        for signal, ls in (("box", "-"), ("gaussian", "--")):
            mask = (df["sampler"] == sampler) & (df["signal"] == signal)
            lines.append((f"{sampler}, {signal}", mask, {**style, "linestyle": ls}))
    eps, v_min = float(df["epsilon"].iloc[0]), float(df["v_min"].iloc[0])
    return _steps_panels(
        df, lines, "T* (steps to KL <= epsilon), grid oracle",
        f"Steps to accuracy on non-Gaussian data (s coordinates uniform on [-1, 1]; dashed: "
        f"Gaussian of the same variance)\nexact score, KL(q_t0 || p_t0) <= {eps:g} at "
        f"v_t0 >= {v_min:g}, start N(0, I), li(T, c0, c1)",
    )  # fmt: skip


__all__ += ["plot_steps_fitted"]

#: One colour and marker per estimator of the fitted-score steps sweep.
FITTED_STYLE: dict[str, dict[str, str]] = {
    "exact": {"color": PALETTE[7], "marker": "."},
    "least_squares": {"color": PALETTE[0], "marker": "o"},
    "l1_denoiser": {"color": PALETTE[2], "marker": "s"},
    "l1_score": {"color": PALETTE[3], "marker": "D"},
}


def plot_steps_fitted(df: pd.DataFrame) -> Figure:
    """KL(T) of each estimator at the d sweep's largest d, and the steps to within epsilon of
    each estimator's limit against s and against d (``ddpm_posterior`` solid, ``ddim``
    dashed; epsilon in grey; points where KL has not settled by T_ref are missing)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    curves = df[df["row_kind"] == "curve"]
    summary = df[df["row_kind"] == "summary"]
    fig, axes = new_figure(1, 3, width=4.0, height=3.4)
    eps = float(df["epsilon"].iloc[0])
    styles = (("ddpm_posterior", "-"), ("ddim", "--"))
    d_part = curves[curves["sweep"] == "d"]
    d_max = int(d_part["d"].max()) if not d_part.empty else 0
    ax = axes.flat[0]
    for name, style in FITTED_STYLE.items():
        for sampler, ls in styles:
            line = d_part[
                (d_part["estimator"] == name) & (d_part["sampler"] == sampler)
                & (d_part["d"] == d_max)
            ].sort_values("T")  # fmt: skip
            if line.empty:
                continue
            ax.loglog(
                line["T"], line["kl"], ls, color=style["color"], marker=style["marker"],
                markersize=3, linewidth=1, label=f"{name} ({sampler})",
            )  # fmt: skip
    ax.axhline(eps, color="0.6", linewidth=0.8, linestyle=":")
    s_fixed = int(d_part["s"].iloc[0]) if not d_part.empty else 0
    ax.set_title(f"KL(q_1 || p_1) against T, s = {s_fixed}, d = {d_max}", fontsize=8)
    ax.set_xlabel("T (steps)")
    ax.set_ylabel("KL, exact (fitted score)")
    ax.legend(fontsize=5, loc="lower left")
    for ax, var in zip(axes.flat[1:], ("s", "d"), strict=True):
        part = summary[summary["sweep"] == var]
        for name, style in FITTED_STYLE.items():
            for sampler, ls in styles:
                line = part[(part["estimator"] == name) & (part["sampler"] == sampler)]
                line = line.sort_values(var)
                if line.empty or not np.isfinite(line["T_star_excess"]).any():
                    continue
                ax.loglog(
                    line[var], line["T_star_excess"], ls, color=style["color"],
                    marker=style["marker"], markersize=3, linewidth=1,
                    label=f"{name} ({sampler})",
                )  # fmt: skip
        fixed = "d" if var == "s" else "s"
        if not part.empty:
            ax.set_title(
                f"steps to within {eps:g} of the limit, {fixed} = {int(part[fixed].iloc[0])}",
                fontsize=8,
            )
            ax.set_xticks(sorted(part[var].unique()))
        ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(var)
        ax.set_ylabel("T*_excess (steps)")
        ax.legend(fontsize=5)
    fig.suptitle(
        "Steps to accuracy with fitted scores trained once (shared training noise), li(T, 2, 4), "
        "start N(0, I)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


#: One colour and line style per estimator of the paper's experiments (regularized: solid,
#: unregularized: dashed, the same colour within a function class).
PAPER_STYLE: dict[str, dict[str, str]] = {
    "exact": {"color": PALETTE[7], "ls": ":", "marker": "."},
    "network": {"color": PALETTE[3], "ls": "--", "marker": "o"},
    "network_l1": {"color": PALETTE[3], "ls": "-", "marker": "s"},
    "network_l1_output": {"color": PALETTE[4], "ls": "-", "marker": "D"},
    "linear": {"color": PALETTE[0], "ls": "--", "marker": "o"},
    "linear_l1": {"color": PALETTE[0], "ls": "-", "marker": "s"},
    "empirical": {"color": PALETTE[2], "ls": "--", "marker": "o"},
    "empirical_l1": {"color": PALETTE[2], "ls": "-", "marker": "s"},
}


def plot_toy(df: pd.DataFrame) -> Figure:
    """The paper's Fig. 1 with numbers: samples of the unregularized and the l1 network in 3-D
    beside the plane X = 0, the histogram of |X|, the off-plane mass E[X^2] over the exact
    score's (closed form) against T, one line per estimator (ddpm_posterior, largest n), and
    the networks' training loss curves."""
    samples = df[df["row_kind"] == "sample"]
    table = df[df["row_kind"] == "summary"]
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(20.0, 3.8))
    shown = [e for e in ("network", "network_l1") if e in set(samples["estimator"])]
    for k, name in enumerate(shown):
        ax = fig.add_subplot(1, 5, k + 1, projection="3d")
        pts = samples[samples["estimator"] == name]
        yy, zz = np.meshgrid(np.linspace(-3, 3, 2), np.linspace(-3, 3, 2))
        ax.plot_surface(np.zeros_like(yy), yy, zz, color="0.85", alpha=0.3)
        ax.scatter(pts["x"], pts["y"], pts["z"], s=2, color=PAPER_STYLE[name]["color"])
        off = table[
            (table["estimator"] == name) & (table["T"] == pts["T"].iloc[0])
            & (table["n"] == pts["n"].iloc[0]) & (table["sampler"] == "ddpm_posterior")
        ]  # fmt: skip
        ratio = float(off["off_plane_ms"].iloc[0] / off["off_plane_exact_score"].iloc[0])
        ax.set_title(
            f"{name}, T = {int(pts['T'].iloc[0])}: E[X^2] = {ratio:.3g} x exact score's",
            fontsize=8,
        )
        ax.set_xlabel("X (off-plane)")
        ax.set_ylabel("Y")
        ax.set_zlabel("Z")
        ax.set_xlim(-0.05, 0.05)
    ax = fig.add_subplot(1, 5, 3)
    for name in ("exact", "network", "network_l1"):
        pts = samples[samples["estimator"] == name]
        if pts.empty:
            continue
        x = np.abs(pts["x"].to_numpy(float))
        style = PAPER_STYLE[name]
        ax.hist(np.log10(np.maximum(x, 1e-12)), bins=40, histtype="step",
                color=style["color"], linestyle=style["ls"], label=name)  # fmt: skip
    ax.set_xlabel("log10 |X| of the samples")
    ax.set_ylabel("count")
    ax.set_title("off-plane coordinate (same run as the scatters)", fontsize=8)
    ax.legend()
    ax = fig.add_subplot(1, 5, 4)
    sampler = "ddpm_posterior" if "ddpm_posterior" in set(table["sampler"]) else table[
        "sampler"
    ].iloc[0]
    part = table[(table["sampler"] == sampler) & (table["n"] == table["n"].max())]
    for name, style in PAPER_STYLE.items():
        line = part[part["estimator"] == name].sort_values("T")
        if line.empty:
            continue
        ratio = line["off_plane_ms"] / line["off_plane_exact_score"]
        err = 4 * line["off_plane_se"] / line["off_plane_exact_score"]
        ax.errorbar(line["T"], ratio, yerr=err, color=style["color"], ls=style["ls"],
                    marker=style["marker"], markersize=3, linewidth=1, label=name)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("T (steps)")
    ax.set_ylabel("E[X^2] / exact score's (4 SE bars)")
    ax.set_title(f"off-plane mass, {sampler}, n = {int(part['n'].max())}", fontsize=8)
    ax.legend(fontsize=6)
    ax = fig.add_subplot(1, 5, 5)
    losses = df[df["row_kind"] == "loss"] if "iteration" in df.columns else df.iloc[:0]
    losses = losses[losses["n"] == losses["n"].max()] if not losses.empty else losses
    for name, style in PAPER_STYLE.items():
        line = losses[losses["estimator"] == name].sort_values("iteration")
        if not line.empty:
            ax.plot(line["iteration"], line["loss"], color=style["color"], ls=style["ls"],
                    linewidth=1, label=name)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("training objective (penalty included)")
    ax.set_title("the networks' training loss, largest n", fontsize=8)
    if not losses.empty:
        ax.legend(fontsize=6)
    fig.suptitle(
        "The paper's 3-D toy (ring of 8 blobs in the plane X = 0): does regularization keep the "
        "samples on the plane?",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_fewer_steps(df: pd.DataFrame) -> Figure:
    """Per data set: MMD^2 against held-out data against T (4-SE bars, data-vs-data floor in
    grey), precision and recall against T, and the memorized share, one line per estimator."""
    datasets = list(dict.fromkeys(df["dataset"]))
    fig, axes = new_figure(len(datasets), 3, width=4.2, height=3.2)
    for row, dataset in enumerate(datasets):
        part = df[df["dataset"] == dataset]
        ax_mmd, ax_pr, ax_mem = axes[row]
        for name, style in PAPER_STYLE.items():
            line = part[part["estimator"] == name].sort_values("T")
            if line.empty:
                continue
            kw = {"color": style["color"], "ls": style["ls"], "marker": style["marker"],
                  "markersize": 3, "linewidth": 1}  # fmt: skip
            ax_mmd.errorbar(line["T"], line["mmd2"], yerr=4 * line["mmd2_se"], label=name, **kw)
            ax_pr.plot(line["T"], line["precision"], label=f"{name} precision", **kw)
            ax_pr.plot(line["T"], line["recall"], alpha=0.4, **kw)
            ax_mem.plot(line["T"], line["memorized_fraction"], label=name, **kw)
        floor = float(part["mmd2_floor"].iloc[0])
        ax_mmd.axhline(floor, color="0.6", linewidth=0.8)
        ax_mmd.set_xscale("log")
        ax_mmd.set_xlabel("T (steps)")
        ax_mmd.set_ylabel("MMD^2 to held-out data")
        ax_mmd.set_title(f"{dataset}: quality against steps (grey: floor)", fontsize=8)
        ax_mmd.legend(fontsize=5)
        ax_pr.set_xscale("log")
        ax_pr.set_xlabel("T (steps)")
        ax_pr.set_ylabel("precision (solid marks) / recall (faint)")
        ax_pr.set_title(f"{dataset}: precision and recall (k = 5)", fontsize=8)
        ax_mem.set_xscale("log")
        ax_mem.set_xlabel("T (steps)")
        ax_mem.set_ylabel("memorized share of samples")
        ax_mem.set_title(f"{dataset}: memorization (nearest < 1/3 second)", fontsize=8)
    fig.suptitle(
        "Better samples at lower cost? Sample quality against T, ddpm_posterior", fontsize=9
    )
    fig.tight_layout()
    return fig


def plot_r_guidance(df: pd.DataFrame) -> Figure:
    """Per (data set, class): the held-out DSM loss and the samples' MMD^2 against r (4-SE
    bars), with the two rules' picks marked (r = 0 drawn at the left edge of the log axis)."""
    pairs = list(dict.fromkeys(zip(df["dataset"], df["estimator_class"], strict=True)))
    fig, axes = new_figure(1, len(pairs), width=3.6, height=3.2)
    for ax, (data, cls_) in zip(axes.flat, pairs, strict=True):
        part = df[(df["dataset"] == data) & (df["estimator_class"] == cls_)].sort_values("r")
        positive = part["r"][part["r"] > 0]
        zero_at = positive.min() / 10 if not positive.empty else 1e-6
        r = part["r"].where(part["r"] > 0, zero_at)
        ax.errorbar(r, part["val_loss"] / part["val_loss"].min(), yerr=4 * part["val_loss_se"]
                    / part["val_loss"].min(), color=PALETTE[0], marker="o", markersize=3,
                    linewidth=1, label="held-out DSM loss / its min")  # fmt: skip
        ax.errorbar(r, part["mmd2"] / part["mmd2"].min(), yerr=4 * part["mmd2_se"]
                    / part["mmd2"].min(), color=PALETTE[3], marker="s", markersize=3,
                    linewidth=1, label="MMD^2 / its min")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"r (r = 0 drawn at {zero_at:.0e})")
        ax.set_title(f"{data}, {cls_}", fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle("Choosing r: held-out DSM loss against the samples' MMD^2", fontsize=9)
    fig.tight_layout()
    return fig


__all__ += ["plot_schedule_optimal"]

#: One colour and marker per sigma-grid schedule (``experiments.schedule_optimal``).
SIGMA_SCHEDULE_STYLE: dict[str, dict[str, str]] = {
    "optimal": {"color": PALETTE[7], "marker": "o"},
    "edm": {"color": PALETTE[0], "marker": "s"},
    "log_snr": {"color": PALETTE[1], "marker": "^"},
    "tangent_c1": {"color": PALETTE[3], "marker": "v"},
    "li_shape": {"color": PALETTE[2], "marker": "D"},
}


def plot_schedule_optimal(df: pd.DataFrame) -> Figure:
    """Left: exact KL of DDIM on the CIFAR-10 spectrum against n, per schedule (log-log).
    Right: the grids at the largest n, log sigma against i / n."""
    spec = df[df["part"] == "spectrum"]
    fig, axes = new_figure(1, 2, width=4.2)
    ax, ax2 = axes[0]
    n_max = int(spec["n"].max())
    for name, style in SIGMA_SCHEDULE_STYLE.items():
        grp = spec[spec["schedule"] == name].sort_values("n")
        if grp.empty:
            continue
        ax.plot(grp["n"], grp["kl"], label=name, **style)
        text = str(grp[grp["n"] == n_max]["sigmas"].iloc[0])
        sig = np.array([float(v) for v in text.split(";")])
        ax2.plot(np.arange(sig.size) / (sig.size - 1), sig, label=name, ms=3, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("DDIM steps n")
    ax.set_ylabel("KL(exact ODE output || DDIM), nats")
    ax.set_title("CIFAR-10 spectrum, sigma in [0.002, 80]", fontsize=8)
    ax.legend()
    ax2.set_yscale("log")
    ax2.set_xlabel("i / n")
    ax2.set_ylabel("sigma_i")
    ax2.set_title(f"grids at n = {n_max}", fontsize=8)
    fig.tight_layout()
    return fig


__all__ += ["plot_coefficient_family"]


def plot_coefficient_family(df: pd.DataFrame) -> Figure:
    """KL per pure-noise coordinate (the exact slope in d) against T, log-log: left from q_T
    (the gamma family; eta and gamma = 1 sit at the rounding floor and are drawn there),
    right from N(0, I) (the eta family and gamma = 1). Values below 1e-30 are clipped to it."""
    fig, axes = new_figure(1, 2, width=4.2)
    floor = 1e-30
    for ax, init, fams in ((axes[0, 0], "q_T", ("gamma", "eta")),
                           (axes[0, 1], "normal", ("eta", "gamma"))):  # fmt: skip
        part = df[df["init"] == init]
        k = 0
        for fam in fams:
            for p in sorted(set(part[part["family"] == fam]["param"])):
                if init == "normal" and fam == "gamma" and p < 1.0:
                    continue
                grp = part[(part["family"] == fam) & (part["param"] == p)].sort_values("T")
                style = "-" if fam == "gamma" else "--"
                ax.plot(grp["T"], np.maximum(grp["kl"], floor), style, marker="o", ms=3,
                        color=PALETTE[k % len(PALETTE)], label=f"{fam} = {p:g}")  # fmt: skip
                k += 1
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T (li(T), c0 = 2, c1 = 4)")
        ax.set_ylabel("KL per pure-noise coordinate (slope in d), nats")
        ax.set_title(f"start {'q_T' if init == 'q_T' else 'N(0, I)'}", fontsize=8)
        ax.legend(ncol=2)
    fig.tight_layout()
    return fig


__all__ += ["plot_mixture_steps"]


def plot_mixture_steps(df: pd.DataFrame) -> Figure:
    """T*(eps) against d (log-log) per grid: the projection on mu (solid) and the orthogonal
    directions' floor T*_orth (dashed), with fitted slopes in the legend."""
    fig, axes = new_figure(1, 1, width=4.6)
    ax = axes[0, 0]
    for k, (kind, grp) in enumerate(df.groupby("kind", sort=False)):
        grp = grp.sort_values("d")
        colour = PALETTE[k]
        for column, style, what in (("T_star", "-o", "projection"),
                                    ("T_star_orth", "--s", "orthogonal floor")):  # fmt: skip
            slope = fitted_slope(grp["d"], grp[column])
            ax.plot(grp["d"], grp[column], style, color=colour, ms=4,
                    label=f"{kind}: {what} (slope {slope:.2f})")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("d (|mu| = sqrt(d))")
    ax.set_ylabel(f"T*(eps), eps = {df['eps'].iloc[0]:g} nats")
    ax.set_title("PF-ODE (DDIM) on a two-mode mixture", fontsize=8)
    ax.legend()
    fig.tight_layout()
    return fig


__all__ += ["plot_schedule_family"]


def plot_schedule_family(df: pd.DataFrame) -> Figure:
    """Exact KL against the family's parameter a, one line per (scheme, steps), log y; the
    refined optimum marked."""
    fig, axes = new_figure(1, 1, width=4.6)
    ax = axes[0, 0]
    grid = df[df["part"] == "grid"]
    opt = df[df["part"] == "optimum"]
    for k, ((scheme, n), grp) in enumerate(grid.groupby(["scheme", "steps"])):
        colour = PALETTE[k % len(PALETTE)]
        ax.plot(grp["a"], grp["kl"], "-" if scheme == "ei" else "--", color=colour,
                label=f"{scheme}, {n} steps")  # fmt: skip
        best = opt[(opt["scheme"] == scheme) & (opt["steps"] == n)]
        ax.plot(best["a"], best["kl"], "o", color=colour, ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("a (beta_a(t) = beta_min + delta (e^{a t} - 1))")
    ax.set_ylabel("KL(data || output), nats (d = 10)")
    ax.set_title("Strasman et al.'s family, exact", fontsize=8)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_diffusers_schedulers(df: pd.DataFrame) -> Figure:
    """diffusers' schedulers on the CIFAR-10 Gaussian (``experiments.diffusers_schedulers``):
    exact W2 to the data law and KL at the last noise level against NFE, log-log, one line
    per scheduler (colour by family, marker cycling), slope over the last three NFE in the
    legend."""
    cifar = df[df["data"] == "cifar10"]
    fig, axes = new_figure(1, 2, width=5.0, height=3.8)
    markers = ("o", "s", "^", "v", "D", "P", "X", "*")
    for k, (name, g) in enumerate(cifar.groupby("scheduler", sort=False)):
        g = g.sort_values("nfe")
        style = {"color": PALETTE[k % len(PALETTE)], "marker": markers[k % len(markers)],
                 "markersize": 3, "linewidth": 1}  # fmt: skip
        tail = g.tail(3)
        slope = fitted_slope(tail["nfe"], tail["w2_data"])
        axes[0, 0].plot(g["nfe"], g["w2_data"], label=f"{name} ({slope:.2f})", **style)
        kl = g[np.isfinite(g["kl_last"]) & (g["kl_last"] > 0)]
        axes[0, 1].plot(kl["nfe"], kl["kl_last"], label=name, **style)
    for ax, ylabel in zip(axes[0], ("W2 to the data law", "KL(q || p) at the last level"),
                          strict=True):  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("NFE")
        ax.set_ylabel(ylabel)
    axes[0, 0].legend(title="slope of the last 3", ncol=2)
    fig.suptitle("diffusers' schedulers, CIFAR-10 Gaussian (exact laws by probing)")
    fig.tight_layout()
    return fig
