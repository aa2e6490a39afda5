"""The bounds, iteration complexity and exported exponents (theory/bounds.py, SCIENCE.md 6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

from theory import bounds as bd
from theory import gaussian
from theory._testing import FAST
from theory.schedules import li_beta
from theory.symbols import C, T, c1, d, eps, s

#: Root of "bound = eps" found by brentq to xtol 1e-12 relative; the Lambert-W closed form
#: agrees to rounding of exp(-k W / p) (a few ulps times the condition of W near -1/e).
ROOT_RTOL = 1e-8


def test_paper_scales_with_s_not_d() -> None:
    paper = bd.PAPER.expr
    assert d not in paper.free_symbols
    assert s in paper.free_symbols
    assert sp.limit(sp.diff(paper, d), d, sp.oo) == 0
    # the s-growth exponent is 2
    assert sp.limit(s * sp.diff(sp.log(bd.PAPER.A), s), s, sp.oo) == 2


def test_li_scales_with_d_squared() -> None:
    li = bd.LI2024.leading
    assert d in li.free_symbols
    assert sp.simplify(sp.limit(li / d**2, d, sp.oo) - C * sp.log(T) ** 3 / T) == 0


def test_derived_posterior_ddim_d_free_from_q_T_only() -> None:
    """From q_T the off-support discretization factor of posterior and ddim is 0: checked
    against the numeric bound factor (it carries lambda), not assumed. From N(0, I) every
    sampler's bound has the off-support initialization term (d - s) I_off."""
    rng = np.random.default_rng(0)
    for T_, c0_, c1_ in ((100, 4.0, 4.0), (50, 2.0, 4.0), (1000, 2.0, 4.0)):
        beta = li_beta(T_, c0_, c1_)
        assert gaussian.bound_factor(beta, np.zeros(1), "beta")[0] > 0
        for v in ("posterior", "ddim"):
            assert gaussian.bound_factor(beta, np.zeros(1), v)[0] == 0.0
            lam = rng.uniform(0.1, 5.0, 3)
            assert np.all(gaussian.bound_factor(beta, lam, v) > 0)
    for v in ("posterior", "ddim"):
        expr = bd.DERIVED[f"derived.{v}"].expr
        assert d not in expr.free_symbols
        assert sp.limit(sp.diff(expr, d), d, sp.oo) == 0
    for v in ("beta", "posterior", "ddim"):
        normal = bd.DERIVED[f"derived.{v}.normal"].expr
        assert d in normal.free_symbols
        assert (
            sp.simplify(sp.diff(normal, d) - sp.diff(bd.DERIVED[f"derived.{v}"].expr, d) - bd.I_off)
            == 0
        )


def test_ddim_off_support_initialization_term_is_the_exact_kl() -> None:
    """The I_off of ddim from N(0, I) is (v_T - 1 - log v_T)/2: 0.406 at c0 = c1 = 4, T = 100
    (the audit's number), equal to the exact per-coordinate KL."""
    beta = li_beta(100, 4.0, 4.0)
    _, _, v = gaussian.schedule_arrays(beta)
    exact_off = gaussian.coordinate_terms(beta, np.zeros(1), 0.0, "ddim", "standard").kl[0]
    assert exact_off == pytest.approx((v[-1] - 1 - math.log(v[-1])) / 2, rel=1e-12)
    assert exact_off == pytest.approx(0.406, abs=5e-4)


def test_derived_beta_linear_in_d() -> None:
    expr = bd.DERIVED["derived.beta"].expr
    slope = sp.limit(expr / d, d, sp.oo)
    assert sp.simplify(slope - 2 * c1**2 * bd.G_off**2 * sp.log(T) ** 2 / T**2) == 0
    u = sp.Symbol("u", positive=True)
    assert slope.subs(T, 2 + u).is_positive is True  # T >= 2


def test_derived_vs_paper_s_power() -> None:
    """Ours is linear in s for Gaussian data; the paper's (as read) s^2 is an upper bound."""
    ours = bd.DERIVED["derived.posterior"].A
    assert sp.limit(s * sp.diff(sp.log(ours), s), s, sp.oo) == 1
    assert sp.limit(s * sp.diff(sp.log(bd.PAPER.A), s), s, sp.oo) == 2
    # and the T-rates: ours decays one power of T faster (up to logs)
    assert bd.time_exponent(bd.DERIVED["derived.posterior"]) == 2.0
    assert bd.time_exponent(bd.PAPER) == 1.0


def test_steps_exact_solves_bound() -> None:
    b = bd.LI2024
    A = sp.Symbol("A", positive=True)
    gen = bd.Bound("g", "", "KL", A * sp.log(T) ** 3 / T, A, 3, 1, False)
    T_eps = bd.steps_exact(gen)
    # SymPy: substituting the Lambert-W root gives back eps. W = W_{-1}(x) is real for
    # x in [-1/e, 0); with w real, bound(exp(-3 w)) = -27 A (w e^w)^3 and w e^w = x.
    (lw,) = T_eps.atoms(sp.LambertW)
    w_ = sp.Symbol("w", real=True)
    back = gen.leading.subs(T, T_eps).xreplace({lw: w_})
    assert sp.simplify(back - (-27 * A * (w_ * sp.exp(w_)) ** 3)) == 0
    assert sp.simplify(-27 * A * lw.args[0] ** 3 - eps) == 0
    f_root = sp.lambdify((A, eps), T_eps, "mpmath")

    @FAST
    @given(st.floats(1.0, 1e6), st.floats(1e-6, 1e-2))
    def twin(A_: float, eps_: float) -> None:
        # the large root exists iff (1/3)(eps/A)^(1/3) <= 1/e
        if (eps_ / A_) ** (1 / 3) / 3 > math.exp(-1):
            return
        root = float(f_root(A_, eps_).real)
        g_ = lambda t_: A_ * math.log(t_) ** 3 / t_ - eps_  # noqa: E731
        lo = math.exp(3.0)  # the maximum of log^3 T / T is at T = e^3
        ref = optimize.brentq(g_, lo, 1e30, xtol=1e-12 * lo, rtol=1e-14)
        assert math.isclose(root, ref, rel_tol=ROOT_RTOL)

    twin()
    assert b.log_power_verified is False  # recalled, not verified


def test_steps_leading_is_leading_order() -> None:
    y = sp.Symbol("y", positive=True)
    for b in (bd.LI2024, bd.PAPER, bd.DERIVED["derived.posterior"], bd.BENTON):
        kk, p = b.log_power, b.T_power
        # with X = e^y: bound(T_leading)/eps = (log T_leading / log X)^k
        ratio = ((y + sp.Rational(kk, p) * sp.log(y)) / y) ** kk
        assert sp.limit(ratio, y, sp.oo) == 1
        # the same ratio straight from the expressions at a small eps (numeric twin)
        T_lead = bd.steps_leading(b)
        f = sp.lambdify(list(b.A.free_symbols | {eps}), (b.leading.subs(T, T_lead) / eps))
        vals = {sym: 0.5 for sym in b.A.free_symbols}  # 0.5: also a valid early-stopping time
        ratio_num = f(**{str(k_): v_ for k_, v_ in vals.items()}, **{str(eps): 1e-12})
        A_num = float(b.A.subs(vals))
        y_num = math.log(A_num / 1e-12) / p
        expected = ((y_num + kk / p * math.log(y_num)) / y_num) ** kk
        assert math.isclose(float(ratio_num), expected, rel_tol=1e-9)


def test_efficiency_ratio_exponent() -> None:
    ratio = bd.efficiency_ratio()
    assert sp.limit(sp.log(ratio) / sp.log(d), d, sp.oo) == 2
    # numeric twin: T_Li / T_paper at leading order grows at least like (d/s)^2
    f = sp.lambdify((C, d, s, eps), ratio)
    ds = np.array([10.0, 100.0, 1000.0])
    vals = f(1.0, ds, 5.0, 1e-3)
    assert np.all(vals >= (ds / 5.0) ** 2)


def test_predicted_exponents() -> None:
    exps = bd.predicted_exponents()
    assert all(isinstance(v, float) and math.isfinite(v) for v in exps.values())
    expected = {
        "li2024.T": 1.0,
        "li2024.d": 2.0,
        "paper.theorem1.s": 2.0,
        "paper.theorem1.d": 0.0,
        "disc.T_decay": 1.0,
        "disc.T_decay.derived": 2.0,
        "disc.beta_linear_in_d": 1.0,
        "disc.posterior_ddim_d_free": 0.0,
        "estim.lasso_rate.s": 2.0,
        "estim.lasso_rate.d": 0.0,
        "estim.lasso_rate.n": -1.0,
        "estim.ls_rate.d": 2.0,
        "estim.ls_rate.n": -1.0,
        "efficiency.d": 2.0,
        "benton.d": 1.0,
        "jiao_zhou_li.T": 2.0,
    }
    for key, val in expected.items():
        assert exps[key] == val, key
    # the local finite-T exponent of log^2 T / T^2 tends to 2
    assert bd.local_T_exponent(1e3, 2e3) < bd.local_T_exponent(1e6, 2e6) < 2.0
