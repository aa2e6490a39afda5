"""Exact law of the samplers on Gaussian data (theory/gaussian.py, SCIENCE.md 3).

Symbolic identities (``simplify(lhs - rhs) == 0``) with lambdified numeric twins, the closed
form against the plain scalar recursion, and Hypothesis property tests of the
dimension-scaling claims on the exact path.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, target
from hypothesis import strategies as st

from theory import gaussian as g
from theory._testing import FAST, MEDIUM, inits, lams, li_params, mus, variances
from theory.schedules import li_beta, ratio_bound
from theory.symbols import abar_1, abar_prev, abar_T, alpha, delta, lam, mu

#: Numeric twins of symbolic identities: both sides are rational functions (plus square
#: roots) evaluated in float64 at points with alpha, abar in [0.05, 0.95]; the unsimplified
#: side subtracts terms up to ~1/beta^2 = 400 times larger than the result, so a few
#: hundred ulps of relative error are expected.
IDENTITY_RTOL = 1e-10
#: Absolute floor for identities whose two sides vanish at the drawn point (e.g. lambda = 0).
IDENTITY_ATOL = 1e-13
#: Closed form vs recursion: both in well-conditioned float64 (v_t = -expm1(...)); the
#: recursion accumulates ~T ulps over T <= 3000 steps, far below this.
RECURSION_RTOL = 1e-10
#: Summation order differs between the exact KL and its bound when both are the same
#: closed-form quantity (initialization-only coordinates): a few ulps.
BOUND_RTOL = 1e-12
#: Machine epsilon, and the ulps allowed for the rounding of a sum of KL terms.
EPS = float(np.finfo(float).eps)
SUM_ULPS = 8
#: Absolute floor for comparisons of quantities that may be subnormal (e.g. mu = 5e-324).
SUBNORMAL = 1e-300
#: O(h) remainder of the leading-term expansion: |delta_disc / (h D) - 1| <= K h, checked
#: (not derived) on lambda in [0.05, 20], h <= 0.1; the largest value seen while exploring
#: the domain was 0.91.
LEADING_K = 2.0
#: A fitted log-log decay slope may differ from the slope of the leading term by the
#: derivative of its O(h) remainder (h <= 0.06 on the drawn domain; 0.034 seen).
SLOPE_TOL = 0.1


def _identity_points() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "alpha": st.floats(0.05, 0.95),
            "abar_prev": st.floats(0.05, 0.95),
            "lambda": st.floats(0.0, 10.0),
            "mu": st.floats(-3.0, 3.0),
            "abar_1": st.floats(0.05, 0.95),
        }
    )


@pytest.mark.parametrize("identity", g.IDENTITIES, ids=lambda i: i.name)
def test_identity(identity: g.Identity) -> None:
    diff = identity.lhs - identity.rhs
    if identity.positive:
        diff = g.positive_form(diff)
    assert sp.simplify(diff) == 0
    syms = (alpha, abar_prev, lam, mu, abar_1)
    lhs = sp.lambdify(syms, identity.lhs, "numpy")
    rhs = sp.lambdify(syms, identity.rhs, "numpy")

    @FAST
    @given(_identity_points())
    def twin(p: dict) -> None:
        args = (p["alpha"], p["abar_prev"], p["lambda"], p["mu"], p["abar_1"])
        a, b = float(lhs(*args)), float(rhs(*args))
        assert math.isclose(a, b, rel_tol=IDENTITY_RTOL, abs_tol=IDENTITY_ATOL)

    twin()


@pytest.mark.parametrize(("variance", "n_steps"), [("beta", 4), ("posterior", 3)])
def test_multistep_closed_form(variance: str, n_steps: int) -> None:
    unrolled, abars = g.multistep_recursion(n_steps, variance)
    closed, abars2 = g.multistep_closed_form(n_steps, variance)
    assert abars == abars2
    assert sp.simplify(unrolled - closed) == 0
    f, h_ = sp.lambdify((*abars, lam), unrolled), sp.lambdify((*abars, lam), closed)
    rng = np.random.default_rng(0)
    for _ in range(20):
        ab = np.sort(rng.uniform(0.05, 0.99, n_steps))[::-1]
        lam_ = rng.uniform(0.0, 5.0)
        assert math.isclose(f(*ab, lam_), h_(*ab, lam_), rel_tol=IDENTITY_RTOL)


def test_phi_series_and_bound() -> None:
    phi = g.phi_expr()
    series = sp.series(phi, delta, 0, 6).removeO()
    expected = sum((-1) ** k * sp.Rational(k - 1, k) * delta**k for k in range(2, 6))
    assert sp.simplify(series - expected) == 0
    # phi <= delta^2/2 for delta >= 0: d/d delta (delta^2/2 - phi) = delta^2 (2 + delta)/(1+delta)^2
    assert (
        sp.simplify(sp.diff(delta**2 / 2 - phi, delta) - delta**2 * (2 + delta) / (1 + delta) ** 2)
        == 0
    )
    # phi <= delta^2/(2(1+delta)^2) for -1 < delta <= 0: derivative of the gap is
    # -delta^2/(1+delta)^3 <= 0, and the gap is 0 at delta = 0.
    gap = delta**2 / (2 * (1 + delta) ** 2) - phi
    assert sp.simplify(sp.diff(gap, delta) + delta**2 / (1 + delta) ** 3) == 0
    assert gap.subs(delta, 0) == 0
    ds = np.concatenate((np.linspace(-0.99, -1e-6, 500), np.linspace(1e-6, 50, 500)))
    phis = 2 * g.kl_variance_term(ds)
    assert np.all(phis <= ds**2 / (2 * np.minimum(1.0, 1.0 + ds) ** 2) * (1 + 1e-12))


@FAST
@given(st.floats(-0.999, 100.0))
def test_kl_variance_term_twin(d_: float) -> None:
    import mpmath

    # the reference cancels ~2 |log10 delta| digits: carry that many more
    digits = 40 + (int(-2 * math.log10(abs(d_))) if d_ != 0 else 0)
    with mpmath.workdps(max(digits, 40)):
        x_ = mpmath.mpf(d_)
        exact = (1 / (1 + x_) - 1 + mpmath.log1p(x_)) / 2
    got = float(g.kl_variance_term(np.array([d_]))[0])
    assert math.isclose(got, float(exact), rel_tol=1e-12, abs_tol=1e-300)


def test_off_support_posterior_closed_form() -> None:
    # v_1 = 1 - abar_1 is passed in accurately (1 - abar_1 in float64 keeps ~8 digits here)
    v1, vT = sp.symbols("v_1 v_T", positive=True)
    expr = g.OFF_DELTA_INIT_POSTERIOR.xreplace({1 - abar_1: v1, 1 - abar_T: vT})
    assert expr.free_symbols == {abar_1, abar_T, v1, vT}
    f = sp.lambdify((abar_1, abar_T, v1, vT), expr)
    for T_, c0_, c1_ in ((100, 4.0, 4.0), (1000, 1.0, 3.0), (300, 2.0, 2.5)):
        b = li_beta(T_, c0_, c1_)
        _, ab, v = g.schedule_arrays(b)
        ct = g.coordinate_terms(b, np.zeros(1), 0.0, "posterior")
        assert ct.delta_disc[0] == 0.0  # eps_t = 0 exactly off the support
        assert math.isclose(ct.delta_init[0], f(ab[0], ab[-1], v[0], v[-1]), rel_tol=1e-12)
        assert ct.delta_init[0] > 0 and ct.kl[0] > 0  # not zero
    # the value quoted in the registry (c0 = c1 = 4, T = 100)
    ct = g.coordinate_terms(li_beta(100, 4.0, 4.0), np.zeros(1), 0.0, "posterior")
    assert 6.0e-15 < ct.kl[0] < 7.0e-15


def test_off_support_ddim_closed_form() -> None:
    # abar_T = 1/(1+q), q > 0, so that SymPy may split the logarithms
    q_ = sp.Symbol("q", positive=True)
    diff = (g.phi_expr(g.OFF_DELTA_DDIM) / 2 - g.OFF_KL_DDIM).xreplace({abar_T: 1 / (1 + q_)})
    assert sp.simplify(sp.expand_log(diff)) == 0
    f = sp.lambdify(abar_T, g.OFF_KL_DDIM)
    # abar_T not tiny, so that the float64 form -abar_T - log(1 - abar_T) keeps its digits
    for T_, c0_, c1_ in ((100, 4.0, 4.0), (1000, 3.0, 3.0), (300, 2.0, 2.5)):
        b = li_beta(T_, c0_, c1_)
        _, ab, _ = g.schedule_arrays(b)
        kl = g.coordinate_terms(b, np.zeros(1), 0.0, "ddim").kl[0]
        assert math.isclose(kl, f(ab[-1]), rel_tol=1e-10)
    kl = g.coordinate_terms(li_beta(100, 4.0, 4.0), np.zeros(1), 0.0, "ddim").kl[0]
    assert abs(kl - 0.406) < 0.001


@MEDIUM
@given(li_params(T_min=200, T_max=20000, c0_range=(1.0, 4.0), max_h=0.1))
def test_off_support_beta_leading(p: tuple[int, float, float]) -> None:
    """delta_off = h + O(h + T^-c0) h; c0 >= 1 makes T^-c0 <= h (v_1 small)."""
    T_, c0_, c1_ = p
    assume(c1_ >= c0_ + 0.5)
    hh = c1_ * math.log(T_) / T_
    ct = g.coordinate_terms(li_beta(T_, c0_, c1_), np.zeros(1), 0.0, "beta", "exact")
    ratio = ct.delta_disc[0] / hh
    target(abs(ratio - 1) / hh, label="off-support beta remainder / h")
    assert abs(ratio - 1) <= LEADING_K * hh


@MEDIUM
@given(
    li_params(T_max=3000, min_beta1=1e-12),
    st.lists(lams, min_size=1, max_size=6),
    st.lists(mus, min_size=6, max_size=6),
    variances,
    inits,
)
def test_closed_form_matches_recursion(p, lam_list, mu_list, variance, init) -> None:
    T_, c0_, c1_ = p
    lam_ = np.array([0.0, *lam_list])
    mu_ = np.array([0.0, *mu_list[: len(lam_list)]])
    b = li_beta(T_, c0_, c1_)
    ct = g.coordinate_terms(b, lam_, mu_, variance, init)
    m_rec, c_rec = g.recursion(b, lam_, mu_, variance, init)
    np.testing.assert_allclose(c_rec, ct.c_1, rtol=RECURSION_RTOL)
    scale = np.abs(ct.target_mean) + np.abs(ct.m_1 - ct.target_mean)  # terms of m_1
    assert np.all(np.abs(m_rec - ct.m_1) <= RECURSION_RTOL * scale + SUBNORMAL)


def _recursion_kl(b: np.ndarray, lam_: np.ndarray, variance: str) -> np.ndarray:
    """Per-coordinate KL from the plain recursion (mean 0)."""
    _, ab, v = g.schedule_arrays(b)
    _, c = g.recursion(b, lam_, 0.0, variance)
    sig2_1 = v[0] + ab[0] * lam_
    return g.kl_variance_term(c / sig2_1 - 1.0)


@MEDIUM
@given(
    li_params(T_max=2000),
    st.lists(st.floats(0.01, 20.0), min_size=1, max_size=5),
    st.integers(0, 500),
)
def test_posterior_kl_d_free(p, lam_list, extra) -> None:
    T_, c0_, c1_ = p
    b = li_beta(T_, c0_, c1_)
    lam_on = np.array(lam_list)
    s_, d_ = lam_on.size, lam_on.size + extra
    on = _recursion_kl(b, lam_on, "posterior").sum()
    off = _recursion_kl(b, np.zeros(1), "posterior")[0]
    kl_d = on + (d_ - s_) * off  # the recursion, coordinate by coordinate
    _, ab, v = g.schedule_arrays(b)
    delta_off = ab[-1] ** 2 * v[0] / (ab[0] * v[-1] ** 2)  # derived (gaussian.py)
    # the recursion resolves c_1 / sigma2_1 to ~T ulps: allow that on delta
    rounding = 8 * T_ * np.finfo(float).eps
    tiny = (delta_off + rounding) ** 2 / 4  # KL of one off-support coordinate, <=
    # kl_d - on is a difference of two sums: it is only resolved to a few ulps of kl_d
    assert -SUM_ULPS * EPS * kl_d <= kl_d - on <= (d_ - s_) * tiny + SUM_ULPS * EPS * kl_d
    # and the closed form: exactly (d - s) phi(delta_off)/2
    ct_kl = g.kl_total(b, lam_on, d_, "posterior")
    off_exact = float(g.kl_variance_term(np.array([delta_off]))[0])
    assert math.isclose(
        ct_kl,
        g.kl_total(b, lam_on, s_, "posterior") + (d_ - s_) * off_exact,
        rel_tol=BOUND_RTOL,
        abs_tol=1e-300,
    )


def _affine_slope_check(variance: str, p, lam_list, ds) -> tuple[float, float]:
    """(slope, its rounding allowance) of KL(d) from the recursion, checked affine in d."""
    T_, c0_, c1_ = p
    b = li_beta(T_, c0_, c1_)
    lam_on = np.array(lam_list)
    on = _recursion_kl(b, lam_on, variance).sum()
    off = _recursion_kl(b, np.zeros(1), variance)[0]
    kls = np.array([on + (d_ - lam_on.size) * off for d_ in ds])
    slopes = np.diff(kls) / np.diff(ds)
    # rounding of the sums, plus the recursion's resolution of u_1 = c_1/sigma2_1 (~T ulps),
    # which moves one off-support KL term phi(delta)/2 by up to |delta| T ulps
    delta_off = abs(g.coordinate_terms(b, np.zeros(1), 0.0, variance).delta[0])
    allowance = SUM_ULPS * EPS * kls.max() / np.diff(ds).min() + 8 * T_ * EPS * delta_off
    # affine: every secant has the same slope (to rounding)
    assert np.ptp(slopes) <= 2 * allowance + 1e-12 * abs(slopes).max()
    return float(slopes[-1]), float(allowance)


@MEDIUM
@given(li_params(T_max=2000), st.lists(st.floats(0.01, 20.0), min_size=1, max_size=5))
def test_ddim_kl_affine_in_d(p, lam_list) -> None:
    T_, c0_, c1_ = p
    ds = np.array([len(lam_list) + x for x in (0, 10, 50, 200)], dtype=float)
    slope, allowance = _affine_slope_check("ddim", p, lam_list, ds)
    _, ab, v = g.schedule_arrays(li_beta(T_, c0_, c1_))
    # (v_T - 1 - log v_T)/2 in the form that keeps its digits (abar_T small or v_T small)
    if ab[-1] < 0.5:
        derived = (-ab[-1] - math.log1p(-ab[-1])) / 2
    else:
        derived = (v[-1] - 1 - math.log(v[-1])) / 2
    assert derived >= 0  # > 0 in exact arithmetic; float64 rounds it to 0 if abar_T < 1e-8
    assert abs(slope - derived) <= RECURSION_RTOL * derived + allowance


@MEDIUM
@given(li_params(T_max=2000), st.lists(st.floats(0.01, 20.0), min_size=1, max_size=5))
def test_beta_kl_affine_in_d(p, lam_list) -> None:
    T_, c0_, c1_ = p
    ds = np.array([len(lam_list) + x for x in (0, 10, 50, 200)], dtype=float)
    slope, allowance = _affine_slope_check("beta", p, lam_list, ds)
    b = li_beta(T_, c0_, c1_)
    derived = g.coordinate_terms(b, np.zeros(1), 0.0, "beta").kl[0]
    assert derived > 0
    assert abs(slope - derived) <= RECURSION_RTOL * derived + allowance


@MEDIUM
@given(
    li_params(T_min=200, T_max=20000, c0_range=(0.5, 3.0), max_h=0.1),
    st.floats(0.05, 20.0),
    variances,
)
def test_leading_term(p, lam_, variance) -> None:
    T_, c0_, c1_ = p
    assume(c1_ >= c0_ + 0.5)
    b = li_beta(T_, c0_, c1_)
    hh = c1_ * math.log(T_) / T_
    _, ab, _ = g.schedule_arrays(b)
    D = g.leading_constant(lam_, variance, ab[0], ab[-1])
    ct = g.coordinate_terms(b, np.array([lam_]), 0.0, variance, "exact")
    rem = abs(ct.delta_disc[0] / (hh * D) - 1) / hh
    target(rem, label="leading-term remainder / h")
    assert rem <= LEADING_K


@MEDIUM
@given(
    st.floats(0.5, 3.0),
    st.floats(1.0, 4.0),
    st.integers(300, 3000),
    st.lists(st.floats(0.05, 20.0), min_size=1, max_size=4),
    st.integers(0, 100),
    variances,
)
def test_T_decay_exponent(c0_, gap, T0, lam_list, extra, variance) -> None:
    c1_ = c0_ + gap
    assume(c1_ * math.log(T0) / T0 <= 0.1)
    lam_on = np.array(lam_list)
    d_ = lam_on.size + extra
    Ts = [T0 * 2**j for j in range(4)]
    kls = [g.kl_total(li_beta(T_, c0_, c1_), lam_on, d_, variance, init="exact") for T_ in Ts]
    lead = [g.leading_kl(T_, c1_, lam_on, d_, variance, li_beta(T_, c0_, c1_)) for T_ in Ts]
    p_fit = -np.polyfit(np.log(Ts), np.log(kls), 1)[0]
    p_lead = -np.polyfit(np.log(Ts), np.log(lead), 1)[0]
    target(abs(p_fit - p_lead), label="|fitted - leading| decay exponent")
    # Li et al.'s rate (p = 1 up to logs) is an upper bound, ours is log^2 T / T^2:
    assert 1.0 <= p_fit <= 2.0
    assert abs(p_fit - p_lead) <= SLOPE_TOL


def test_no_decay_when_c0_eq_c1() -> None:
    """c0 = c1 = 4: abar_T -> e^-1, so KL -> the initialization term at abar_T = e^-1 > 0.

    Limit (abar_1 -> 1, v_1 -> 0, discretization -> 0): with s2 = 1 + e^-1 (lambda - 1),
    beta/posterior: delta = e^-1 (lambda / s2) e^-1 (1 - lambda) / s2 on the support and
    0 off it; ddim: delta = e^-1 (1 - lambda) / s2 on the support, e^-1 / (1 - e^-1) off it.
    """
    e1 = math.exp(-1.0)
    lam_, s_, d_ = 2.0, 4, 40
    s2 = 1 + e1 * (lam_ - 1)
    on_bp = e1 * (lam_ / s2) * e1 * (1 - lam_) / s2
    floor = {
        "beta": s_ * g.kl_variance_term(np.array([on_bp]))[0],
        "posterior": s_ * g.kl_variance_term(np.array([on_bp]))[0],
        "ddim": s_ * g.kl_variance_term(np.array([e1 * (1 - lam_) / s2]))[0]
        + (d_ - s_) * g.kl_variance_term(np.array([e1 / (1 - e1)]))[0],
    }
    b = li_beta(200_000, 4.0, 4.0)
    for variance in g.VARIANCES:
        assert floor[variance] > 0.02
        kl = g.kl_total(b, np.full(s_, lam_), d_, variance)
        assert abs(kl - floor[variance]) <= 0.1 * floor[variance]


def _bound_case(draw_params):
    (T_, c0_, c1_), lam_list, mu_list, extra, variance, init = draw_params
    b = li_beta(T_, c0_, c1_)
    hh = c1_ * math.log(T_) / T_
    lam_on = np.array(lam_list)
    mu_on = np.array(mu_list[: lam_on.size])
    H = ratio_bound(hh)
    on = g.coordinate_terms(b, lam_on, mu_on, variance, init)
    off = g.coordinate_terms(b, np.zeros(1), 0.0, variance, init)
    bon = g.derived_bound(b, lam_on, mu_on, variance, H, init)
    boff = g.derived_bound(b, np.zeros(1), 0.0, variance, H, init)
    kl = on.kl.sum() + extra * off.kl[0]
    bound = bon.kl.sum() + extra * boff.kl[0]
    separated = (bon.init + bon.disc).sum() + extra * (boff.init + boff.disc)[0]
    return kl, bound, separated


_BOUND_STRATEGY = st.tuples(
    li_params(T_max=5000),
    st.lists(lams, min_size=1, max_size=8),
    st.lists(mus, min_size=8, max_size=8),
    st.integers(0, 500),
    variances,
)


def _run_bound_property(init: str, record_property, label: str) -> None:
    worst = {"ratio": 0.0, "separated": 0.0, "case": None}

    @FAST
    @given(_BOUND_STRATEGY)
    def check(params) -> None:
        kl, bound, separated = _bound_case((*params, init))
        ratio = kl / bound if bound > 0 else (0.0 if kl == 0 else math.inf)
        target(ratio, label=f"KL / bound ({label})")
        assert kl <= bound * (1 + BOUND_RTOL)
        if np.isfinite(separated):
            assert kl <= separated * (1 + BOUND_RTOL)
            worst["separated"] = max(worst["separated"], kl / separated if separated else 0.0)
        if ratio > worst["ratio"]:
            worst["ratio"], worst["case"] = ratio, params

    check()
    record_property(f"worst KL/bound ratio ({label})", f"{worst['ratio']:.6g}")
    record_property(f"worst KL/separated-bound ratio ({label})", f"{worst['separated']:.6g}")
    print(f"\nworst KL/bound ratio ({label}): {worst['ratio']:.6g} at {worst['case']}")


def test_exact_kl_le_derived_bound(record_property) -> None:
    """Y_T ~ N(0, I): initialization + discretization."""
    _run_bound_property("standard", record_property, "Y_T ~ N(0, I)")


def test_disc_kl_le_derived_bound(record_property) -> None:
    """Y_T ~ q_T: discretization only (the informative ratio)."""
    _run_bound_property("exact", record_property, "Y_T ~ q_T, discretization only")


def test_science_md_preliminary_numbers() -> None:
    """SCIENCE.md 2: c0 = c1 = 4, T = 100, s = 4 coordinates of variance 2."""
    b = li_beta(100, 4.0, 4.0)
    lam_on = np.full(4, 2.0)
    beta_kl = [g.kl_total(b, lam_on, d_, "beta") for d_ in (10, 40, 160)]
    post_kl = [g.kl_total(b, lam_on, d_, "posterior") for d_ in (10, 40, 160)]
    ddim_kl = [g.kl_total(b, lam_on, d_, "ddim") for d_ in (10, 40, 160)]
    np.testing.assert_allclose(beta_kl, [0.35, 0.59, 1.55], atol=0.005)
    np.testing.assert_allclose(post_kl, [0.341] * 3, atol=0.0005)
    # ddim is NOT insensitive to d here (abar_T = 0.80): refutes SCIENCE.md's statement
    np.testing.assert_allclose(ddim_kl, [2.870, 15.055, 63.794], atol=0.001)
