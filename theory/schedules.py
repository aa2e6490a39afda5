"""The Li, Wei, Chen, Chi (2024) step schedule symbolically, and its lemmas (SCIENCE.md 1.1).

Schedule (SCIENCE.md 1.1), with h = c1 log T / T:

    beta_1 = T^(-c0),   beta_{t+1} = h * min{ beta_1 (1 + h)^t , 1 },   t = 1 .. T-1.

Notation (code name -> symbol):

=====================  =================================================================
``H_EXPR``             h = c1 log T / T
``BETA1_EXPR``         beta_1 = T^(-c0)
``tau``                cap index tau = c0 log T / log(1 + h): beta_{t+1} = h iff t >= tau
``growth_sum(t)``      sum_{i <= t} beta_i while no step is capped
``v``                  v_t = 1 - abar_t
``ratio_bound(h)``     Hbar(h) = 2 h (1 + h) / (1 - h)^2, bound on beta_t / (alpha_t v_{t-1})
=====================  =================================================================

Lemmas and how each is established
----------------------------------
L1  ``1 - alpha_t <= h`` for t >= 2.  PROVED by SymPy (two cases of the min, sign of the
    difference decided by SymPy's assumptions), see ``lemma_beta_le_h_cases``.
L2  While no step is capped, sum_{i<=t} beta_i = beta_1 ((1+h)^t - h).  PROVED by SymPy
    (geometric sum), see ``growth_sum``.
L3  Size of abar_T (``abar_T_bounds``). If the cap is reached (tau <= T - 1):

        exp(-(1 + h + (c1 - c0) log T) / (1 - max(beta_1, h)))
            <= abar_T <=  exp(-1 + h (1 + beta_1)) * T^(-(c1 - c0 / (1 - h/2))),

    and if it is not reached, with S = beta_1 ((1+h)^T - h) = sum_t beta_t (L2):
    exp(-S / (1 - max(beta_1, h))) <= abar_T <= exp(-S).  Derived by hand from L2,
    prod(1 - b_i) <= exp(-sum b_i), log(1 - x) >= -x / (1 - x), h - h^2/2 <= log(1+h) <= h;
    the inequalities are CHECKED numerically over a Hypothesis-drawn domain (SymPy cannot
    carry the chain), their limits as T -> oo are PROVED by SymPy:
    the exponent of T tends to c1 - c0, so abar_T is polynomially small iff c1 > c0; with
    c0 = c1 the cap is never reached (log(1+h) < h) and S -> 1, so abar_T -> exp(-1)
    (abar_T does NOT tend to 0: 0.80 at T = 100, 0.50 at T = 1000 for c0 = c1 = 4); with
    c1 < c0, S <= T^(c1 - c0) -> 0 and abar_T -> 1.
L4  Ratio of consecutive steps: for t >= 2,

        beta_t / v_{t-1} <= 2 h (1 + h) / (1 - h),   1 <= v_t / v_{t-1} <= 1 + beta_t / v_{t-1},

    hence beta_t / (alpha_t v_{t-1}) <= Hbar(h) = 2 h (1 + h) / (1 - h)^2.  The identity
    v_t = v_{t-1} + abar_{t-1} beta_t and the monotonicity step are PROVED by SymPy; the
    inequality is CHECKED numerically (``step_ratio_max``) over a Hypothesis-drawn domain.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from theory.symbols import T, beta1, c0, c1, h, t

__all__ = [
    "BETA1_EXPR",
    "H_EXPR",
    "abar_T_bounds",
    "abar_T_lower_expr",
    "abar_T_upper_expr",
    "beta_step_expr",
    "cap_reached",
    "growth_sum",
    "growth_sum_closed",
    "lemma_beta_le_h_cases",
    "li_beta",
    "ratio_bound",
    "ratio_bound_expr",
    "step_ratio_max",
    "uncapped_sum_expr",
]

#: h = c1 log T / T (SCIENCE.md 1.1).
H_EXPR = c1 * sp.log(T) / T
#: beta_1 = T^(-c0) (SCIENCE.md 1.1).
BETA1_EXPR = T ** (-c0)


def beta_step_expr(step: sp.Expr) -> sp.Expr:
    """beta_{step+1} = h min{beta_1 (1 + h)^step, 1} (SCIENCE.md 1.1), symbols h, beta1."""
    return h * sp.Min(beta1 * (1 + h) ** step, 1)


def lemma_beta_le_h_cases() -> list[sp.Expr]:
    """Lemma L1 by cases: ``beta_{t+1} - h`` in the two branches of the min.

    With u > 0: branch 1 sets beta_1 (1+h)^t = 1 / (1 + u) < 1, branch 2 sets it to 1 + u.
    Each returned expression must be provably non-positive (``.is_nonpositive``).
    """
    u = sp.Symbol("u", positive=True)
    inner = sp.Symbol("g", positive=True)  # stands for beta_1 (1 + h)^t
    expr = h * sp.Min(inner, 1) - h
    return [sp.simplify(expr.subs(inner, 1 / (1 + u))), sp.simplify(expr.subs(inner, 1 + u))]


def growth_sum(upto: sp.Expr = t) -> sp.Expr:
    """sum_{i=1}^{upto} beta_i when no step up to ``upto`` is capped (Lemma L2), by SymPy."""
    i = sp.Symbol("i", integer=True, positive=True)
    later = sp.summation(h * beta1 * (1 + h) ** (i - 1), (i, 2, upto))
    return beta1 + later


def growth_sum_closed(upto: sp.Expr = t) -> sp.Expr:
    """Closed form beta_1 ((1 + h)^upto - h) of ``growth_sum`` (Lemma L2)."""
    return beta1 * ((1 + h) ** upto - h)


def abar_T_upper_expr() -> sp.Expr:
    """Upper bound of Lemma L3 (cap reached): exp(-1 + h(1 + beta_1)) T^(-(c1 - c0/(1-h/2)))."""
    return sp.exp(-1 + h * (1 + beta1)) * T ** (-(c1 - c0 / (1 - h / 2)))


def abar_T_lower_expr() -> sp.Expr:
    """Lower bound of Lemma L3 (cap reached), with max(beta_1, h) written as Max."""
    return sp.exp(-(1 + h + (c1 - c0) * sp.log(T)) / (1 - sp.Max(beta1, h)))


def uncapped_sum_expr() -> sp.Expr:
    """S = sum_{t<=T} beta_t = beta_1 ((1+h)^T - h) when no step is capped (Lemma L2)."""
    return growth_sum_closed(T)


def ratio_bound_expr() -> sp.Expr:
    """Hbar(h) = 2 h (1 + h) / (1 - h)^2 (Lemma L4)."""
    return 2 * h * (1 + h) / (1 - h) ** 2


# -- numeric twins -------------------------------------------------------------------------


def li_beta(T: int, c0: float, c1: float) -> np.ndarray:
    """beta_t, t = 1..T, of the Li et al. schedule in float64 (index t-1 holds step t).

    Written from SCIENCE.md 1.1 independently of ``simulate.schedules.li`` (a test compares
    the two). Requires h = c1 log T / T < 1.
    """
    hh = c1 * math.log(T) / T
    if not 0.0 < hh < 1.0:
        raise ValueError(f"h = c1 log T / T = {hh:.4g} must be in (0, 1); got T={T}, c1={c1}")
    b1 = float(T) ** (-c0)
    steps = np.arange(1, T, dtype=np.float64)
    growth = np.exp(np.minimum(math.log(b1) + steps * math.log1p(hh), 0.0))
    return np.concatenate(([b1], hh * growth))


def cap_reached(T: int, c0: float, c1: float) -> bool:
    """True when some beta_t is capped at h, i.e. tau = c0 log T / log(1+h) <= T - 1."""
    hh = c1 * math.log(T) / T
    return c0 * math.log(T) / math.log1p(hh) <= T - 1


def abar_T_bounds(T: int, c0: float, c1: float) -> tuple[float, float]:
    """Numeric (lower, upper) bounds on abar_T of Lemma L3, in float64."""
    hh = c1 * math.log(T) / T
    b1 = float(T) ** (-c0)
    if cap_reached(T, c0, c1):
        lower = math.exp(-(1.0 + hh + (c1 - c0) * math.log(T)) / (1.0 - max(b1, hh)))
        upper = math.exp(-1.0 + hh * (1.0 + b1) - (c1 - c0 / (1.0 - hh / 2.0)) * math.log(T))
        return lower, min(upper, 1.0)
    total = b1 * (math.exp(T * math.log1p(hh)) - hh)
    return math.exp(-total / (1.0 - max(b1, hh))), math.exp(-total)


def ratio_bound(hh: float) -> float:
    """Hbar(h) = 2 h (1 + h) / (1 - h)^2 >= max_{t>=2} beta_t / (alpha_t v_{t-1}) (Lemma L4)."""
    return 2.0 * hh * (1.0 + hh) / (1.0 - hh) ** 2


def step_ratio_max(beta: np.ndarray) -> tuple[float, float]:
    """(max_{t>=2} beta_t / v_{t-1}, max_{t>=2} beta_t / (alpha_t v_{t-1})) of a schedule.

    v_{t-1} = 1 - abar_{t-1} is computed as -expm1(sum log1p(-beta)) to keep full relative
    precision when abar is close to 1.
    """
    beta = np.asarray(beta, dtype=np.float64)
    v = -np.expm1(np.cumsum(np.log1p(-beta)))
    ratio = beta[1:] / v[:-1]
    return float(np.max(ratio)), float(np.max(ratio / (1.0 - beta[1:])))
