"""Discretization error with exact scores: does d enter, and how fast does KL decay in T?

Setting (SCIENCE.md sections 2 and 3): aligned ``SubspaceGaussian`` data with s active
coordinates of variance ``lam`` (not 1: N(0, 1) is stationary and hides errors), the exact
score, the Li et al. schedule, and the three samplers. For every (c0, c1, init, variance,
T, d) the exact law of Y_1 gives KL(q_1 || p_1) and W2 in closed form, split into the
support and off-support coordinates. ``init="exact"`` starts the chain from q_T instead of
N(0, I), separating the initialization error from the discretization error. A few cells are
also sampled by Monte Carlo and compared with the exact law (per-coordinate mean and
variance, bands from standard errors).

Notation: ``lam`` -> lambda (data variance on the support), ``s`` -> number of active
coordinates, ``kl_support`` / ``kl_off_support`` -> sum of per-coordinate KL terms on / off S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from simulate import exact, metrics, models, samplers, schedules
from simulate.experiments._common import run_cells
from simulate.stats import fit_line, fit_power_law

NAME = "discretization"

#: Relative spread across d below which KL "does not depend on d" (the issue's 1e-10:
#: float64 recursions over T <= 1000 steps keep about 1e-12 relative accuracy).
D_FREE_RTOL = 1e-10
#: Largest relative residual of the affine fit KL = a + b d for "linear in d": the exact
#: KL is a sum of identical off-support terms, so only round-off may remain.
LINEAR_RTOL = 1e-6
#: Family-wise error rate of the Monte Carlo comparison; the band is the Bonferroni
#: z-quantile for all compared statistics of a cell, and never below 4 standard errors.
MC_FAMILYWISE = 1e-3
MC_MIN_SIGMAS = 4.0


@dataclass(frozen=True)
class Config:
    """Grid of the experiment (defaults: the full setting)."""

    T_grid: tuple[int, ...] = (20, 50, 100, 200, 500, 1000)
    d_grid: tuple[int, ...] = (8, 32, 128, 512, 2048, 10000)
    s: int = 4
    lam: float = 2.0
    schedule_constants: tuple[tuple[float, float], ...] = ((4.0, 4.0), (2.0, 4.0))
    variances: tuple[str, ...] = samplers.VARIANCES
    inits: tuple[str, ...] = ("standard", "exact")
    mc_T: int = 100
    mc_d: tuple[int, ...] = (8, 128)
    mc_n: int = 20000
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(
            T_grid=(20, 50, 100, 200, 500), d_grid=(8, 64, 512, 10000), mc_d=(8, 64), mc_n=4000
        )

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        if any(d < self.s for d in self.d_grid):
            raise ValueError(f"every d in d_grid must be >= s={self.s}; got {self.d_grid}")
        if min(self.T_grid) < 2:
            raise ValueError(f"every T in T_grid must be >= 2; got {self.T_grid}")


def _model(config: Config, d: int) -> models.SubspaceGaussian:
    return models.SubspaceGaussian(d, config.s, cov=np.full(config.s, config.lam))


def _exact_row(
    config: Config, c0: float, c1: float, init: str, variance: str, T: int, d: int
) -> dict:
    sch = schedules.li(T, c0, c1)
    model = _model(config, d)
    start = exact.target_law(model, sch, t=T) if init == "exact" else None
    law = exact.output_law(model, sch, variance, init=start)
    target = exact.target_law(model, sch)
    per_coord = metrics.kl_gaussian(target, law, per_coordinate=True)
    support = model.support
    return {
        "kind": "exact",
        "c0": c0,
        "c1": c1,
        "init": init,
        "variance": variance,
        "T": T,
        "d": d,
        "s": config.s,
        "lam": config.lam,
        "seed": np.nan,
        "n": np.nan,
        "kl": float(per_coord.sum()),
        "kl_support": float(per_coord[support].sum()),
        "kl_off_support": float(per_coord[~support].sum()),
        "w2": metrics.w2_gaussian(target, law),
        "alpha_bar_T": float(sch.alpha_bar[-1]),
        "li_rate": math.log(T) ** 3 / T,
    }


def _mc_row(config: Config, c0: float, c1: float, variance: str, d: int) -> dict:
    sch = schedules.li(config.mc_T, c0, c1)
    model = _model(config, d)
    law = exact.output_law(model, sch, variance)
    y = samplers.sample(model, sch, config.mc_n, seed=config.seed, variance=variance)
    n = config.mc_n
    z_mean = (y.mean(axis=0) - law.mean) / np.sqrt(law.cov / n)
    z_var = (y.var(axis=0, ddof=1) - law.cov) / (law.cov * math.sqrt(2.0 / (n - 1)))
    n_stats = 2 * d
    band = max(MC_MIN_SIGMAS, float(sps.norm.isf(MC_FAMILYWISE / (2 * n_stats))))
    worst = float(max(np.abs(z_mean).max(), np.abs(z_var).max()))
    return {
        "kind": "mc",
        "c0": c0,
        "c1": c1,
        "init": "standard",
        "variance": variance,
        "T": config.mc_T,
        "d": d,
        "s": config.s,
        "lam": config.lam,
        "seed": config.seed,
        "n": n,
        "max_abs_z": worst,
        "band_sigmas": band,
        "within_band": worst <= band,
        "alpha_bar_T": float(sch.alpha_bar[-1]),
    }


def cells(config: Config) -> list[tuple]:
    """Every cell of the grid, as the arguments of its row function."""
    out: list[tuple] = []
    for c0, c1 in config.schedule_constants:
        for init in config.inits:
            for variance in config.variances:
                for T in config.T_grid:
                    for d in config.d_grid:
                        out.append(("exact", c0, c1, init, variance, T, d))
        for variance in config.variances:
            for d in config.mc_d:
                out.append(("mc", c0, c1, variance, d))
    return out


def run_cell(config: Config, cell: tuple) -> dict:
    return _exact_row(config, *cell[1:]) if cell[0] == "exact" else _mc_row(config, *cell[1:])


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """All cells of ``config`` as a tidy table (one row per cell)."""
    return run_cells(NAME, config, cells(config), run_cell, progress, unit="cell")


def _setting(c0: float, c1: float, init: str, variance: str | None = None) -> str:
    start = "Y_T~N(0,I)" if init == "standard" else "Y_T~q_T"
    head = f"{variance}, " if variance else ""
    return f"{head}Li c0={c0:g}, c1={c1:g}, {start}"


def verdicts(df: pd.DataFrame) -> list[dict]:
    """Verdicts for disc.posterior_ddim_d_free, disc.beta_linear_in_d, disc.T_decay and
    disc.mc_matches_exact (see the module docstring and ``theory/claims.py``)."""
    out: list[dict] = []
    ex = df[df["kind"] == "exact"]
    for (c0, c1, init), grp in ex.groupby(["c0", "c1", "init"], sort=False):
        abar_T = grp["alpha_bar_T"]
        for variance in ("posterior", "ddim"):
            sub = grp[grp["variance"] == variance]
            # The claim is about the sampler as used (Y_T ~ N(0, I)); from q_T the
            # off-support terms vanish in exact arithmetic and only round-off is left.
            if sub.empty or init != "standard":
                continue
            spread = max(_spread(g) for _, g in sub.groupby("T"))
            t_ref = _reference_T(sub)
            at = sub[sub["T"] == t_ref]
            slope = fit_line(at["d"], at["kl"]) if at["d"].nunique() >= 3 else None
            out.append(
                {
                    "claim_id": "disc.posterior_ddim_d_free",
                    "setting": _setting(c0, c1, init, variance),
                    "predicted": f"relative spread of KL over d < {D_FREE_RTOL:g}",
                    "measured": f"max relative spread {spread:.3g}; dKL/dd at T={t_ref}: "
                    f"{slope if slope else 'n/a'} (alpha_bar_T {abar_T.min():.2g}"
                    f"-{abar_T.max():.2g})",
                    "verdict": "holds" if spread < D_FREE_RTOL else "fails",
                    "detail": f"d in {sorted(sub['d'].unique())}, "
                    f"T in {sorted(sub['T'].unique())}; spread at T={t_ref}: {_spread(at):.3g}",
                }
            )
        beta = grp[grp["variance"] == "beta"]
        if not beta.empty and beta["d"].nunique() >= 3:
            t_ref = _reference_T(beta)
            at = beta[beta["T"] == t_ref].sort_values("d")
            fit = fit_line(at["d"], at["kl"])
            resid = at["kl"] - (fit.intercept + fit.slope * at["d"])
            rel = float(np.max(np.abs(resid) / at["kl"]))
            holds = fit.ci_low > 0 and rel < LINEAR_RTOL
            out.append(
                {
                    "claim_id": "disc.beta_linear_in_d",
                    "setting": _setting(c0, c1, init, "beta") + f", T={t_ref}",
                    "predicted": "KL = a + b d with b > 0",
                    "measured": f"b = {fit} per coordinate (OLS, 95% CI); max relative "
                    f"residual {rel:.2g}",
                    "verdict": "holds" if holds else "fails",
                    "detail": f"d in {sorted(at['d'].unique())}; a = {fit.intercept:.4g}",
                }
            )
        for variance, sub in grp.groupby("variance", sort=False):
            d_small = sub["d"].min()
            line = sub[sub["d"] == d_small].sort_values("T")
            if line["T"].nunique() < 3:
                continue
            fit = fit_power_law(line["T"], line["kl"])
            rate = fit_power_law(line["T"], line["li_rate"])
            derived = fit_power_law(line["T"], np.log(line["T"]) ** 2 / line["T"] ** 2)
            p, lo, hi = -fit.slope, -fit.ci_high, -fit.ci_low
            p_bound = -rate.slope
            if lo >= p_bound:
                verdict = "holds"
            elif hi < p_bound:
                verdict = "fails"
            else:
                verdict = "inconclusive"
            out.append(
                {
                    "claim_id": "disc.T_decay",
                    "setting": _setting(c0, c1, init, variance) + f", d={d_small}",
                    "predicted": f"p >= {p_bound:.3g} (apparent exponent of the Li et al. rate "
                    f"log^3 T / T on this T grid; 1 without the logs); theory/gaussian.py "
                    f"derives log^2 T / T^2 once abar_T -> 0 (apparent {-derived.slope:.3g})",
                    "measured": f"p = {p:.3g} [{lo:.3g}, {hi:.3g}] (95% CI of the log-log OLS; "
                    "exact values, so the interval measures curvature)",
                    "verdict": verdict,
                    "detail": f"T in {sorted(line['T'].unique())}",
                }
            )
    mc = df[df["kind"] == "mc"]
    if not mc.empty:
        bad = mc[~mc["within_band"].astype(bool)]
        out.append(
            {
                "claim_id": "disc.mc_matches_exact",
                "setting": f"{len(mc)} cells, n = {int(mc['n'].iloc[0])}, "
                f"T = {int(mc['T'].iloc[0])}",
                "predicted": "per-coordinate mean and variance of samples within the Bonferroni "
                f"band (>= {MC_MIN_SIGMAS:g} SE, family-wise {MC_FAMILYWISE:g}) of "
                "the exact law",
                "measured": f"worst |z| = {mc['max_abs_z'].max():.3g} (band "
                f"{mc['band_sigmas'].min():.3g}-{mc['band_sigmas'].max():.3g}); "
                f"{len(bad)} cell(s) outside",
                "verdict": "holds" if bad.empty else "fails",
                "detail": "Monte Carlo sampler (fused numba path) vs simulate.exact",
            }
        )
    return out


def _spread(sub: pd.DataFrame) -> float:
    """(max - min) / min of KL over the rows of ``sub``."""
    return float((sub["kl"].max() - sub["kl"].min()) / sub["kl"].min())


def _reference_T(df: pd.DataFrame) -> int:
    """The grid value of T closest to 100 (the setting of SCIENCE.md's preliminary numbers)."""
    values = np.array(sorted(df["T"].unique()))
    return int(values[np.argmin(np.abs(values - 100))])
