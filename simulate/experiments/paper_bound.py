"""Theorem 1 as read, tested with a fitted constant: KL <= C * (s^2 log^3 T / T + eps^2 log T).

The paper's bound (``theory.bounds.PAPER``, SCIENCE.md 1.1) has an unspecified constant, so
it is checked the only way a bound with an unknown constant can be: the smallest C that
makes it hold on one grid (the *fit grid*) is fitted, and the bound with that C is then
tested on a *fresh grid* of points drawn at random from a wider domain. The fresh domain
reaches beyond the fit grid in d (the claim is that d does not matter), in s and in T. Per
estimator and sampler:

    ratio = KL(q_1 || p_1) / B,    B = s^2 log^3 T / T + eps_score^2 log T (C = 1),
    C_fit = max over the fit grid of the ratio's geometric mean over training replicates.

KL is exact (``exact.output_law``: every estimator here is affine on Gaussian data, so p_1 is
Gaussian; no Monte Carlo). eps_score^2 is the paper's (1/T) sum_{t=1}^T (SCIENCE.md 1.1),
exact for affine estimates (``metrics.score_error(method="exact")``); the mean over the steps
the sampler uses (t >= 2) is in the table as ``eps2_sampler``. What varies between the
``replicates`` of a point is the training sample (and the perturbation's direction): the
estimators' KL is random, and a constant fitted to one sample would be exceeded by noise.

Verdict (claim ``paper.theorem1``), per (estimator, sampler). A fresh point's excess is its
mean log ratio minus log C_fit, in standard errors (the within-point replicate sd pooled
over all points of the group; exact scores have sd 0, so any excess counts):

- "fails": some fresh point exceeds the fitted bound by more than ``Z_BAND`` SE;
- "inconclusive": no significant excess, but the ratio grows with d, s or T on the fresh
  grid (a joint log-log fit of the ratio on d, s, T whose 95% interval for that exponent lies
  above 0): the bound's shape misses a dependence, and its trend reaches C_fit beyond the
  drawn domain (the detail says where);
- "holds": no significant excess and no significant growth.

The same procedure is applied to the ambient Li et al. bound (d^2 in place of s^2,
``theory.bounds.LI2024``) as a control; its outcome is in the detail column.

Data: aligned ``SubspaceGaussian`` with s latent coordinates of covariance
(1 - rho) I + rho 11^T (rho > 0: a dense s x s denoiser block). Estimators (trained on the
same n points per grid point, paired): ``exact`` (the closed form: discretization error
only), ``perturbed`` (exact + a constant error field of L2 size ``perturb_eps`` at every
step), ``ls`` (LinearDSM), ``l1_denoiser`` / ``l1_score`` (L1DSM, the paper's estimator in
its two readings, r by the default rule). The empirical score is left out: its p_1 is not
Gaussian, so its KL has no closed form.

Notation: ``kl`` -> KL(q_1 || p_1), ``eps2`` -> eps_score^2, ``bound_paper`` -> B with C = 1,
``bound_li`` -> the same with d^2 in place of s^2, ``grid`` -> "fit" or "fresh".
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulate import estimators, exact, judge, metrics, models, schedules
from simulate.experiments._common import (
    correlated_subspace_gaussian,
    fitted_estimator,
)
from simulate.laws import GaussianLaw
from simulate.pipeline.cells import run_in_process
from simulate.pipeline.seeds import seed_for
from simulate.stats import fit_power_laws

NAME = "paper_bound"

ESTIMATORS: tuple[str, ...] = ("exact", "perturbed", "ls", "l1_denoiser", "l1_score")
SAMPLERS: tuple[str, ...] = ("beta", "posterior", "ddim")
BOUNDS: dict[str, str] = {"paper": "paper.theorem1", "li": "li2024"}


@dataclass(frozen=True)
class Config:
    """The fit grid, the fresh domain and the setting (defaults: the full setting)."""

    fit_d: tuple[int, ...] = (4, 8, 16)
    fit_s: tuple[int, ...] = (1, 2, 4)
    fit_T: tuple[int, ...] = (20, 50)
    fresh_points: int = 20
    fresh_d: tuple[int, int] = (8, 512)
    fresh_s: tuple[int, int] = (1, 8)
    fresh_T: tuple[int, int] = (20, 100)
    n: int = 1024
    rho: float = 0.5
    c0: float = 2.0
    c1: float = 4.0
    perturb_eps: float = 0.5
    estimators: tuple[str, ...] = ESTIMATORS
    replicates: int = 4
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(
            fit_d=(2, 4),
            fit_s=(1, 2),
            fit_T=(10, 20),
            fresh_points=8,
            fresh_d=(4, 64),
            fresh_s=(1, 4),
            fresh_T=(10, 40),
            n=256,
        )

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        bad = [x for x in self.estimators if x not in ESTIMATORS]
        if bad:
            raise ValueError(f"estimators contains {bad}; allowed: {', '.join(ESTIMATORS)}")
        for name in ("fresh_d", "fresh_s", "fresh_T"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name}={getattr(self, name)}: need 1 <= low <= high")
        for T in (*self.fit_T, *self.fresh_T):
            if not (T >= 2 and self.c1 * math.log(T) / T < 1.0):
                raise ValueError(
                    f"T={T} with c1={self.c1}: the Li schedule needs T >= 2 and "
                    "h = c1 log T / T < 1 (fit_T and fresh_T)"
                )
        if self.fresh_points < 6:
            raise ValueError(
                f"fresh_points={self.fresh_points}: need >= 6 to fit the ratio's exponents "
                "in d, s and T"
            )
        if max(self.fit_s) > min(self.fit_d) or self.fresh_s[0] > self.fresh_d[0]:
            raise ValueError("need s <= d everywhere: max(fit_s) <= min(fit_d), fresh s_lo <= d_lo")
        if self.replicates < 2:
            raise ValueError(f"replicates={self.replicates}: need >= 2 for standard errors")
        if self.n < 4:
            raise ValueError(f"n={self.n}: need n >= 4 (cross-fitting and the rule)")
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho={self.rho}: need 0 <= rho < 1 (positive definite)")
        if not (self.perturb_eps >= 0 and math.isfinite(self.perturb_eps)):
            raise ValueError(f"perturb_eps={self.perturb_eps}: need a finite value >= 0")


def fresh_grid(config: Config) -> list[tuple[int, int, int]]:
    """(d, s, T) of the fresh points: d and T log-uniform, s uniform in [s_lo, min(s_hi, d)].

    A pure function of ``config.seed`` (its own stream, independent of the fit grid).
    """
    rng = np.random.default_rng([config.seed, 0xF5E5])
    points = []
    for _ in range(config.fresh_points):
        d = round(math.exp(rng.uniform(*np.log(config.fresh_d))))
        T = round(math.exp(rng.uniform(*np.log(config.fresh_T))))
        s = int(rng.integers(config.fresh_s[0], min(config.fresh_s[1], d) + 1))
        points.append((d, s, T))
    return points


def corner_grid(config: Config) -> list[tuple[int, int, int]]:
    """(d, s, T) at the corners of the fresh domain (s capped at d).

    The exact score's KL is deterministic, so its claim is decided over the declared domain
    with the corners included (``judge.domain``); a random draw only adds points.
    """
    out: list[tuple[int, int, int]] = []
    for d in sorted(set(config.fresh_d)):
        for s in sorted({config.fresh_s[0], min(config.fresh_s[1], d)}):
            for T in sorted(set(config.fresh_T)):
                out.append((d, s, T))
    return out


#: Estimators whose KL is a deterministic function of (d, s, T): evaluated at the corners.
DETERMINISTIC: tuple[str, ...] = ("exact",)
_GRID_STREAM = {"fit": 0, "fresh": 1, "corner": 2}


def cells(config: Config) -> list[tuple[str, int, int, int, int, int]]:
    """(grid, point index, d, s, T, replicate): the fit grid (every combination), the fresh
    draw, then the fresh domain's corners, each with every training replicate (a corner is
    where a d-free reading is most exposed: d = 512 with s = 1; every estimator is evaluated
    there, the deterministic ones at replicate 0 only)."""
    fit = [(d, s, T) for d in config.fit_d for s in config.fit_s for T in config.fit_T if s <= d]
    points = [("fit", i, *p) for i, p in enumerate(fit)]
    points += [("fresh", i, *p) for i, p in enumerate(fresh_grid(config))]
    points += [("corner", i, *p) for i, p in enumerate(corner_grid(config))]
    return [(*p, rep) for p in points for rep in range(config.replicates)]


def _estimator(
    name: str, model: models.SubspaceGaussian, points: np.ndarray, seed: int, eps: float
) -> estimators.Estimator:
    if name == "exact":
        return estimators.Exact(model)
    if name == "perturbed":
        return estimators.Perturbed(model, eps, kind="dense", seed=seed)
    return fitted_estimator(name, model, seed, points=points)


def bound_values(d: int, s: int, T: int, eps2: float) -> dict[str, float]:
    """The paper's and Li et al.'s bounds with C = C_eps = 1 (``theory.bounds.evaluate``)."""
    from theory import bounds

    eps_score = math.sqrt(max(eps2, 0.0))
    return {
        f"bound_{key}": bounds.evaluate(bounds.BOUNDS[name], T=T, d=d, s=s, eps_score=eps_score)
        for key, name in BOUNDS.items()
    }


def run_cell(config: Config, cell: tuple) -> list[dict]:
    """Every estimator and sampler at one (d, s, T, replicate), on one shared training sample."""
    grid, index, d, s, T, rep = cell
    sch = schedules.li(T, config.c0, config.c1)
    model = correlated_subspace_gaussian(d, s, config.rho, seed=config.seed)
    entropy = [config.seed, _GRID_STREAM[grid], index, rep]
    seed = seed_for(*entropy)
    points = model.sample(config.n, seed)
    target = exact.target_law(model, sch)
    rows = []
    names = [
        x for x in config.estimators if grid != "corner" or rep == 0 or x not in DETERMINISTIC
    ]
    for name in names:
        est = _estimator(name, model, points, seed, config.perturb_eps)
        start = time.perf_counter()
        est = est.fit(sch)
        fit_seconds = time.perf_counter() - start
        err = metrics.score_error(est, model, sch, method="exact")
        eps2 = err.average()[0]
        base = {
            "grid": grid,
            "point": index,
            "replicate": rep,
            "d": d,
            "s": s,
            "T": T,
            "n": config.n,
            "rho": config.rho,
            "c0": config.c0,
            "c1": config.c1,
            "estimator": name,
            "seed": seed,
            "eps2": eps2,
            "eps2_sampler": err.average(steps="sampler")[0],
            "fit_seconds": fit_seconds,
            **bound_values(d, s, T, eps2),
        }
        for sampler in SAMPLERS:
            law = exact.output_law(est, sch, sampler)
            kl = metrics.kl_gaussian(target, law)
            row = {**base, "sampler": sampler, "kl": float(kl)}
            if grid == "corner":
                row["kl_off_support"] = off_support_kl(target, law, model.support)
            rows.append(row)
    return rows


def off_support_kl(target: Any, law: Any, support: np.ndarray) -> float:
    """KL between the off-support marginals of q_1 and p_1: a lower bound of KL(q_1 || p_1)
    (a marginal's KL never exceeds the joint's), exact for this training draw. For an
    estimator whose off-support coordinates are the pure-noise chain (the exact score, and
    the l1 fits that zero them) it is (d - s) times the per-coordinate KL of SCIENCE.md 3,
    whatever the draw: the part of the KL no training sample can remove."""
    off = ~np.asarray(support, dtype=bool)
    if not off.any():
        return 0.0
    sub = np.ix_(off, off)
    q = GaussianLaw.dense(target.mean[off], target.cov_matrix()[sub])
    p = GaussianLaw.dense(law.mean[off], law.cov_matrix()[sub])
    return float(metrics.kl_gaussian(q, p))


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """One row per (grid point, replicate, estimator, sampler)."""
    return run_in_process(sys.modules[__name__], config, progress)


# -- verdicts ---------------------------------------------------------------------------------

#: A fresh point exceeds the fitted bound significantly when its mean log ratio is more than
#: this many standard errors above log C_fit. With ~24 fresh points x 15 (estimator, sampler)
#: groups (~360 one-sided comparisons) a 4-SE band keeps the chance of any false alarm near
#: 1% under normal noise (pooled SE: many degrees of freedom).
Z_BAND = 4.0
_KEYS = ("grid", "point", "d", "s", "T")


def with_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus ``ratio_<bound>`` = kl / bound, ``c_fit_<bound>`` and ``scaled_<bound>``.

    C_fit is ``fitted_constant`` per estimator and sampler; scaled = ratio / C_fit (the
    fitted bound holds at a row iff scaled <= 1).
    """
    out = df.copy()
    groups = list(df.groupby(["estimator", "sampler"]))
    for key in BOUNDS:
        out[f"ratio_{key}"] = out["kl"] / out[f"bound_{key}"]
        c_fit = {group: fitted_constant(point_summary(grp, key)[0]) for group, grp in groups}
        out[f"c_fit_{key}"] = [c_fit[g] for g in zip(out["estimator"], out["sampler"], strict=True)]
        out[f"scaled_{key}"] = out[f"ratio_{key}"] / out[f"c_fit_{key}"]
    return out


def figure_table(df: pd.DataFrame) -> pd.DataFrame:
    """The table the figure draws: ``with_ratios`` (figures never import experiments)."""
    return with_ratios(df)


def fitted_constant(summary: pd.DataFrame) -> float:
    """C_fit: the largest geometric mean of KL / bound over replicates on the fit grid
    (``summary`` from ``point_summary``)."""
    return math.exp(float(summary.loc[summary["grid"] == "fit", "mean_log"].max()))


def point_summary(df: pd.DataFrame, key: str) -> tuple[pd.DataFrame, float]:
    """Per point of one (estimator, sampler): mean log ratio over replicates and their count;
    and the pooled within-point standard deviation of the log ratio (0 for exact scores)."""
    log_ratio = np.log(df["kl"] / df[f"bound_{key}"])
    groups = log_ratio.groupby([df[k] for k in _KEYS])
    table = pd.DataFrame({"mean_log": groups.mean(), "k": groups.size()}).reset_index()
    resid = log_ratio - groups.transform("mean")
    dof = int((table["k"] - 1).sum())
    pooled = math.sqrt(float(np.sum(resid**2)) / dof) if dof > 0 else math.nan
    return table, pooled


def assess(df: pd.DataFrame, key: str) -> dict:
    """Fitted constant, excesses and trend for one (estimator, sampler) (module docstring).

    ``excess`` is the mean log ratio of each fresh (and corner) point minus log C_fit, ``se``
    its standard error (replicate sd pooled within points; 0 for deterministic estimators),
    ``trend`` the joint log-log exponents of KL / bound in d, s, T over the drawn points.
    """
    table, sd = point_summary(df, key)
    fit = table[table["grid"] == "fit"]
    test = table[table["grid"] != "fit"]
    fresh = table[table["grid"] == "fresh"]
    at_c = fit.loc[fit["mean_log"].idxmax()]
    log_c = math.log(fitted_constant(table))
    excess = test["mean_log"].to_numpy() - log_c
    sd_ = 0.0 if not math.isfinite(sd) else sd
    se = sd_ * np.sqrt(1.0 / test["k"].to_numpy() + 1.0 / float(at_c["k"]))
    worst = test.iloc[int(np.argmax(excess))]
    trend = fit_power_laws(
        {v: fresh[v].to_numpy(float) for v in ("d", "s", "T")}, np.exp(fresh["mean_log"])
    )
    grows = [v for v, f in trend.items() if f.ci_low > 0]
    exceed = float(np.exp(excess.max()))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, excess / se, np.sign(excess) * np.inf)
    # Where the fitted trend would reach C_fit, from the worst point, along each growing
    # variable (an extrapolation: reported, never used for the verdict).
    crossing = {
        v: float(worst[v]) * (1.0 / exceed) ** (1.0 / trend[v].slope) for v in grows if exceed < 1.0
    }
    return {
        "c_fit": fitted_constant(table),
        "sd": sd,
        "excess": excess,
        "se": se,
        "points": [
            {"d": int(r["d"]), "s": int(r["s"]), "T": int(r["T"])} for _, r in test.iterrows()
        ],
        "exceed": exceed,
        "n_above": int(np.sum(excess > 0)),
        "n_significant": int(np.sum(z > Z_BAND)),
        "max_z": float(np.max(z)),
        "n_test": len(test),
        "worst": (int(worst["d"]), int(worst["s"]), int(worst["T"])),
        "trend": trend,
        "grows": grows,
        "crossing": crossing,
    }


def floor_excess(grp: pd.DataFrame, key: str, c_fit: float) -> list[float]:
    """Per corner of one (estimator, sampler): log of the smallest off-support KL over the
    training replicates (``off_support_kl``, a lower bound of each draw's KL) over C_fit
    times the bound. Above 0 the fitted bound fails at that corner in every draw."""
    if "kl_off_support" not in grp:
        return []
    at = grp[(grp["grid"] == "corner") & grp["kl_off_support"].notna()]
    out = []
    for _, g in at.groupby(["point"]):
        low = float((g["kl_off_support"] / g[f"bound_{key}"]).min())
        if low > 0:
            out.append(math.log(low / c_fit))
    return out


def _floor_text(grp: pd.DataFrame, c_fit: float) -> str:
    floors = floor_excess(grp, "paper", c_fit)
    if not floors:
        return ""
    worst = math.exp(max(floors))
    n = sum(f > 0 for f in floors)
    return (f"off-support KL alone (every draw) up to {worst:.3g} x C_fit B at the corners, "
            f"above it at {n} of {len(floors)}; ")  # fmt: skip


def _trend_text(trend: dict) -> str:
    return ", ".join(
        f"{v} {f.slope:.2g} [{f.ci_low:.2g}, {f.ci_high:.2g}]" for v, f in trend.items()
    )


#: Claims this experiment decides (a failed cell makes each of them "inconclusive").
CLAIMS = ("paper.theorem1",)
#: Relative tolerance of "KL <= C_fit B" on exact values (float64 recursions over <= 100
#: steps and a lambdified bound: about 1e-12 relative; 1e-9 leaves a wide margin).
EXACT_RTOL = 1e-9


def _judge(
    name: str, sampler: str, grp: pd.DataFrame, key: str, detail: str, corners: list[dict]
) -> judge.Verdict:
    a = assess(grp, key)
    setting = {"score": name, "sampler": sampler, "bound": key}
    prediction = (
        "KL <= C_fit (s^2 log^3 T / T + eps_score^2 log T)"
        if key == "paper"
        else "KL <= C_fit (d^2 log^3 T / T + eps_score^2 log T)"
    )
    if name in DETERMINISTIC:
        scaled = np.exp(a["excess"])
        return judge.domain(
            "paper.theorem1" if key == "paper" else "li2024.bound",
            setting,
            points=a["points"],
            values=scaled,
            limit=1.0,
            corners=corners,
            rtol=EXACT_RTOL,
            prediction=prediction + " at every point of the fresh domain, corners included "
            "(exact values)",
            detail=detail,
        )
    return judge.upper_bound(
        "paper.theorem1" if key == "paper" else "li2024.bound",
        setting,
        log_excess=a["excess"],
        se=a["se"],
        k=Z_BAND,
        growing=a["grows"],
        floor_log_excess=floor_excess(grp, key, a["c_fit"]),
        prediction=prediction + f" on fresh points (within {Z_BAND:g} SE)",
        detail=detail,
    )


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """``paper.theorem1`` per (estimator, sampler) (module docstring); the Li et al. control
    by the same test in the detail. Deterministic (exact-score) rows are judged over the
    fresh domain with its corners (``judge.domain``), estimated scores by the one-sided
    upper-bound rule with replicate standard errors (``judge.upper_bound``)."""
    out: list[judge.Verdict] = []
    fit_pts = df[df["grid"] == "fit"][["d", "s", "T"]].drop_duplicates()
    fresh_pts = df[df["grid"] == "fresh"][["d", "s", "T"]].drop_duplicates()
    corner_pts = df[df["grid"] == "corner"][["d", "s", "T"]].drop_duplicates()
    corners = [{k: int(r[k]) for k in ("d", "s", "T")} for _, r in corner_pts.iterrows()]

    def span(pts: pd.DataFrame, v: str) -> str:
        return f"{int(pts[v].min())}-{int(pts[v].max())}"

    grids = (
        f"fit grid {len(fit_pts)} points (d {span(fit_pts, 'd')}, s {span(fit_pts, 's')}, "
        f"T {span(fit_pts, 'T')}); fresh {len(fresh_pts)} drawn points (d "
        f"{span(fresh_pts, 'd')}, s {span(fresh_pts, 's')}, T {span(fresh_pts, 'T')}) and "
        f"{len(corner_pts)} corners of the fresh domain (every estimator); "
        f"{df['replicate'].nunique()} training replicates each, n = {int(df['n'].iloc[0])}"
    )
    order = {name: i for i, name in enumerate(ESTIMATORS)}
    groups = sorted(
        df.groupby(["estimator", "sampler"]),
        key=lambda item: (order.get(item[0][0], 99), SAMPLERS.index(item[0][1])),
    )
    for (name, sampler), grp in groups:
        paper = assess(grp, "paper")
        li = _judge(name, sampler, grp, "li", "", corners)
        wd, ws, wT = paper["worst"]
        crossing = "".join(
            f"trend reaches C_fit near {v} = {x:.3g}; " for v, x in paper["crossing"].items()
        )
        detail = (
            f"{grids}; C_fit = {paper['c_fit']:.3g} (geometric mean over replicates); pooled "
            f"replicate sd of log ratio {paper['sd']:.2g}; worst point d={wd}, s={ws}, "
            f"T={wT}; {paper['n_above']} of {paper['n_test']} test means above C_fit, "
            + (
                f"exact values, tolerance {EXACT_RTOL:g}; "
                if name in DETERMINISTIC
                else f"{paper['n_significant']} by more than {Z_BAND:g} SE (max z "
                f"{paper['max_z']:.3g}); "
            )
            + _floor_text(grp, paper["c_fit"])
            + f"exponents of KL / bound on the fresh grid (95% CI): {_trend_text(paper['trend'])}; "
            f"{crossing}Li et al. d^2 bound by the same test: {li.verdict} "
            f"(max / C_fit {li.measured:.4g})"
        )
        out.append(_judge(name, sampler, grp, "paper", detail, corners))
    return out
