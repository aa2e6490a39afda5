"""Steps to accuracy: the smallest number of steps T*(epsilon) with KL <= epsilon, for every
sampler with the exact score on aligned Gaussian data, against s at fixed d, against s with d = s,
and against d at fixed s (the reviewers' "can fewer than s^2 steps suffice?").

Data: X_0 = (W_1, ..., W_s, 0, ..., 0), W_i iid N(0, lam): s signal and d - s pure-noise
coordinates. With the exact score every sampler acts on each coordinate alone, so the exact
KL of the output splits as

    KL(s, d, T) = s k_signal(T) + (d - s) k_noise(T),

k_signal and k_noise the KL terms of one signal and one pure-noise coordinate
(``metrics.kl_gaussian(per_coordinate=True)`` on the two-coordinate model; a test checks the
split against the full law). T* is found by doubling from ``T_min`` and bisection on this exact
path (KL is checked to exceed epsilon at T* - 1); ``nfe_star`` is the NFE it costs.

Samplers: on the Li et al. schedule li(T, c0, c1) the three discrete ones (KL(q_1 || p_1));
on ``vp_sde(N = T + 1, eps)`` the six VP-SDE schemes (KL(p_eps || p_hat)). Starts: N(0, I)
(the convention) and q_T (no initialization error).

Claims: ``steps.s_exponent``: T* = O(s^2) (the paper, as read) at fixed d, judged as an
upper-bound rate on the fitted exponent (its value is also compared with s, Huang et al. 2024
and Potaptchik et al. 2024, and with d, Benton et al. 2024, in the detail);
``steps.d_free``: T* does not grow with d at fixed s (exponent 0, two-sided).

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
    model = _two_coordinates(config.lam)
    sch = schedule_for(config, sampler, T)
    try:
        law = exact.coordinate_law([config.lam, 0.0], 0.0, sch, sampler, init)
    except FloatingPointError:  # an unstable step overflowed: the KL is infinite
        return math.inf, math.inf
    terms = metrics.kl_gaussian(exact.target_law(model, sch), law, per_coordinate=True)
    return float(terms[0]), float(terms[1])


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
    memo: dict[int, tuple[float, float]] = {}

    def terms(T: int) -> tuple[float, float]:
        if T not in memo:
            memo[T] = kl_terms(config, sampler, init, T)
        return memo[T]

    rows = []
    sweeps = [("s", s, config.d_for_s) for s in config.s_values]
    sweeps += [("s_full", s, s) for s in config.s_full_values]
    sweeps += [("d", config.s_for_d, d) for d in config.d_values]
    for sweep, s, d in sweeps:
        def total(T: int, s: int = s, d: int = d) -> float:
            k1, k0 = terms(T)
            return s * k1 + (d - s) * k0

        T_min = config.T_min_discrete if sampler in DISCRETE else config.T_min_continuous
        T_star, kl_star, checked = steps_to_accuracy(total, config.epsilon, T_min, config.T_max)
        nfe_star = (
            samplers.nfe(schedule_for(config, sampler, int(T_star)), sampler)
            if math.isfinite(T_star)
            else math.nan
        )
        k1, k0 = terms(int(T_star)) if math.isfinite(T_star) else (math.nan, math.nan)
        rows.append(
            {
                "sampler": sampler,
                "init": init,
                "sweep": sweep,
                "s": s,
                "d": d,
                "epsilon": config.epsilon,
                "lam": config.lam,
                "T_star": T_star,
                "nfe_star": nfe_star,
                "kl_at_T_star": kl_star,
                "k_signal": k1,
                "k_noise": k0,
                "bisection_checked": checked,
                # T* = T_min only says T* <= T_min (censored): left out of the fits
                "at_floor": bool(T_star == T_min),
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
    """Per (sampler, init): the exponent of T* in s (upper-bound rate 2) and in d (0)."""
    out: list[judge.Verdict] = []
    for (sampler, init), grp in df.groupby(["sampler", "init"], sort=False):
        setting = {"sampler": sampler, "init": init, "epsilon": float(grp["epsilon"].iloc[0])}
        out += sweep_verdicts(grp, setting, "steps.s_exponent", "steps.d_free")
    return out


def sweep_verdicts(
    grp: pd.DataFrame, setting: dict, s_claim: str, d_claim: str, what: str = ""
) -> list[judge.Verdict]:
    """The verdicts of one sampler's sweeps (rows of ``run_cell``'s columns): the exponent of
    T* in s at fixed d and with d = s (``s_claim``, upper-bound rate 2) and in d at fixed s
    (``d_claim``, 0, two-sided). ``what`` qualifies the predictions (e.g. the data)."""
    out: list[judge.Verdict] = []
    sampler = grp["sampler"].iloc[0]
    for sweep in ("s", "s_full", "d"):
        claim_id = d_claim if sweep == "d" else s_claim
        part = grp[grp["sweep"] == sweep].sort_values("d" if sweep == "d" else "s")
        if part.empty:
            continue
        var = "d" if sweep == "d" else "s"
        x, y = part[var].to_numpy(float), part["T_star"].to_numpy(float)
        if sweep == "s":
            here = {**setting, "d": int(part["d"].iloc[0])}
        elif sweep == "s_full":
            here = {**setting, "d": "s"}  # d = s: no pure-noise coordinate
        else:
            here = {**setting, "s": int(part["s"].iloc[0])}
        floor = part["at_floor"].to_numpy(bool)
        reached = np.isfinite(y) & ~floor
        prediction = (
            "T* = O(s^2) at fixed d (exponent of s <= 2)"
            if sweep == "s"
            else "T* = O(s^2) with d = s (exponent of s <= 2)"
            if sweep == "s_full"
            else "T* independent of d at fixed s (exponent 0)"
        )
        if what:
            prediction += f", {what}"
        if reached.sum() < 3:
            out.append(
                judge.not_applicable(
                    claim_id, here, "rate", prediction,
                    f"T* reached above T_min and by T_max = {int(part['T_max'].iloc[0])} at "
                    f"fewer than 3 points of the {var} sweep",
                )
            )
            continue
        fit = judge.fit_rate(x[reached], y[reached])
        text = (
            f"T* from {int(y[reached][0])} to {int(y[reached][-1])} over {var} = "
            f"{int(x[reached][0])}..{int(x[reached][-1])}; fitted exponent {fit.p:.3g} "
            f"[{fit.ci_low:.3g}, {fit.ci_high:.3g}]"
        )
        if floor.any():
            text += f"; T* <= T_min at {var} = {x[floor].astype(int).tolist()} (left out)"
        if not (reached | floor).all():
            text += (
                f"; T* > T_max = {int(part['T_max'].iloc[0])} at {var} = "
                f"{x[~np.isfinite(y)].astype(int).tolist()} (left out: the growth "
                "there is at least as fast)"
            )
        if sweep != "d":
            lines = {"s^2 (paper, as read)": 2.0, "s (Huang; Potaptchik)": 1.0}
            within = [k for k, v in lines.items() if fit.ci_low <= v <= fit.ci_high]
            text += f"; interval contains: {', '.join(within) or 'neither 1 nor 2'}"
            out.append(
                judge.rate(
                    claim_id, here, fit, predicted=2.0, upper=True,
                    prediction=prediction, detail=text,
                )
            )
        else:
            order = samplers.ORDER.get(str(sampler))
            if order is not None:
                text += (
                    f"; a scheme of order {order} with KL ~ d h^{2 * order} predicts "
                    f"exponent 1/{2 * order} = {1 / (2 * order):.3g} for large d"
                )
            text += "; Benton et al. (2024): T* = O(d) (exponent <= 1)"
            out.append(
                judge.rate(
                    claim_id, here, fit, predicted=0.0,
                    max_width=D_EXPONENT_MAX_WIDTH, prediction=prediction, detail=text,
                )
            )
    return out
