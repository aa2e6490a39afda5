"""Lemmas of the Li et al. schedule (theory/schedules.py, SCIENCE.md 1.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given

from theory import schedules as sch
from theory._testing import FAST, li_params
from theory.symbols import T, beta1, c0, c1, h, t

#: Relative rounding of the float64 schedule: beta_t is one exp/log1p chain (a few ulps).
SCHEDULE_RTOL = 1e-13
#: Rounding allowance when a float64 quantity is compared with a bound it may attain (ulps).
ROUND_RTOL = 1e-12


def test_li_beta_matches_simulate() -> None:
    from simulate import schedules as simulate_schedules

    @FAST
    @given(li_params())
    def check(p: tuple[int, float, float]) -> None:
        T_, c0_, c1_ = p
        np.testing.assert_allclose(
            sch.li_beta(T_, c0_, c1_),
            simulate_schedules.li(T_, c0_, c1_).beta,
            rtol=SCHEDULE_RTOL,
        )

    check()


def test_beta_le_h_symbolic() -> None:
    cases = sch.lemma_beta_le_h_cases()
    assert len(cases) == 2
    for expr in cases:
        assert expr.is_nonpositive is True


@FAST
@given(li_params())
def test_beta_le_h_numeric(p: tuple[int, float, float]) -> None:
    T_, c0_, c1_ = p
    hh = c1_ * math.log(T_) / T_
    assert np.max(sch.li_beta(T_, c0_, c1_)[1:]) <= hh * (1 + ROUND_RTOL)


def test_growth_sum_symbolic() -> None:
    assert sp.simplify(sch.growth_sum() - sch.growth_sum_closed()) == 0
    # numeric twin: the closed form against cumulative sums of the float schedule
    closed = sp.lambdify((beta1, h, t), sch.growth_sum_closed())
    for T_, c0_, c1_ in ((100, 2.0, 4.0), (1000, 1.0, 3.0), (500, 3.0, 3.5)):
        b = sch.li_beta(T_, c0_, c1_)
        hh = c1_ * math.log(T_) / T_
        uncapped = b[1:] < hh  # steps t = 2..T before the cap
        n_growth = 1 + int(np.argmin(uncapped)) if not uncapped.all() else T_
        steps = np.arange(1, n_growth + 1)
        np.testing.assert_allclose(
            np.cumsum(b)[:n_growth], closed(b[0], hh, steps), rtol=SCHEDULE_RTOL * n_growth
        )


@FAST
@given(li_params(T_max=20000))
def test_abar_T_bounds_numeric(p: tuple[int, float, float]) -> None:
    T_, c0_, c1_ = p
    abar_T = float(np.prod(1.0 - sch.li_beta(T_, c0_, c1_)))
    lo, up = sch.abar_T_bounds(T_, c0_, c1_)
    assert lo * (1 - ROUND_RTOL) <= abar_T <= up * (1 + ROUND_RTOL)


def test_abar_T_exponent_limit_symbolic() -> None:
    subs = {h: sch.H_EXPR, beta1: sch.BETA1_EXPR}
    upper = sch.abar_T_upper_expr().subs(subs)
    # max(beta_1, h) -> 0 either way; both choices give the same limit
    lowers = [
        sch.abar_T_lower_expr().subs(sp.Max(beta1, h), choice).subs(subs) for choice in (h, beta1)
    ]
    # -log(bound) / log T -> c1 - c0 for both bounds (h -> 0, beta_1 -> 0): the exponent.
    for bound in (upper, *lowers):
        expo = sp.expand(sp.expand_log(-sp.log(bound), force=True) / sp.log(T))
        assert sp.simplify(sp.limit(expo, T, sp.oo) - (c1 - c0)) == 0
    # numeric twin of the upper bound expression against the float implementation
    f = sp.lambdify((T, c0, c1), upper)
    for T_, c0_, c1_ in ((100, 2.0, 4.0), (1000, 1.0, 3.0)):
        assert sch.cap_reached(T_, c0_, c1_)
        assert math.isclose(f(T_, c0_, c1_), sch.abar_T_bounds(T_, c0_, c1_)[1], rel_tol=1e-12)


def test_abar_T_c0_eq_c1_limit_symbolic() -> None:
    # c0 = c1 = c: tau = c log T / log(1 + h) > T - 1, the cap is never reached, and
    # exp(-S / (1 - max(beta_1, h))) <= abar_T <= exp(-S), S = beta_1 ((1+h)^T - h) (L2).
    c = sp.Symbol("c", positive=True)
    S = sch.uncapped_sum_expr().subs({h: c * sp.log(T) / T, beta1: T ** (-c)})
    assert sp.limit(S, T, sp.oo) == 1
    assert sp.limit(c * sp.log(T) / T, T, sp.oo) == 0 and sp.limit(T ** (-c), T, sp.oo) == 0
    # so both bounds tend to exp(-1); numeric twin:
    for T_ in (10**4, 10**6):
        assert not sch.cap_reached(T_, 4.0, 4.0)
        lo, up = sch.abar_T_bounds(T_, 4.0, 4.0)
        abar_T = float(np.prod(1 - sch.li_beta(T_, 4.0, 4.0)))
        assert lo <= abar_T <= up
    assert abs(lo - math.exp(-1)) < 1e-2 and abs(up - math.exp(-1)) < 1e-2


def test_abar_T_reported_values() -> None:
    """Fact 1 of the brief: with c0 = c1 = 4 abar_T is not small."""
    abar = {T_: float(np.prod(1 - sch.li_beta(T_, 4.0, 4.0))) for T_ in (100, 1000, 10**6)}
    assert abs(abar[100] - 0.80) < 0.005
    assert abs(abar[1000] - 0.50) < 0.005
    lo, up = sch.abar_T_bounds(10**6, 4.0, 4.0)
    assert lo <= abar[10**6] <= up
    assert up - lo < 0.01 and abs(abar[10**6] - math.exp(-1)) < 0.01
    ab24 = float(np.prod(1 - sch.li_beta(100, 2.0, 4.0)))
    assert abs(ab24 - 3.3e-5) < 0.05e-5


def test_ratio_lemma_symbolic() -> None:
    y, u = sp.symbols("y u", positive=True)
    # growth phase: beta_t / sum_{i<t} beta_i = h y / (y - h), y = (1+h)^(t-1) >= 1 + h
    ratio = h * y / (y - h)
    grad = sp.simplify(sp.diff(ratio, y).subs(y, h + u))
    assert grad.is_negative is True  # decreasing in y: largest at t = 2
    assert sp.simplify(ratio.subs(y, 1 + h) - h * (1 + h)) == 0
    # v >= 1 - exp(-x) >= x / (1 + x): the gap is 1/(1+x) - exp(-x) = e^-x (e^x - 1 - x)/(1+x)
    x = sp.Symbol("x", positive=True)
    gap = 1 - sp.exp(-x) - x / (1 + x)
    assert sp.simplify(gap - sp.exp(-x) * (sp.exp(x) - 1 - x) / (1 + x)) == 0
    # e^x - 1 - x = sum_{j>=2} x^j / j!, a series of positive terms
    j = sp.Symbol("j", integer=True, positive=True)
    term = x**j / sp.factorial(j)
    assert sp.simplify(sp.summation(term, (j, 2, sp.oo)) - (sp.exp(x) - 1 - x)) == 0
    assert term.is_positive is True
    xs = np.linspace(0.0, 50.0, 2001)  # numeric twin
    assert np.all(1 - np.exp(-xs) >= xs / (1 + xs) - 1e-15)


@FAST
@given(li_params(T_max=20000))
def test_ratio_lemma_numeric(p: tuple[int, float, float]) -> None:
    T_, c0_, c1_ = p
    hh = c1_ * math.log(T_) / T_
    r1, r2 = sch.step_ratio_max(sch.li_beta(T_, c0_, c1_))
    assert r1 <= 2 * hh * (1 + hh) / (1 - hh) * (1 + ROUND_RTOL)
    assert r2 <= sch.ratio_bound(hh) * (1 + ROUND_RTOL)
    ratio_expr = sp.lambdify(h, sch.ratio_bound_expr())
    assert math.isclose(ratio_expr(hh), sch.ratio_bound(hh), rel_tol=1e-14)


def test_li_beta_rejects_h_ge_1() -> None:
    with pytest.raises(ValueError, match="must be in"):
        sch.li_beta(5, 1.0, 10.0)


@pytest.mark.parametrize("upto", [3, 7, 12])
def test_growth_sum_matches_summation(upto: int) -> None:
    # the closed form is the geometric sum for concrete lengths too
    concrete = sch.growth_sum(sp.Integer(upto))
    assert sp.simplify(concrete - sch.growth_sum_closed(sp.Integer(upto))) == 0
