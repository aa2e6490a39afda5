"""The one judge: every claim is decided by the rule of its kind (DESIGN.md, "Judging a claim").

A verdict is data (:class:`Verdict`); experiments compute measurements and call one rule
here; ``simulate.report`` only formats. The rules, one per kind of claim:

================  ==========================================================================
kind              rule
================  ==========================================================================
``upper_bound``   one-sided: "holds" = every point consistent with measured <= bound (within
                  ``k`` standard errors; exact values within the arithmetic's tolerance);
                  "fails" = some point above by more than that. A significant upward trend
                  of measured / bound with no exceedance yet reads "inconclusive".
``rate``          the predicted functional form y = a + c g(x)^p h(x) (offset ``a`` optional,
                  known factor h such as log d) is fitted and the interval of p is compared
                  with the prediction: two-sided for a stated rate (at the claim's
                  ``resolution``), one-sided for an upper-bound rate (an exponent below it is
                  consistent with the bound).
``identity``      |measured - predicted| <= atol + rtol |predicted| (tolerance from the
                  arithmetic, given with its reason).
``asymptotic``    decided where the asymptote has settled: local exponents
                  d log(y / h) / d log x on an exact path evaluated to large x; the claim is
                  judged on the last local exponent if the last ones agree to ``settle_tol``,
                  "inconclusive" if they have not settled (an upper bound whose exponent is
                  below it and still falling away from it holds unsettled).
``domain``        a deterministic quantity over a declared domain, evaluated exactly at every
                  given point, which must include the domain's corners.
``monte_carlo``   z-scores of a Monte Carlo estimate against an exact value, band
                  max(k_min, Bonferroni quantile) with the multiplicity stated.
``threshold``     an estimate with an interval against a threshold: "holds" when the whole
                  interval is on the claimed side, "fails" when it is wholly on the other,
                  "inconclusive" otherwise. An estimate that is only a bound (an optimum at
                  the edge of a swept grid) can only fail in the direction the bound allows.
================  ==========================================================================

Every rule can also return "not applicable" (the claim's premise is false in the setting;
:func:`not_applicable`) and a failed cell reads "inconclusive" (:func:`cell_failed`).

Notation: ``k`` -> the number of standard errors of a band, ``p`` -> an exponent, ``x`` -> the
swept variable, ``y`` -> the measured quantity, ``g`` / ``h`` -> the predicted form's
transformed variable (e.g. d - s) and known factor (e.g. log d).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as sps

__all__ = [
    "KINDS",
    "REASONS",
    "VERDICTS",
    "RateFit",
    "Verdict",
    "asymptotic",
    "cell_failed",
    "D_CEILING",
    "ROLES",
    "d_free",
    "domain",
    "fit_rate",
    "grid_optimum",
    "identity",
    "monte_carlo",
    "not_applicable",
    "rate",
    "start_limited",
    "threshold",
    "unresolved",
    "upper_bound",
]

VERDICTS = ("holds", "fails", "inconclusive", "not applicable")
KINDS = (
    "upper_bound",
    "rate",
    "identity",
    "asymptotic",
    "domain",
    "monte_carlo",
    "threshold",
)
#: Machine-readable reasons (tests assert these, never prose).
REASONS = (
    "within_bound",
    "exceeds_bound",
    "trend_toward_bound",
    "interval_contains_prediction",
    "interval_excludes_prediction",
    "interval_below_upper_rate",
    "interval_above_upper_rate",
    "interval_too_wide",
    "within_tolerance",
    "outside_tolerance",
    "settled_consistent",
    "settled_inconsistent",
    "not_settled",
    "all_points_satisfy",
    "point_violates",
    "within_band",
    "outside_band",
    "interval_on_claimed_side",
    "interval_on_other_side",
    "interval_straddles",
    "only_a_bound",
    "premise_false",
    "cell_failed",
    "start_limited",
    "underpowered",
    "unresolved",
    "free_to_ceiling",
    "moves_before_ceiling",
    "receding_from_bound",
)
#: What a verdict is about (``Verdict.role``): a ``check`` of a user's model (only these set
#: ``regdiff verify``'s exit code) or a ``finding`` about the samplers, estimators or bounds.
ROLES = ("check", "finding")
#: ``d_free``: the largest d any data set reaches; a slope that moves the quantity by the
#: claim's resolution only beyond it is "free of d" for every practical purpose.
D_CEILING = 1e12
#: Confidence level of every interval the rules compute.
LEVEL = 0.95


@dataclass(frozen=True)
class Verdict:
    """One decided claim in one setting.

    Attributes
    ----------
    claim_id : id in ``theory.claims``.
    setting : the setting's parameters (a dict; formatted only when printed).
    kind : the rule that decided it (one of ``KINDS``).
    measured : the decisive measured number (an exponent, a ratio, a worst z, ...).
    interval : its (low, high) interval (LEVEL, or the band used); (nan, nan) if none.
    prediction : what was predicted, in words with numbers.
    predicted : the predicted number, where there is one.
    verdict : one of ``VERDICTS``.
    reason : one of ``REASONS``.
    detail : prose for the report's details section.
    """

    claim_id: str
    setting: Mapping[str, Any]
    kind: str
    measured: float
    interval: tuple[float, float]
    prediction: str
    predicted: float | None
    verdict: str
    reason: str
    detail: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    role: str = "finding"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role={self.role!r}; allowed: {', '.join(ROLES)}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r}; allowed: {', '.join(VERDICTS)}")
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.reason not in REASONS:
            raise ValueError(f"reason={self.reason!r}; allowed: {', '.join(REASONS)}")
        object.__setattr__(self, "setting", dict(self.setting))
        object.__setattr__(self, "extra", dict(self.extra))
        object.__setattr__(self, "interval", (float(self.interval[0]), float(self.interval[1])))
        object.__setattr__(self, "measured", float(self.measured))

    @property
    def setting_text(self) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.setting.items())

    @property
    def measured_text(self) -> str:
        lo, hi = self.interval
        text = f"{self.measured:.4g}"
        if math.isfinite(lo) or math.isfinite(hi):
            text += f" [{lo:.4g}, {hi:.4g}]"
        return text

    def as_row(self) -> dict[str, Any]:
        """A flat dict (one row of figures/data/verdicts.csv)."""
        return {
            "claim_id": self.claim_id,
            "setting": self.setting_text,
            "kind": self.kind,
            "measured": self.measured,
            "interval_low": self.interval[0],
            "interval_high": self.interval[1],
            "predicted": self.predicted,
            "prediction": self.prediction,
            "verdict": self.verdict,
            "reason": self.reason,
            "role": self.role,
            "detail": self.detail,
        }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _v(
    claim_id: str,
    setting: Mapping[str, Any],
    kind: str,
    measured: float,
    interval: tuple[float, float],
    prediction: str,
    predicted: float | None,
    verdict: str,
    reason: str,
    detail: str,
    **extra: Any,
) -> Verdict:
    return Verdict(
        claim_id,
        setting,
        kind,
        measured,
        interval,
        prediction,
        predicted,
        verdict,
        reason,
        detail,
        extra,
    )


_NAN2 = (math.nan, math.nan)


# -- not applicable, failed cells --------------------------------------------------------------


def not_applicable(
    claim_id: str, setting: Mapping[str, Any], kind: str, prediction: str, why: str
) -> Verdict:
    """The claim's premise is false in this setting (e.g. a sparse rate on dense data)."""
    return _v(
        claim_id,
        setting,
        kind,
        math.nan,
        _NAN2,
        prediction,
        None,
        "not applicable",
        "premise_false",
        why,
    )


def unresolved(
    claim_id: str, setting: Mapping[str, Any], kind: str, prediction: str, why: str
) -> Verdict:
    """The premise holds but the truth the claim needs could not be computed to the accuracy
    it needs here (a grid that does not resolve the law, a window that truncates its tails):
    "inconclusive" (unresolved), never "holds" or "fails"."""
    return _v(
        claim_id, setting, kind, math.nan, _NAN2, prediction, None, "inconclusive",
        "unresolved", why,
    )  # fmt: skip


#: ``start_limited``: a start within START_RATIO x the effect (both as KL) is small against it.
#: The sampler is one Markov kernel applied to N(0, I) or to q_T, so each output law moves by
#: at most TV sqrt(KL_start / 2) (data processing, Pinsker), and two compared outputs by twice
#: that; an effect of size KL_effect separates them by TV >= sqrt(KL_effect / 2). At 0.1 the
#: start can shift the difference by at most 2 sqrt(0.1) = 0.63 of it: it cannot make the effect.
START_RATIO = 0.1


def start_limited(
    claim_id: str,
    setting: Mapping[str, Any],
    kind: str,
    prediction: str,
    *,
    start_kl: float,
    effect_kl: float,
    start_kl_se: float = 0.0,
    k: float = 4.0,
    ratio: float = START_RATIO,
    detail: str = "",
) -> Verdict | None:
    """Premise first (DESIGN.md): "not applicable" (start_limited) when the sampler's start is
    not small against the effect the claim measures, else None (judge the claim).

    ``start_kl`` = KL(q_T || N(0, I)) (exact for Gaussians, else an estimate with SE
    ``start_kl_se``; ``divergences.start_kl``); its upper end start_kl + k SE is compared with
    ``ratio`` x ``effect_kl``, the effect as a KL between the laws the claim tells apart (for a
    difference delta of MMDs with a kernel <= 1, delta^2 / 2: MMD <= 2 TV <= sqrt(2 KL)).
    Start-limited when start_kl + k SE > ratio x effect_kl (``START_RATIO``: why 0.1). The
    measured value is start_kl, its interval (start_kl -/+ k SE), predicted ratio x effect_kl.
    """
    if k < 4:
        raise ValueError(f"k={k}: bands are at least 4 standard errors")
    if not (math.isfinite(start_kl) and start_kl >= -k * max(start_kl_se, 0.0)):
        raise ValueError(f"start_kl={start_kl!r} must be a finite KL (>= 0 within k SE)")
    if not (math.isfinite(start_kl_se) and start_kl_se >= 0):
        raise ValueError(f"start_kl_se={start_kl_se!r} must be finite and >= 0")
    if not (effect_kl >= 0):  # also rejects NaN
        raise ValueError(f"effect_kl={effect_kl!r} must be >= 0")
    if not (0 < ratio < 0.25):
        raise ValueError(f"ratio={ratio!r} is out of range; allowed: (0, 0.25) (2 sqrt(ratio) < 1)")
    high = start_kl + k * start_kl_se
    if high <= ratio * effect_kl:
        return None
    return _v(
        claim_id,
        setting,
        kind,
        start_kl,
        (start_kl - k * start_kl_se, high),
        prediction,
        ratio * effect_kl,
        "not applicable",
        "start_limited",
        (detail + "; " if detail else "")
        + f"start-limited: KL(q_T || N(0, I)) = {start_kl:.3g} (+{k:g} SE: {high:.3g}) is not "
        f"small against the effect ({effect_kl:.3g} as a KL; allowed {ratio:g} x it)",
        effect_kl=effect_kl,
    )


def cell_failed(claim_id: str, setting: Mapping[str, Any], kind: str, error: str) -> Verdict:
    """A cell the claim needs raised: "inconclusive", naming the error."""
    return _v(
        claim_id,
        setting,
        kind,
        math.nan,
        _NAN2,
        "",
        None,
        "inconclusive",
        "cell_failed",
        f"cell failed: {error}",
    )


# -- upper bound ---------------------------------------------------------------------------


def upper_bound(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    log_excess: Sequence[float],
    se: Sequence[float] | float,
    k: float,
    prediction: str,
    growing: Sequence[str] = (),
    exact_rtol: float = 1e-9,
    floor_log_excess: Sequence[float] = (),
    detail: str = "",
) -> Verdict:
    """Measured <= bound at every point, one-sided.

    ``floor_log_excess``: log(lower / bound) at points where a lower bound of the measured
    quantity is known exactly, whatever the random draw (the off-support part of a KL that
    no training sample removes). One above the arithmetic's tolerance fails the bound
    deterministically, whatever the standard errors of the random part.

    ``log_excess`` = log(measured / bound) per point (<= 0 where the bound holds), with its
    standard error ``se`` (0 for exact values, then the tolerance ``exact_rtol`` of the
    arithmetic applies). "fails" when some point exceeds by more than ``k`` SE (or the
    tolerance); "inconclusive" when none does but ``growing`` names variables in which
    measured / bound grows significantly (the bound's shape misses a dependence that would
    reach it beyond the measured points); "holds" otherwise. ``measured`` is the largest
    measured / bound, the interval its one-sided band.
    """
    if k < 4:
        raise ValueError(f"k={k}: bands are at least 4 standard errors")
    excess = np.asarray(log_excess, dtype=np.float64)
    if excess.size == 0 or not np.all(np.isfinite(excess)):
        raise ValueError("log_excess must be a non-empty array of finite values")
    se_arr = np.broadcast_to(np.asarray(se, dtype=np.float64), excess.shape)
    allowed = np.where(se_arr > 0, k * se_arr, math.log1p(exact_rtol))
    ratio = math.exp(float(excess.max()))
    band = (math.nan, math.exp(float(allowed[int(np.argmax(excess))])))
    over = excess > allowed
    n_over = int(over.sum())
    floor = np.asarray(floor_log_excess, dtype=np.float64)
    if floor.size and not np.all(np.isfinite(floor)):
        raise ValueError("floor_log_excess must hold finite values")
    n_floor = int(np.sum(floor > math.log1p(exact_rtol))) if floor.size else 0
    if n_floor:
        ratio = max(ratio, math.exp(float(floor.max())))
    if n_over or n_floor:
        verdict, reason = "fails", "exceeds_bound"
    elif growing:
        verdict, reason = "inconclusive", "trend_toward_bound"
    else:
        verdict, reason = "holds", "within_bound"
    return _v(
        claim_id,
        setting,
        "upper_bound",
        ratio,
        band,
        prediction,
        1.0,
        verdict,
        reason,
        detail,
        n_over=n_over,
        n_floor_over=n_floor,
        n_points=int(excess.size),
        growing=tuple(growing),
    )


# -- rates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateFit:
    """Fit of y = a + c g(x)^p h(x): the exponent p with its LEVEL interval."""

    p: float
    ci_low: float
    ci_high: float
    offset: float
    scale: float
    n: int

    def __str__(self) -> str:
        return f"{self.p:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}]"


def fit_rate(
    x: Sequence[float],
    y: Sequence[float],
    *,
    g: Callable[[np.ndarray], np.ndarray] | None = None,
    h: Callable[[np.ndarray], np.ndarray] | None = None,
    offset: bool = False,
    level: float = LEVEL,
    p_range: tuple[float, float] = (-6.0, 6.0),
) -> RateFit:
    """Fit the exponent p of y = a + c g(x)^p h(x) (a = 0 unless ``offset``).

    Without an offset: OLS of log(y / h) on log g with a Student-t interval. With one: the
    profile least-squares fit over p (for fixed p, (a, c) enter linearly) and the profile
    interval {p : RSS(p) <= RSS_min (1 + F_{1, n-3}(level) / (n - 3))}.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    ga = g(xa) if g is not None else xa
    ha = h(xa) if h is not None else np.ones_like(xa)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x and y must be 1-D of one length, got {xa.shape} and {ya.shape}")
    if np.any(~np.isfinite(ya)) or np.any(ga <= 0) or np.any(ha <= 0):
        raise ValueError("fit_rate needs finite y and g(x) > 0, h(x) > 0")
    if np.unique(ga).size < 2:
        raise ValueError("fit_rate needs at least two distinct values of x")
    if not offset:
        if np.any(ya <= 0):
            raise ValueError("fit_rate without an offset needs y > 0")
        if xa.size < 3:
            raise ValueError(f"fit_rate needs >= 3 points, got {xa.size}")
        ly = np.log(ya / ha)
        if np.all(ly == ly[0]):  # exactly flat: slope 0 with no scatter (linregress gives NaN)
            return RateFit(0.0, 0.0, 0.0, 0.0, float(np.exp(ly[0])), int(xa.size))
        res = sps.linregress(np.log(ga), ly)
        half = float(sps.t.ppf(0.5 + level / 2, xa.size - 2) * res.stderr)
        return RateFit(
            float(res.slope),
            float(res.slope - half),
            float(res.slope + half),
            0.0,
            math.exp(float(res.intercept)),
            int(xa.size),
        )
    if xa.size < 5:
        raise ValueError(f"fit_rate with an offset needs >= 5 points, got {xa.size}")
    lg = np.log(ga)

    def rss(p: float) -> tuple[float, float, float]:
        design = np.column_stack([np.ones_like(ya), np.exp(p * lg) * ha])
        coef, *_ = np.linalg.lstsq(design, ya, rcond=None)
        r = ya - design @ coef
        return float(r @ r), float(coef[0]), float(coef[1])

    grid = np.linspace(*p_range, 241)
    values = np.array([rss(p)[0] for p in grid])
    i = int(np.argmin(values))
    lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    best = optimize.minimize_scalar(lambda p: rss(p)[0], bounds=(lo_b, hi_b), method="bounded")
    p_hat = float(best.x)
    rss_min, a_hat, c_hat = rss(p_hat)
    dof = xa.size - 3
    limit = rss_min * (1.0 + sps.f.ppf(level, 1, dof) / dof)
    if rss_min == 0.0:
        limit = 1e-300

    def edge(direction: int) -> float:
        step, p = 0.01, p_hat
        while p_range[0] <= p <= p_range[1]:
            q = p + direction * step
            if rss(q)[0] > limit:
                return float(optimize.brentq(lambda z: rss(z)[0] - limit, min(p, q), max(p, q)))
            p, step = q, step * 1.5
        return -math.inf if direction < 0 else math.inf

    return RateFit(p_hat, edge(-1), edge(+1), a_hat, c_hat, int(xa.size))


def rate(
    claim_id: str,
    setting: Mapping[str, Any],
    fit: RateFit,
    *,
    predicted: float,
    prediction: str,
    upper: bool = False,
    max_width: float = math.inf,
    predicted_range: tuple[float, float] | None = None,
    resolution: float = 0.0,
    detail: str = "",
) -> Verdict:
    """Judge a fitted exponent against a predicted one.

    ``resolution`` (two-sided only): the smallest difference of exponents the claim is about;
    the prediction (or ``predicted_range``) is widened by it on both sides, so an interval
    narrower than the resolution (many replicates) cannot fail a claim by a difference the
    claim does not care about (an exponent of 0.9975 +- 0.001 against 1 at resolution 0.05
    "holds"); with 0 the bare rule applies.

    ``predicted_range`` (two-sided only): the prediction is a range of exponents, because the
    form has a slowly varying factor known only within bounds (e.g. between 1 and log d):
    "holds" when the interval meets the range, "fails" when it is disjoint from it.

    Two-sided (a stated rate): "holds" if the interval contains ``predicted``, "fails" if it
    excludes it, "inconclusive" if it is wider than ``max_width``. One-sided (``upper``: the
    prediction is an upper-bound rate, growth at most x^predicted): "holds" when the
    interval reaches down to ``predicted`` or below (consistent with the bound), "fails" when
    it lies wholly above.
    """
    interval = (fit.ci_low, fit.ci_high)
    if predicted_range is not None and upper:
        raise ValueError("predicted_range is for two-sided rates")
    if not (math.isfinite(resolution) and resolution >= 0):
        raise ValueError(f"resolution={resolution!r} must be a finite number >= 0")
    if resolution > 0 and upper:
        raise ValueError("resolution widens a two-sided prediction; an upper rate is one-sided")
    lo_p, hi_p = predicted_range if predicted_range is not None else (predicted, predicted)
    lo_p, hi_p = lo_p - resolution, hi_p + resolution
    if upper:
        if fit.ci_low > predicted:
            verdict, reason = "fails", "interval_above_upper_rate"
        else:
            verdict, reason = "holds", "interval_below_upper_rate"
    elif fit.ci_high - fit.ci_low > max_width:
        verdict, reason = "inconclusive", "interval_too_wide"
    elif fit.ci_low <= hi_p and lo_p <= fit.ci_high:
        verdict, reason = "holds", "interval_contains_prediction"
    else:
        verdict, reason = "fails", "interval_excludes_prediction"
    return _v(
        claim_id,
        setting,
        "rate",
        fit.p,
        interval,
        prediction,
        predicted,
        verdict,
        reason,
        detail,
        n=fit.n,
        upper=upper,
        resolution=resolution,
    )


# -- identity ----------------------------------------------------------------------------


def identity(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    measured: float,
    predicted: float,
    rtol: float,
    atol: float = 0.0,
    prediction: str,
    detail: str = "",
) -> Verdict:
    """|measured - predicted| <= atol + rtol |predicted| (tolerance from the arithmetic)."""
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"rtol={rtol}, atol={atol}: tolerances must be >= 0")
    tol = atol + rtol * abs(predicted)
    ok = math.isfinite(measured) and abs(measured - predicted) <= tol
    return _v(
        claim_id,
        setting,
        "identity",
        measured,
        (predicted - tol, predicted + tol),
        prediction,
        predicted,
        "holds" if ok else "fails",
        "within_tolerance" if ok else "outside_tolerance",
        detail,
    )


# -- asymptotic --------------------------------------------------------------------------


def local_exponents(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """d log y / d log x between consecutive points (length len(x) - 1)."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.size < 3 or np.any(np.diff(xa) <= 0) or np.any(ya <= 0) or np.any(xa <= 0):
        raise ValueError("local_exponents needs >= 3 increasing positive x and positive y")
    return np.diff(np.log(ya)) / np.diff(np.log(xa))


def asymptotic(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    x: Sequence[float],
    y: Sequence[float],
    predicted: float,
    prediction: str,
    h: Callable[[np.ndarray], np.ndarray] | None = None,
    upper: bool = True,
    settle_tol: float = 0.02,
    exponent_tol: float = 0.05,
    detail: str = "",
) -> Verdict:
    """Judge an asymptotic exponent on an exact path evaluated to large x.

    The local exponents q_i of y are computed between consecutive points; the asymptote has
    settled when the last two differ by at most ``settle_tol``. The last one is compared with
    the local exponent of the predicted form h(x) x^predicted over the same interval,
    p_loc = predicted + d log h / d log x: with ``upper`` (y = O(h x^predicted)) "holds" iff
    q_last <= p_loc + exponent_tol; otherwise iff |q_last - p_loc| <= exponent_tol.
    Unsettled: "inconclusive", except for an upper bound whose local exponent is below it and
    still falling (q_last < q_prev, moving away from the bound): "holds"
    (receding_from_bound), since settling can only leave it further below. Both tolerances
    are the claim's resolution in the exponent (the smallest effect it is about), given by
    the caller with its reason. ``measured`` is q_last; the interval is the range of the last
    two local exponents (a statement about settling, not noise); ``extra["p_local"]`` is
    p_loc.
    """
    q = local_exponents(x, y)
    xa = np.asarray(x, dtype=np.float64)
    q_h = local_exponents(xa, h(xa) if h is not None else np.ones_like(xa))
    last, prev = float(q[-1]), float(q[-2])
    p_loc = predicted + float(q_h[-1])
    interval = (min(last, prev), max(last, prev))
    settled_at = float(xa[-2])
    if not (settle_tol >= 0 and exponent_tol >= 0):
        raise ValueError(
            f"settle_tol={settle_tol}, exponent_tol={exponent_tol}: tolerances must be >= 0"
        )
    if abs(last - prev) > settle_tol:
        if upper and last < prev and last <= p_loc + exponent_tol:
            verdict, reason = "holds", "receding_from_bound"
        else:
            verdict, reason = "inconclusive", "not_settled"
    else:
        ok = last <= p_loc + exponent_tol if upper else abs(last - p_loc) <= exponent_tol
        verdict, reason = (
            ("holds", "settled_consistent") if ok else ("fails", "settled_inconsistent")
        )
    return _v(
        claim_id,
        setting,
        "asymptotic",
        last,
        interval,
        prediction,
        predicted,
        verdict,
        reason,
        detail,
        local_exponents=tuple(float(v) for v in q),
        p_local=p_loc,
        settled_from=settled_at,
        x_max=float(np.asarray(x)[-1]),
    )


# -- deterministic over a domain ------------------------------------------------------------


def domain(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    points: Sequence[Mapping[str, Any]],
    values: Sequence[float],
    limit: float,
    corners: Sequence[Mapping[str, Any]],
    rtol: float,
    prediction: str,
    detail: str = "",
) -> Verdict:
    """A deterministic quantity <= ``limit`` at every point of a declared domain.

    ``points`` must contain every one of ``corners`` (a random draw may add points, never
    replace the corners): a ValueError otherwise. "fails" names the worst point.
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.size != len(points) or vals.size == 0:
        raise ValueError("values and points must have one (non-zero) length")
    keyed = [tuple(sorted(p.items())) for p in points]
    missing = [c for c in corners if tuple(sorted(c.items())) not in keyed]
    if missing:
        raise ValueError(f"the domain's corners {missing} are not among the evaluated points")
    worst = int(np.nanargmax(vals))
    ok = bool(np.all(vals <= limit * (1.0 + rtol)))
    return _v(
        claim_id,
        setting,
        "domain",
        float(vals[worst]),
        (math.nan, limit * (1 + rtol)),
        prediction,
        limit,
        "holds" if ok else "fails",
        "all_points_satisfy" if ok else "point_violates",
        detail,
        worst_point=dict(points[worst]),
        n_points=int(vals.size),
    )


# -- Monte Carlo -------------------------------------------------------------------------


def monte_carlo(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    z: Sequence[float],
    familywise: float,
    k_min: float = 4.0,
    n_tests: int | None = None,
    prediction: str,
    detail: str = "",
) -> Verdict:
    """All |z| within max(k_min, Bonferroni two-sided quantile for ``n_tests`` tests).

    ``z`` may be the worst |z| of each of several groups; ``n_tests`` is then the total number
    of statistics compared (default: len(z)).
    """
    za = np.abs(np.asarray(z, dtype=np.float64))
    if za.size == 0:
        raise ValueError("z must be non-empty")
    n_tests = int(za.size if n_tests is None else n_tests)
    if n_tests < za.size:
        raise ValueError(f"n_tests={n_tests} must be >= len(z)={za.size}")
    if k_min < 4:
        raise ValueError(f"k_min={k_min}: bands are at least 4 standard errors")
    band = max(k_min, float(sps.norm.isf(familywise / (2 * n_tests))))
    worst = float(np.nanmax(za)) if np.all(np.isfinite(za)) else math.inf
    ok = worst <= band
    return _v(
        claim_id,
        setting,
        "monte_carlo",
        worst,
        (0.0, band),
        prediction,
        0.0,
        "holds" if ok else "fails",
        "within_band" if ok else "outside_band",
        detail + f" ({n_tests} comparisons, family-wise {familywise:g})",
        n_tests=n_tests,
        n_outside=int(np.sum(za > band)),
    )


# -- threshold ---------------------------------------------------------------------------


def grid_optimum(x: Sequence[float], y: Sequence[float]) -> tuple[float, str | None]:
    """(x at the minimum of y, "low" / "high" if that is an edge of the grid else None)."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    i = int(np.argmin(ya))
    order = np.argsort(xa)
    edge = "low" if i == order[0] else ("high" if i == order[-1] else None)
    return float(xa[i]), edge


def threshold(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    estimate: float,
    low: float,
    high: float,
    threshold: float | tuple[float, float],
    side: str,
    prediction: str,
    bound: str | None = None,
    detail: str = "",
) -> Verdict:
    """An estimate with interval [low, high] against a threshold on the claimed ``side``.

    ``side="above"``: the claim is quantity >= threshold; ``"below"``: quantity <= threshold;
    ``"between"``: threshold = (lo, hi) and the claim is lo <= quantity <= hi.
    ``bound="lower"`` says the estimate is only a lower bound of the quantity (``"upper"``: an
    upper bound), e.g. because an optimum sat on the edge of the swept grid: then only the
    direction the bound allows can be decided; the other reads "inconclusive" (only_a_bound).
    """
    if side not in ("above", "below", "between"):
        raise ValueError(f"side={side!r}; allowed: 'above', 'below', 'between'")
    if (side == "between") != isinstance(threshold, tuple):
        raise ValueError("threshold is a (lo, hi) pair exactly when side='between'")
    if bound not in (None, "lower", "upper") or (bound is not None and side == "between"):
        raise ValueError(f"bound={bound!r}; allowed: None, 'lower', 'upper'")
    if not (low <= estimate <= high) and not (math.isnan(low) or math.isnan(high)):
        raise ValueError(f"need low <= estimate <= high, got {low}, {estimate}, {high}")
    if isinstance(threshold, tuple):
        t_lo, t_hi = threshold
        claimed = t_lo <= low and high <= t_hi
        other = high < t_lo or low > t_hi
        predicted = math.sqrt(t_lo * t_hi) if t_lo > 0 else 0.5 * (t_lo + t_hi)
    else:
        claimed = (low >= threshold) if side == "above" else (high <= threshold)
        other = (high < threshold) if side == "above" else (low > threshold)
        predicted = threshold
    if claimed:
        verdict, reason = "holds", "interval_on_claimed_side"
    elif other:
        verdict, reason = "fails", "interval_on_other_side"
    else:
        verdict, reason = "inconclusive", "interval_straddles"
    # A lower bound of the quantity can show it is large, never that it is small.
    if bound is not None:
        decidable = {
            ("lower", "above"): "holds",
            ("lower", "below"): "fails",
            ("upper", "below"): "holds",
            ("upper", "above"): "fails",
        }[(bound, side)]
        if verdict not in (decidable, "inconclusive"):
            verdict, reason = "inconclusive", "only_a_bound"
    return _v(
        claim_id,
        setting,
        "threshold",
        estimate,
        (low, high),
        prediction,
        predicted,
        verdict,
        reason,
        detail,
        bound=bound,
    )


# -- free of d, from an exact slope ------------------------------------------------------------


def d_free(
    claim_id: str,
    setting: Mapping[str, Any],
    *,
    slope: float,
    resolution: float,
    prediction: str,
    ceiling: float = D_CEILING,
    d0: float = 0.0,
    detail: str = "",
) -> Verdict:
    """"Free of d" decided by the exact slope per added coordinate, never by a flat stretch.

    ``slope`` is the exact change of the quantity per added coordinate (e.g. the KL of one
    pure-noise coordinate); it moves the quantity by ``resolution`` (the smallest effect the
    claim is about) once d_move = d0 + resolution / |slope| coordinates are reached. "holds"
    (free_to_ceiling) when d_move exceeds ``ceiling`` (default ``D_CEILING``: no data set has
    more coordinates), "fails" (moves_before_ceiling) with d_move otherwise. The measured
    value is d_move (inf for a zero slope); the decision depends on no tolerance of the
    arithmetic, so it cannot flip with the grid or the preset.
    """
    if not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution={resolution!r} must be a finite number > 0")
    if not (ceiling > 0):
        raise ValueError(f"ceiling={ceiling!r} must be > 0")
    if not math.isfinite(slope):
        return _v(
            claim_id, setting, "domain", math.nan, _NAN2, prediction, ceiling, "inconclusive",
            "unresolved", detail + f" (the slope per coordinate is {slope!r})",
        )  # fmt: skip
    d_move = math.inf if slope == 0 else d0 + resolution / abs(slope)
    ok = d_move > ceiling
    return _v(
        claim_id,
        setting,
        "domain",
        d_move,
        (d_move, d_move),
        prediction,
        ceiling,
        "holds" if ok else "fails",
        "free_to_ceiling" if ok else "moves_before_ceiling",
        detail
        + f" (slope {slope:.3g} per coordinate moves the quantity by {resolution:g} at "
        f"d = {d_move:.3g}; ceiling {ceiling:.3g})",
        slope=slope,
        resolution=resolution,
    )
