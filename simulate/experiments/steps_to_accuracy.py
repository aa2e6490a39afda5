"""Steps to accuracy: the smallest number of steps T*(epsilon) with KL <= epsilon, for every
sampler with the exact score on aligned Gaussian data, against s at fixed d, against s with d = s,
and against d at fixed s (the reviewers' "can fewer than s^2 steps suffice?").

Data: X_0 = (W_1, ..., W_s, 0, ..., 0), W_i iid N(0, lam): s signal and d - s pure-noise
coordinates. With the exact score every sampler acts on each coordinate alone, so the exact
KL of the output splits as

    KL(s, d, T) = s k_signal(T) + (d - s) k_noise(T),

k_signal and k_noise the KL terms of one signal and one pure-noise coordinate
(``metrics.kl_gaussian(per_coordinate=True)`` on the two-coordinate model; a test checks the
split against the full law). KL(T) need not be monotone (Heun: the pure-noise coordinate's
error crosses zero near T = 95), so two numbers are kept (``first_and_stable``): ``t_star``,
the smallest T with KL <= epsilon, and ``t_star_stable``, the smallest T from which KL <=
epsilon at every larger T checked (a geometric grid to twice it, plus the zero crossings of
each coordinate's signed error). The claims use ``t_star_stable``; ``nfe_star`` is its NFE.

Samplers: on the Li et al. schedule li(T, c0, c1) the three discrete ones (KL(q_1 || p_1));
on ``vp_sde(N = T + 1, eps)`` the six VP-SDE schemes (KL(p_eps || p_hat)). Starts: N(0, I)
(the convention) and q_T (no initialization error).

Claims: ``steps.s_exponent``: T*_stable = O(s^2) (the paper, as read) at fixed d and with
d = s, judged as an upper-bound rate on the exponent fitted in the predicted form (T* / log T*
= c s^p on the Li schedule, whose step is c1 log T / T; a T* censored at the grid's floor is a
bound); its value is also compared with s (Huang et al. 2024, Potaptchik et al. 2024) in the
detail. ``steps.d_free``: T*_stable does not move with d at fixed s, decided by the exact KL
slope per pure-noise coordinate at T* (``judge.d_free``), never by a flat stretch of the sweep.

Only the exact score is swept here: the estimators' error floor makes T* infinite once it
exceeds epsilon, which a sweep over estimators must treat separately (not built yet).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from simulate import exact, judge, metrics, models, samplers, schedules
from simulate.pipeline.cells import run_in_process
from theory.claims import RESOLUTION

NAME = "steps_to_accuracy"

DISCRETE: tuple[str, ...] = ("ddpm_beta", "ddpm_posterior", "ddim")
CONTINUOUS: tuple[str, ...] = samplers.CONTINUOUS_SAMPLERS
#: A fitted exponent of T* in d whose interval is wider than this is "inconclusive".
D_EXPONENT_MAX_WIDTH = 0.5


@dataclass(frozen=True)
class Config:
    """The sweeps (defaults: the full setting)."""

    epsilon: float = 0.01
    lam: float = 2.0
    s_values: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    d_for_s: int = 64
    #: s of the sweep with d = s (no pure-noise coordinate); it runs further, since the
    #: VP-SDE schemes need many signal coordinates before T* leaves T_min.
    s_full_values: tuple[int, ...] = (4, 16, 64, 256, 1024, 4096, 16384)
    d_values: tuple[int, ...] = (16, 64, 256, 1024, 4096, 16384)
    s_for_d: int = 4
    samplers: tuple[str, ...] = DISCRETE + CONTINUOUS
    inits: tuple[str, ...] = ("normal", "p_T")
    c0: float = 2.0
    c1: float = 4.0
    vp_eps: float = 1e-3
    #: Smallest T tried: li(T, c0, c1) needs c1 log T / T < 1 (T >= 10 at c1 = 4), and the
    #: ancestral step needs beta(t) h < 1 (T >= 21 at beta_max = 20).
    T_min_discrete: int = 10
    T_min_continuous: int = 25
    T_max: int = 1 << 16

    @classmethod
    def quick(cls) -> Config:
        return cls(
            s_values=(1, 4, 16),
            d_for_s=16,
            s_full_values=(16, 256, 4096),
            d_values=(16, 256, 4096),
            samplers=("ddpm_beta", "ddpm_posterior", "em", "pf_heun"),
            T_max=1 << 16,
        )

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        if not self.epsilon > 0:
            raise ValueError(f"epsilon={self.epsilon} is out of range; allowed: real > 0")
        check_sweeps(self.s_values, self.d_for_s, self.d_values, self.s_for_d, self.s_full_values)
        unknown = set(self.samplers) - set(DISCRETE + CONTINUOUS)
        if unknown:
            raise ValueError(
                f"unknown samplers {sorted(unknown)}; allowed: {', '.join(DISCRETE + CONTINUOUS)}"
            )
        if self.T_min_continuous < 21 or self.T_min_discrete < 10:
            raise ValueError(
                "T_min_continuous must be >= 21 (ancestral needs beta h < 1) and T_min_discrete "
                f">= 10 (the li schedule); got {self.T_min_continuous}, {self.T_min_discrete}"
            )


def check_sweeps(s_values, d_for_s: int, d_values, s_for_d: int, *more) -> None:
    """The s sweep within [1, d_for_s], the d sweep from s_for_d, and every sweep (``more``
    too) with at least 3 points: a ValueError naming the parameter otherwise."""
    if any(s > d_for_s or s < 1 for s in s_values):
        raise ValueError(f"s_values must lie in [1, d_for_s={d_for_s}]")
    if any(d < s_for_d for d in d_values):
        raise ValueError(f"d_values must be >= s_for_d={s_for_d}")
    if min(len(s_values), len(d_values), *(len(m) for m in more)) < 3:
        raise ValueError("s_values and d_values need >= 3 points (an exponent with interval)")


def schedule_for(config: Config, sampler: str, T: int) -> schedules.Schedule:
    """li(T, c0, c1) for the discrete samplers, vp_sde(N = T + 1, eps) for the others."""
    if sampler in DISCRETE:
        return schedules.li(T, config.c0, config.c1)
    return schedules.vp_sde(N=T + 1, eps=config.vp_eps)


@cache
def _two_coordinates(lam: float) -> models.SubspaceGaussian:
    return models.SubspaceGaussian(2, 1, cov=[lam])


def kl_terms(config: Config, sampler: str, init: str, T: int) -> tuple[float, float]:
    """(k_signal, k_noise): the exact KL of one signal and one pure-noise coordinate
    (``exact.coordinate_law``: the closed-form composition of the T steps)."""
    return coordinate_errors(config, sampler, init, T)[:2]


def coordinate_errors(
    config: Config, sampler: str, init: str, T: int
) -> tuple[float, float, float, float]:
    """(k_signal, k_noise, e_signal, e_noise): the exact KL of one signal and one pure-noise
    coordinate, and their signed errors e = log(var_p / var_q) of the output variance against
    the target's (the means are 0 on both sides for this data, so a coordinate's KL,
    (r - 1 - log r) / 2 with r = var_q / var_p, is 0 exactly where e crosses 0: a change of
    sign of e between two T brackets a dip of KL(T))."""
    model = _two_coordinates(config.lam)
    sch = schedule_for(config, sampler, T)
    try:
        law = exact.coordinate_law([config.lam, 0.0], 0.0, sch, sampler, init)
    except FloatingPointError:  # an unstable step overflowed: the KL is infinite
        return math.inf, math.inf, math.inf, math.inf
    target = exact.target_law(model, sch)
    terms = metrics.kl_gaussian(target, law, per_coordinate=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        signed = np.log(np.asarray(law.cov.diag) / np.asarray(target.cov.diag))
    return float(terms[0]), float(terms[1]), float(signed[0]), float(signed[1])


@dataclass(frozen=True)
class StepsFound:
    """T* and T*_stable of one KL(T) curve (``first_and_stable``)."""

    #: the smallest T in [T_min, T_max] with KL(T) <= epsilon (NaN: none found)
    t_star: float
    #: the smallest T with KL <= epsilon at every larger T checked (NaN: KL(T_end) > epsilon)
    t_star_stable: float
    kl_at_t_star: float
    kl_at_t_star_stable: float
    #: KL(t_star - 1) > epsilon (or t_star = T_min): the first bisection's premise held
    checked: bool
    #: the largest T at which KL <= epsilon was checked (the scan's end)
    T_end: float


def first_and_stable(
    kl_of_T,
    epsilon: float,
    T_min: int,
    T_max: int,
    signs_of_T=None,
    ratio: float = 2.0 ** 0.25,
    span: float = 2.0,
) -> StepsFound:
    """T* = min{T >= T_min : KL(T) <= epsilon} and T*_stable = min{T : KL(T') <= epsilon for
    every T' >= T on the path checked} of a KL curve that need not be monotone in T.

    KL is scanned on the geometric grid T_min ratio^k (integers, up to T_max) until it has
    been <= epsilon at every grid point over a factor ``span`` in T (the end of the check,
    ``T_end``; beyond it the asymptotic decrease of KL in T is assumed) or T_max is reached.
    A dip narrower than a grid step is located at the zero crossings of the signed errors
    ``signs_of_T(T)`` (a tuple, one per component of the KL): each change of sign between two
    grid points is bisected to the two integers around the zero, which join the scan. T* is
    then bisected in the bracket before the first point with KL <= epsilon, T*_stable in the
    bracket after the last point with KL > epsilon (each bracket assumed to hold one
    crossing)."""
    if T_min < 1 or T_max < T_min or not ratio > 1.0 or not span >= 1.0:
        raise ValueError(
            f"need 1 <= T_min <= T_max, ratio > 1 and span >= 1; got T_min={T_min}, "
            f"T_max={T_max}, ratio={ratio}, span={span}"
        )
    grid = [T_min]
    run_start: int | None = T_min if kl_of_T(T_min) <= epsilon else None
    k = 0
    while grid[-1] < T_max and not (run_start is not None and grid[-1] >= span * run_start):
        k += 1
        nxt = min(T_max, max(grid[-1] + 1, round(T_min * ratio**k)))
        grid.append(nxt)
        if kl_of_T(nxt) <= epsilon:
            run_start = nxt if run_start is None else run_start
        else:
            run_start = None
    points = set(grid)
    if signs_of_T is not None:
        for a, b in zip(grid[:-1], grid[1:], strict=True):
            sa, sb = signs_of_T(a), signs_of_T(b)
            for j, (ea, eb) in enumerate(zip(sa, sb, strict=True)):
                if not (np.isfinite(ea) and np.isfinite(eb)) or ea * eb >= 0:
                    continue
                lo, hi = a, b
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if signs_of_T(mid)[j] * ea > 0:
                        lo = mid
                    else:
                        hi = mid
                points.update((lo, hi))
    order = sorted(points)
    good = [kl_of_T(T) <= epsilon for T in order]

    def bisect(lo: int, hi: int) -> int:
        # KL(lo) > epsilon >= KL(hi): a crossing in (lo, hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if kl_of_T(mid) <= epsilon:
                hi = mid
            else:
                lo = mid
        return hi

    if not any(good):
        t_star = t_stable = math.nan
        checked = False
    else:
        i = good.index(True)
        t_star = float(order[0] if i == 0 else bisect(order[i - 1], order[i]))
        checked = t_star == T_min or kl_of_T(int(t_star) - 1) > epsilon
        if not good[-1]:
            t_stable = math.nan
        elif all(good):
            t_stable = float(order[0])
        else:
            j = len(good) - 1 - good[::-1].index(False)
            t_stable = float(bisect(order[j], order[j + 1]))
    return StepsFound(
        t_star,
        t_stable,
        kl_of_T(int(t_star)) if math.isfinite(t_star) else math.nan,
        kl_of_T(int(t_stable)) if math.isfinite(t_stable) else math.nan,
        bool(checked),
        float(order[-1]),
    )


def steps_to_accuracy(
    kl_of_T, epsilon: float, T_min: int, T_max: int, rtol: float = 0.0
) -> tuple[float, float, bool]:
    """(T*, KL at T*, checked): the smallest T in [T_min, T_max] with kl_of_T(T) <= epsilon,
    by doubling then bisection; NaN when not reached by T_max. ``checked``: kl_of_T(T* - 1)
    > epsilon (or T* = T_min), i.e. the bisection's premise held at its end.

    With ``rtol`` > 0 (for an expensive KL) the bracket (lo, hi] is narrowed on every other
    step at the T where log KL, interpolated linearly in log T, reaches log epsilon, followed by
    a probe rtol to the other side of it (which closes the bracket when the guess was good),
    and by bisection on the steps in between (so the bracket at least halves every two steps).
    The search stops once hi - lo <= rtol hi: T* is then known to that relative resolution,
    and ``checked`` is kl_of_T(lo) > epsilon."""
    lo, hi = None, T_min
    while kl_of_T(hi) > epsilon:
        lo = hi
        if hi >= T_max:
            return math.nan, kl_of_T(hi), False
        hi = min(2 * hi, T_max)
    if lo is None:
        return float(hi), kl_of_T(hi), True
    step = 0
    while hi - lo > max(1.0, rtol * hi):
        mid = (lo + hi) // 2
        step += 1
        if rtol > 0.0 and step % 2 == 1:
            guess = _log_interpolate(lo, kl_of_T(lo), hi, kl_of_T(hi), epsilon)
            if guess is not None and lo < guess < hi:
                # aim just inside the side the guess is likely on, so that one more evaluation
                # on the other side can close the bracket to rtol
                mid = guess
        if kl_of_T(mid) <= epsilon:
            hi = mid
            nudge = math.floor(hi * (1.0 - rtol))
            if rtol > 0.0 and lo < nudge < hi and kl_of_T(nudge) > epsilon:
                lo = nudge
        else:
            lo = mid
            nudge = math.ceil(lo / (1.0 - rtol)) if rtol > 0.0 else hi
            if rtol > 0.0 and lo < nudge < hi and kl_of_T(nudge) <= epsilon:
                hi = nudge
    below = hi - 1 if rtol == 0.0 else lo
    return float(hi), kl_of_T(hi), kl_of_T(below) > epsilon


def _log_interpolate(lo: int, kl_lo: float, hi: int, kl_hi: float, epsilon: float) -> int | None:
    """The T where the line through (log lo, log KL(lo)) and (log hi, log KL(hi)) reaches
    log epsilon (None where a KL is not positive, or the line is flat)."""
    if not (kl_lo > 0.0 and kl_hi > 0.0 and kl_lo != kl_hi):
        return None
    slope = (math.log(kl_hi) - math.log(kl_lo)) / (math.log(hi) - math.log(lo))
    return round(math.exp(math.log(lo) + (math.log(epsilon) - math.log(kl_lo)) / slope))


def cells(config: Config) -> list[tuple]:
    """(sampler, init): both sweeps share the per-coordinate KL curve."""
    return [(sampler, init) for sampler in config.samplers for init in config.inits]


def run_cell(config: Config, cell: tuple) -> list[dict]:
    sampler, init = cell
    memo: dict[int, tuple[float, float, float, float]] = {}

    def terms(T: int) -> tuple[float, float, float, float]:
        if T not in memo:
            memo[T] = coordinate_errors(config, sampler, init, T)
        return memo[T]

    rows = []
    sweeps = [("s", s, config.d_for_s) for s in config.s_values]
    sweeps += [("s_full", s, s) for s in config.s_full_values]
    sweeps += [("d", config.s_for_d, d) for d in config.d_values]
    T_min = config.T_min_discrete if sampler in DISCRETE else config.T_min_continuous
    for sweep, s, d in sweeps:
        def total(T: int, s: int = s, d: int = d) -> float:
            k1, k0 = terms(T)[:2]
            return s * k1 + (d - s) * k0

        def signs(T: int, d: int = d, s: int = s) -> tuple[float, ...]:
            e1, e0 = terms(T)[2:]
            return (e1, e0) if d > s else (e1,)

        found = first_and_stable(total, config.epsilon, T_min, config.T_max, signs)
        stable = found.t_star_stable
        nfe_star = (
            samplers.nfe(schedule_for(config, sampler, int(stable)), sampler)
            if math.isfinite(stable)
            else math.nan
        )
        k1, k0 = terms(int(stable))[:2] if math.isfinite(stable) else (math.nan, math.nan)
        rows.append(
            {
                "sampler": sampler,
                "init": init,
                "sweep": sweep,
                "s": s,
                "d": d,
                "epsilon": config.epsilon,
                "lam": config.lam,
                "t_star": found.t_star,
                "t_star_stable": stable,
                "nfe_star": nfe_star,
                "kl_at_t_star": found.kl_at_t_star,
                "kl_at_t_star_stable": found.kl_at_t_star_stable,
                # the KL terms of one coordinate at t_star_stable (the claims' T*)
                "k_signal": k1,
                "k_noise": k0,
                "bisection_checked": found.checked,
                "T_end": found.T_end,
                # t_star_stable = T_min only says T*_stable <= T_min (censored: a bound)
                "at_floor": bool(stable == T_min),
                "T_min": T_min,
                "T_max": config.T_max,
                "schedule": "li" if sampler in DISCRETE else f"vp_sde(eps={config.vp_eps:g})",
            }
        )
    return rows


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """One row per (sampler, init, sweep point)."""
    return run_in_process(sys.modules[__name__], config, progress)


#: Claims this experiment decides (a failed cell makes each of them "inconclusive").
CLAIMS = ("steps.s_exponent", "steps.d_free")


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """Per (sampler, init): the exponent of T*_stable in s (upper-bound rate 2) and whether it
    is free of d (the exact slope per pure-noise coordinate)."""
    out: list[judge.Verdict] = []
    for (sampler, init), grp in df.groupby(["sampler", "init"], sort=False):
        setting = {"sampler": sampler, "init": init, "epsilon": float(grp["epsilon"].iloc[0])}
        out += sweep_verdicts(grp, setting, "steps.s_exponent", "steps.d_free")
    return out


def log_factor_form(sampler: str) -> bool:
    """Whether T*(s) carries the Li schedule's log factor: on li(T, c0, c1) the step size is
    h = c1 log T / T, so KL ~ s h^2 <= epsilon gives T* / log T* ~ (s / epsilon)^(1/2)
    (SCIENCE.md 1.1); the VP-SDE grid has h = 1 / N and no such factor."""
    return sampler in DISCRETE


def censored_exponent(
    x: np.ndarray, y: np.ndarray, floor: np.ndarray, T_min: float, T_max: float
) -> tuple[float, float]:
    """Bounds (low, high) on the secant exponent log(T*(x_last) / T*(x_first)) / log(x_last /
    x_first) of a sweep whose T* are partly censored: T* = T_min at the grid's floor says
    1 <= T* <= T_min (a sampler needs at least one step), NaN says T* > T_max."""
    lower = np.where(floor, 1.0, np.where(np.isfinite(y), y, T_max + 1.0))
    upper = np.where(floor, T_min, np.where(np.isfinite(y), y, math.inf))
    span = math.log(x[-1] / x[0])
    if not span > 0:
        raise ValueError(f"the sweep must grow: x from {x[0]} to {x[-1]}")
    return (
        math.log(lower[-1] / upper[0]) / span,
        math.log(upper[-1] / lower[0]) / span if math.isfinite(upper[-1]) else math.inf,
    )


def sweep_verdicts(
    grp: pd.DataFrame,
    setting: dict,
    s_claim: str,
    d_claim: str,
    what: str = "",
    column: str = "t_star_stable",
) -> list[judge.Verdict]:
    """The verdicts of one sampler's sweeps (rows of ``run_cell``'s columns; ``column`` names
    the T* the claims use): the exponent of T* in s at fixed d and with d = s (``s_claim``,
    upper-bound rate 2, fitted in the predicted form with its log factor on the Li schedule:
    T* / log T* = c s^p) and "T* free of d" at fixed s (``d_claim``, ``judge.d_free``).
    ``what`` qualifies the predictions (e.g. the data).

    Free of d, from the exact slope (DESIGN.md, "laws from exact slopes"): at fixed s,
    KL(d, T) = s k_signal(T) + (d - s) k_noise(T) with k_noise >= 0, so T* (to the
    resolution of its search) stays where it is at the sweep's first d, d0, exactly while
    (d - d0) k_noise(T*) <= epsilon - KL(d0, T*): the slope is k_noise(T*) per coordinate,
    and the KL headroom at T* is the change that moves T* by its resolution. A flat stretch
    of the sweep decides nothing; the fitted exponent of the sweep is reported beside it.

    Censoring (issue 26, item 6): T* = T_min at the grid's floor is only a bound T* <= T_min.
    With fewer than 3 uncensored points, the exponent is bounded by ``censored_exponent``
    and judged by ``judge.threshold`` with ``bound="upper"`` (it can hold, never fail)."""
    out: list[judge.Verdict] = []
    sampler = str(grp["sampler"].iloc[0])
    eps = float(grp["epsilon"].iloc[0])
    for sweep in ("s", "s_full", "d"):
        claim_id = d_claim if sweep == "d" else s_claim
        part = grp[grp["sweep"] == sweep].sort_values("d" if sweep == "d" else "s")
        if part.empty:
            continue
        var = "d" if sweep == "d" else "s"
        x, y = part[var].to_numpy(float), part[column].to_numpy(float)
        if sweep == "s":
            here = {**setting, "d": int(part["d"].iloc[0])}
        elif sweep == "s_full":
            here = {**setting, "d": "s"}  # d = s: no pure-noise coordinate
        else:
            here = {**setting, "s": int(part["s"].iloc[0])}
        floor = part["at_floor"].to_numpy(bool)
        reached = np.isfinite(y) & ~floor
        T_max = int(part["T_max"].iloc[0])
        if sweep == "d":
            out.append(_d_free_verdict(part, here, d_claim, eps, column, what, reached))
            continue
        logs = log_factor_form(sampler)
        prediction = (
            "T* = O(s^2) at fixed d (exponent of s <= 2)"
            if sweep == "s"
            else "T* = O(s^2) with d = s (exponent of s <= 2)"
        )
        if logs:
            prediction += "; fitted as T* / log T* = c s^p (the Li schedule's log factor)"
        if what:
            prediction += f", {what}"
        if reached.sum() < 3:
            T_min = float(part[column][floor].iloc[0]) if floor.any() else math.nan
            if not floor.any() or np.isfinite(y).sum() + floor.sum() < 3:
                out.append(
                    judge.not_applicable(
                        claim_id, here, "rate", prediction,
                        f"T* known (reached, or bounded by T_min) at fewer than 3 points "
                        f"of the {var} sweep (T_max = {T_max})",
                    )
                )
                continue
            low, high = censored_exponent(x, y, floor, T_min, T_max)
            out.append(
                judge.threshold(
                    claim_id, here, estimate=high, low=high, high=high, threshold=2.0,
                    side="below", bound="upper", prediction=prediction,
                    detail=(
                        f"T* <= T_min = {int(T_min)} (the grid's floor: a bound) at {var} = "
                        f"{x[floor].astype(int).tolist()}; the exponent from {var} = "
                        f"{int(x[0])} to {int(x[-1])} is at most {high:.3g} (T* >= 1 at the "
                        "first point): an upper bound of the exponent"
                    ),
                )
            )
            continue
        yr = y[reached]
        fit_y = yr / np.log(yr) if logs else yr
        fit = judge.fit_rate(x[reached], fit_y)
        local = judge.local_exponents(x[reached], fit_y)
        bare = judge.fit_rate(x[reached], yr)
        form = "T* / log T*" if logs else "T*"
        text = (
            f"T* from {int(yr[0])} to {int(yr[-1])} over {var} = "
            f"{int(x[reached][0])}..{int(x[reached][-1])}; exponent of {form}: {fit.p:.3g} "
            f"[{fit.ci_low:.3g}, {fit.ci_high:.3g}] (T* is exact: the interval is the misfit "
            f"of the form and T*'s integer rounding, not noise); its local exponents run "
            f"{local[0]:.3g} .. {local[-1]:.3g} (range {local.min():.3g} .. {local.max():.3g})"
        )
        if logs:
            text += f"; a bare power law of T* would read {bare.p:.3g} (the log factor's curvature)"
        if floor.any():
            text += f"; T* <= T_min at {var} = {x[floor].astype(int).tolist()} (left out)"
        if not (reached | floor).all():
            text += (
                f"; T* > T_max = {T_max} at {var} = "
                f"{x[~np.isfinite(y)].astype(int).tolist()} (left out: the growth "
                "there is at least as fast)"
            )
        lines = {"s^2 (paper, as read)": 2.0, "s (Huang; Potaptchik)": 1.0}
        within = [k for k, v in lines.items() if fit.ci_low <= v <= fit.ci_high]
        text += f"; interval contains: {', '.join(within) or 'neither 1 nor 2'}"
        out.append(
            judge.rate(
                claim_id, here, fit, predicted=2.0, upper=True,
                prediction=prediction, detail=text,
            )
        )
    return out


def _d_free_verdict(
    part: pd.DataFrame,
    here: dict,
    claim_id: str,
    eps: float,
    column: str,
    what: str,
    reached: np.ndarray,
) -> judge.Verdict:
    """``judge.d_free`` on the slope k_noise(T*) at the d sweep's first point with d > s (see
    ``sweep_verdicts``); the sweep's fitted exponent goes in the detail."""
    # the first d with a pure-noise coordinate (at d = s there is no slope to read)
    noisy = part[(part["d"] > part["s"]) & np.isfinite(part["k_noise"].to_numpy(float))]
    first = noisy.iloc[0] if not noisy.empty else part.iloc[0]
    s, d0 = int(first["s"]), int(first["d"])
    k1, k0 = float(first["k_signal"]), float(first["k_noise"])
    headroom = eps - (s * k1 + (d0 - s) * k0)
    # the slope in closed form where the table has it (the grid oracle's k_noise carries its
    # quadrature error, ~1e-13, which would pose as a slope)
    slope = float(first["k_noise_exact"]) if "k_noise_exact" in first else k0
    res_text = RESOLUTION[claim_id][1]
    prediction = (
        "T* free of d at fixed s: the exact KL slope per pure-noise coordinate at T* moves T* "
        f"by its resolution ({res_text}) only beyond d = {judge.D_CEILING:.0e}"
    )
    if what:
        prediction += f", {what}"
    x, y = part["d"].to_numpy(float), part[column].to_numpy(float)
    grid_text = ""
    if reached.sum() >= 3:
        fit = judge.fit_rate(x[reached], y[reached])
        grid_text = (
            f"; on the sweep d = {int(x[0])}..{int(x[-1])} T* runs "
            f"{[int(v) if math.isfinite(v) else v for v in y]} (a finite-grid fit of the "
            f"exponent of d: {fit.p:.3g} "
            f"[{fit.ci_low:.3g}, {fit.ci_high:.3g}], not the decision)"
        )
    detail = (
        f"at d0 = {d0}: T* = {first[column]:g}, KL headroom epsilon - KL(d0, T*) = "
        f"{headroom:.3g}, k_noise(T*) = {slope:.3g}" + grid_text
    )
    # a KL of exactly epsilon at T* leaves no headroom: the first added coordinate moves T*
    resolution = headroom if headroom > 0 else math.ulp(eps)
    return judge.d_free(
        claim_id, here, slope=slope, resolution=resolution, d0=d0,
        prediction=prediction, detail=detail,
    )
