"""Steps to accuracy with fitted scores: does a learned score change how many steps are needed,
and do more steps always help? (issue 12, item 6, for the estimators).

Data: X_0 = (W_1, ..., W_s, 0, ..., 0), W_i iid N(0, lam), as in ``steps_to_accuracy``.
Estimators: the exact score (the reference), least squares (``LinearDSM``) and the paper's l1
estimator in both readings (``L1LinearDSM``, penalty on the denoiser or on the score), each
fitted on n training points with the default r rule.

Trained once: the training noise is shared by all steps (``noise="shared"``, common random
numbers), so the fitted score is one smooth function of the noise level, as a network trained
for all t is, and the fits on li(T) and li(T') differ only through their noise levels. With
fresh noise per step, KL(T) of an estimator refitted for every T jumps by its sampling
fluctuation from one T to the next and its T* is not defined (stop 19's finding).

Every fitted score here is affine, so the output law is exact (``exact.output_law``) and
KL(q_1 || p_1) is exact for the fitted estimator: no Monte Carlo. Samplers: the two that are
d-free with the exact score on li(T, c0, c1) (``ddpm_posterior`` and ``ddim``), start N(0, I).

For each (estimator, sampler, s, d), KL(T) on the grid ``T_grid``, then:

- ``kl_limit`` = KL at T_ref = max(T_grid), the estimator's own limit as far as the grid
  reaches; ``settled``: |KL(T_ref) - KL(T_ref / 2)| <= ``settle`` epsilon;
- ``T_star``: the smallest T with KL <= epsilon from there on along the grid (bisection in the
  last bracket; NaN when KL(T_ref) > epsilon: the estimation floor is above epsilon);
- ``T_star_excess``: the same for |KL(T) - KL(T_ref)| <= epsilon, the steps that bring the
  sampler within epsilon of what this estimator can give (defined only where ``settled``).

Claims: ``steps.fitted_more_steps_help`` (doubling the steps from T_ref / 2 to T_ref does not
raise the KL by more than ``settle`` epsilon);
``steps.fitted_s_exponent`` (T_star_excess = O(s^2) at fixed d) and ``steps.fitted_d_free``
(T_star_excess does not grow with d at fixed s), judged per (estimator, sampler) on the
settled points. The perturbed estimator is left out: its error direction is redrawn at every
step, so its KL(T) averages the errors out as T grows and its T* measures that construction,
not a fitted score.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulate import estimators, exact, judge, metrics, models, schedules
from simulate.experiments.steps_to_accuracy import D_EXPONENT_MAX_WIDTH, check_sweeps
from simulate.pipeline.cells import run_in_process
from simulate.report import markdown_table

NAME = "steps_fitted"

ESTIMATORS: tuple[str, ...] = ("exact", "least_squares", "l1_denoiser", "l1_score")
SAMPLERS: tuple[str, ...] = ("ddpm_posterior", "ddim")


@dataclass(frozen=True)
class Config:
    """The sweeps (defaults: the full setting)."""

    epsilon: float = 0.01
    lam: float = 2.0
    n: int = 2000
    seed: int = 0
    estimators: tuple[str, ...] = ESTIMATORS
    samplers: tuple[str, ...] = SAMPLERS
    s_values: tuple[int, ...] = (1, 2, 4, 8, 16)
    d_for_s: int = 32
    d_values: tuple[int, ...] = (4, 8, 16, 32, 64)
    s_for_d: int = 2
    #: Steps of li(T, c0, c1) at which KL is computed (each a fit of T steps); the last is
    #: T_ref, where the estimator's limit is read.
    T_grid: tuple[int, ...] = (10, 20, 40, 80, 160, 320, 640)
    #: KL(T_ref) - KL(T_ref / 2) within this share of epsilon counts as settled.
    settle: float = 0.25
    c0: float = 2.0
    c1: float = 4.0

    @classmethod
    def quick(cls) -> Config:
        return cls(
            n=1000, s_values=(1, 2, 4), d_for_s=16, d_values=(4, 8, 16),
            T_grid=(10, 20, 40, 80, 160, 320),
        )  # fmt: skip

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        if not self.epsilon > 0:
            raise ValueError(f"epsilon={self.epsilon} is out of range; allowed: real > 0")
        if self.n < 2:
            raise ValueError(f"n={self.n} is out of range; allowed: integer >= 2")
        check_sweeps(self.s_values, self.d_for_s, self.d_values, self.s_for_d)
        grid = list(self.T_grid)
        if len(grid) < 3 or grid != sorted(set(grid)) or grid[0] < 10 or grid[-1] % 2:
            raise ValueError(
                f"T_grid={self.T_grid} must be >= 3 increasing integers from 10 (the li "
                "schedule) with an even last entry (T_ref / 2 is compared)"
            )
        for name, given, allowed in (
            ("estimators", self.estimators, ESTIMATORS), ("samplers", self.samplers, SAMPLERS)
        ):  # fmt: skip
            unknown = set(given) - set(allowed)
            if unknown:
                raise ValueError(
                    f"unknown {name} {sorted(unknown)}; allowed: {', '.join(allowed)}"
                )


def make_estimator(config: Config, name: str, model: models.SubspaceGaussian):
    """The estimator called ``name``, trained once on n points (shared noise)."""
    if name == "exact":
        return estimators.Exact(model)
    if name == "least_squares":
        return estimators.LinearDSM(model, config.n, seed=config.seed, noise="shared")
    reading = "denoiser" if name == "l1_denoiser" else "score"
    return estimators.L1LinearDSM(
        model, config.n, seed=config.seed, noise="shared", parametrization=reading
    )


def cells(config: Config) -> list[tuple]:
    """(estimator, sweep, s, d): every sampler shares the estimator's fits."""
    points = [("s", s, config.d_for_s) for s in config.s_values]
    points += [("d", config.s_for_d, d) for d in config.d_values]
    return [(name, *p) for name in config.estimators for p in points]


def _first_from_which(ok, grid: list[int], evaluate) -> tuple[float, bool, bool]:
    """(T, checked, at_floor): the smallest T from which ``ok`` holds at every larger grid T,
    refined by bisection in the bracket before it; NaN when ``ok`` fails at the last grid T.
    ``checked``: ``ok`` fails at T - 1 (or T is the first grid point)."""
    flags = [ok(evaluate(T)) for T in grid]
    if not flags[-1]:
        return math.nan, False, False
    j = len(flags) - 1
    while j > 0 and flags[j - 1]:
        j -= 1
    if j == 0:
        return float(grid[0]), True, True
    lo, hi = grid[j - 1], grid[j]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(evaluate(mid)):
            hi = mid
        else:
            lo = mid
    return float(hi), not ok(evaluate(hi - 1)), False


def run_cell(config: Config, cell: tuple) -> list[dict]:
    name, sweep, s, d = cell
    s, d = int(s), int(d)
    model = models.SubspaceGaussian(d, s, cov=[config.lam] * s)
    est = make_estimator(config, name, model)
    memo: dict[int, dict[str, float]] = {}

    def kl_all(T: int) -> dict[str, float]:
        if T not in memo:
            sch = schedules.li(T, config.c0, config.c1)
            fitted = est.fit(sch)
            target = exact.target_law(model, sch)
            memo[T] = {
                sampler: float(
                    metrics.kl_gaussian(
                        target, exact.output_law(fitted, sch, sampler, init="normal")
                    )
                )
                for sampler in config.samplers
            }
        return memo[T]

    grid = list(config.T_grid)
    T_ref = grid[-1]
    base = {
        "estimator": name, "sweep": sweep, "s": s, "d": d, "n": config.n,
        "epsilon": config.epsilon, "lam": config.lam, "seed": config.seed, "init": "normal",
        "settle": config.settle,
    }  # fmt: skip
    rows = []
    for sampler in config.samplers:
        def kl(T: int, sampler: str = sampler) -> float:
            return kl_all(T)[sampler]

        limit, half = kl(T_ref), kl(T_ref // 2)
        settled = abs(limit - half) <= config.settle * config.epsilon
        T_star, checked, at_floor = _first_from_which(
            lambda v: v <= config.epsilon, grid, kl
        )
        if settled:
            T_ex, checked_ex, floor_ex = _first_from_which(
                lambda v, limit=limit: abs(v - limit) <= config.epsilon, grid, kl
            )
        else:
            T_ex, checked_ex, floor_ex = math.nan, False, False
        rows += [
            {**base, "row_kind": "curve", "sampler": sampler, "T": T, "kl": kl(T)}
            for T in grid
        ]
        rows.append(
            {
                **base, "row_kind": "summary", "sampler": sampler, "T": T_ref,
                "kl": limit, "kl_limit": limit, "kl_half": half, "settled": settled,
                "T_star": T_star, "bisection_checked": checked, "at_floor": at_floor,
                "floor_above_epsilon": bool(limit > config.epsilon),
                "T_star_excess": T_ex, "excess_checked": checked_ex,
                "excess_at_floor": floor_ex, "T_min": grid[0], "T_ref": T_ref,
            }
        )  # fmt: skip
    return rows


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """Curve rows (KL at each grid T) and one summary row per (estimator, sampler, point)."""
    return run_in_process(sys.modules[__name__], config, progress)


#: Claims this experiment decides (a failed cell makes each of them "inconclusive").
CLAIMS = ("steps.fitted_more_steps_help", "steps.fitted_s_exponent", "steps.fitted_d_free")


def _list(values) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """Per (estimator, sampler): KL not rising from T_ref / 2 to T_ref (threshold), and the
    exponent of T_star_excess in s (upper-bound rate 2) and in d (0, two-sided)."""
    out: list[judge.Verdict] = []
    summary = df[df["row_kind"] == "summary"]
    for (name, sampler), grp in summary.groupby(["estimator", "sampler"], sort=False):
        eps = float(grp["epsilon"].iloc[0])
        settle = float(grp["settle"].iloc[0]) * eps
        setting = {"estimator": name, "sampler": sampler, "epsilon": eps,
                   "n": int(grp["n"].iloc[0])}  # fmt: skip
        T_ref = int(grp["T_ref"].iloc[0])
        # signed: a decrease of KL from T_ref / 2 to T_ref is what more steps should give
        change = (grp["kl_limit"] - grp["kl_half"]).to_numpy(float)
        worst = int(np.argmax(change))
        at = grp.iloc[worst]
        out.append(
            judge.threshold(
                "steps.fitted_more_steps_help", {**setting, "T_ref": T_ref},
                estimate=float(change[worst]), low=float(change[worst]),
                high=float(change[worst]), threshold=settle, side="below",
                prediction=(
                    f"KL(T_ref) - KL(T_ref / 2) <= {settle:g} at every (s, d): doubling the "
                    "steps does not make the output worse"
                ),
                detail=(
                    f"largest change at s = {int(at['s'])}, d = {int(at['d'])}: KL "
                    f"{at['kl_half']:.4g} at T = {T_ref // 2} -> {at['kl_limit']:.4g} at T = "
                    f"{T_ref}; KL(T_ref) over the points: {_list(grp['kl_limit'])}"
                ),
            )
        )
        for sweep, claim_id in (("s", "steps.fitted_s_exponent"), ("d", "steps.fitted_d_free")):
            part = grp[grp["sweep"] == sweep].sort_values(sweep)
            x = part[sweep].to_numpy(float)
            y = part["T_star_excess"].to_numpy(float)
            fixed = "d" if sweep == "s" else "s"
            here = {**setting, fixed: int(part[fixed].iloc[0]), "criterion": "excess"}
            settled = part["settled"].to_numpy(bool)
            floor = part["excess_at_floor"].to_numpy(bool)
            use = settled & np.isfinite(y) & ~floor
            prediction = (
                "T* (to within epsilon of the estimator's limit) = O(s^2) at fixed d"
                if sweep == "s"
                else "T* (to within epsilon of the estimator's limit) independent of d"
            )
            absolute = (
                f"absolute T* (KL <= {eps:g}) over {sweep} = {x.astype(int).tolist()}: "
                f"{_list(part['T_star'])} (NaN: KL(T_ref) above epsilon); KL(T_ref): "
                f"{_list(part['kl_limit'])}"
            )
            notes = []
            if (~settled).any():
                notes.append(
                    f"not settled by T_ref = {T_ref} at {sweep} = "
                    f"{x[~settled].astype(int).tolist()} (left out)"
                )
            if floor.any():
                notes.append(
                    f"T* <= T_min = {int(part['T_min'].iloc[0])} at {sweep} = "
                    f"{x[floor].astype(int).tolist()} (left out)"
                )
            if use.sum() < 3:
                out.append(
                    judge.not_applicable(
                        claim_id, here, "rate", prediction,
                        f"the excess T* is defined at fewer than 3 points of the {sweep} "
                        f"sweep; " + "; ".join([*notes, absolute]),
                    )
                )
                continue
            fit = judge.fit_rate(x[use], y[use])
            text = (
                f"excess T* from {int(y[use][0])} to {int(y[use][-1])} over {sweep} = "
                f"{int(x[use][0])}..{int(x[use][-1])}; fitted exponent {fit.p:.3g} "
                f"[{fit.ci_low:.3g}, {fit.ci_high:.3g}]; " + "; ".join([*notes, absolute])
            )
            if sweep == "s":
                out.append(
                    judge.rate(
                        claim_id, here, fit, predicted=2.0, upper=True,
                        prediction=prediction, detail=text,
                    )
                )
            else:
                out.append(
                    judge.rate(
                        claim_id, here, fit, predicted=0.0, max_width=D_EXPONENT_MAX_WIDTH,
                        prediction=prediction, detail=text,
                    )
                )
    return out


def report_section(df: pd.DataFrame) -> str:
    """The summary table: KL at T_ref, both T*, per estimator, sampler and point."""
    table = df[df["row_kind"] == "summary"]
    cols = ["estimator", "sampler", "sweep", "s", "d", "kl_half", "kl_limit", "settled",
            "T_star", "T_star_excess"]  # fmt: skip
    intro = (
        "Fitted scores trained once (shared training noise), exact output laws on li(T, 2, 4), "
        "start N(0, I), KL(q_1 || p_1). kl_half and kl_limit: KL at T_ref / 2 and T_ref; "
        "T_star: steps to KL <= epsilon (NaN: the limit is above epsilon); T_star_excess: "
        "steps to within epsilon of the limit (NaN where the limit has not settled)."
    )
    return intro + "\n\n" + markdown_table(table, cols, nan="nan")
