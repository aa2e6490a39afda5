"""l1-regularized DSM, pointwise (theory/regularized.py, SCIENCE.md 5)."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize

from theory import regularized as reg
from theory._testing import FAST, MEDIUM
from theory.symbols import r, tau, x

#: The objective is minimized numerically by a bounded scalar search: its argmin is known
#: to ~sqrt(xtol) = 1e-6 relative (a convex function is flat near its minimum).
ARGMIN_ATOL = 1e-5
#: Quadrature of a smooth Gaussian integral: scipy quad reaches ~1e-12 relative.
QUAD_RTOL = 1e-9
#: Appending zero terms changes NumPy's pairwise summation order: a few ulps.
SUM_RTOL = 1e-14
#: Monte Carlo bands: k standard errors (k >= 4 per STYLE.md), fixed seed.
MC_K = 5.0
MC_N = 400_000


def test_soft_threshold_kkt_symbolic() -> None:
    cases = reg.soft_threshold_cases()
    assert set(cases) == {"positive", "negative", "zero"}
    for case in cases.values():
        assert sp.simplify(case["stationarity"]) == 0
        assert case["gap_pos"].is_nonnegative is True
        assert case["gap_neg"].is_nonnegative is True
    assert cases["zero"]["subgradient_in_range"].is_nonnegative is True


@FAST
@given(st.floats(-10.0, 10.0), st.floats(0.0, 10.0))
def test_soft_threshold_numeric_twin(m_: float, r_: float) -> None:
    res = optimize.minimize_scalar(
        lambda s_: (s_ - m_) ** 2 + r_ * abs(s_),
        bounds=(-12.0, 12.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    s_star = float(reg.soft(np.array(m_), r_ / 2))
    assert abs(res.x - s_star) <= ARGMIN_ATOL
    # the symbolic minimizer, lambdified, is the NumPy one
    f = sp.lambdify((x, r), reg.soft_expr(x, r / 2))
    assert math.isclose(float(f(m_, r_)), s_star, abs_tol=1e-15)


def test_scaling_identity() -> None:
    pairs = reg.scaling_identity_cases()
    assert len(pairs) == 4
    for lhs, rhs in pairs:
        assert sp.simplify(lhs - rhs) == 0
    rng = np.random.default_rng(0)  # numeric twin
    z_, c_, t_ = rng.normal(size=1000), rng.uniform(0.1, 5, 1000), rng.uniform(0, 3, 1000)
    np.testing.assert_allclose(reg.soft(c_ * z_, t_), c_ * reg.soft(z_, t_ / c_), atol=1e-12)


def test_bias_identity() -> None:
    for lhs, rhs in reg.bias_cases():
        assert sp.simplify(lhs - rhs) == 0
    z_ = np.linspace(-5, 5, 1001)
    np.testing.assert_allclose(
        reg.bias_score_param(z_, 2.0), -np.sign(z_) * np.minimum(np.abs(z_), 1.0), atol=1e-15
    )


def test_induced_score_off_support() -> None:
    ab = sp.Symbol("abar", positive=True)
    # off the support D = 0: the induced score is exactly the pure-noise score -x/v
    assert sp.simplify(reg.induced_score_expr(x, sp.Integer(0), ab) + x / (1 - ab)) == 0
    xs = np.linspace(-3, 3, 101)
    np.testing.assert_allclose(
        reg.induced_score_denoiser_param(xs, np.zeros_like(xs), 0.3, 1.0), -xs / 0.7, rtol=1e-15
    )


def test_clipped_second_moment_symbolic() -> None:
    assert sp.simplify(reg.clipped_second_moment_integral() - reg.clipped_second_moment_expr()) == 0
    f = sp.lambdify((tau, r), reg.clipped_second_moment_expr())
    for t_, r_ in ((0.5, 1.0), (2.0, 0.3), (1.0, 7.0)):
        assert math.isclose(
            f(t_, r_), float(reg.clipped_second_moment(t_**2, r_ / 2)), rel_tol=1e-12
        )


@FAST
@given(st.floats(0.05, 20.0), st.floats(0.01, 20.0))
def test_clipped_second_moment_twin(tau2: float, c_: float) -> None:
    sd = math.sqrt(tau2)
    dens = lambda z_: math.exp(-(z_**2) / (2 * tau2)) / math.sqrt(2 * math.pi * tau2)  # noqa: E731
    inner, _ = integrate.quad(lambda z_: z_**2 * dens(z_), -c_, c_, epsabs=0, epsrel=1e-12)
    tail = 2 * c_**2 * 0.5 * math.erfc(c_ / (sd * math.sqrt(2)))
    got = float(reg.clipped_second_moment(np.array(tau2), c_))
    assert math.isclose(got, inner + tail, rel_tol=QUAD_RTOL)


def test_eps_score_monte_carlo() -> None:
    """Both eps_score^2 formulas against a seeded Monte Carlo (bands of MC_K standard errors)."""
    rng = np.random.default_rng(12345)
    lam_on, d_, abar_t, r_ = np.array([0.5, 2.0, 4.0]), 20, 0.6, 0.8
    a_, v_ = math.sqrt(abar_t), 1 - abar_t
    s_ = lam_on.size
    x0 = np.zeros((MC_N, d_))
    x0[:, :s_] = rng.standard_normal((MC_N, s_)) * np.sqrt(lam_on)
    xt = a_ * x0 + math.sqrt(v_) * rng.standard_normal((MC_N, d_))
    lam_full = np.concatenate((lam_on, np.zeros(d_ - s_)))
    sig2 = v_ + abar_t * lam_full
    score = -xt / sig2
    D = a_ * lam_full * xt / sig2
    err_score = np.sum(reg.bias_score_param(score, r_) ** 2, axis=1)
    err_den = np.sum(reg.bias_denoiser_param(D, abar_t, r_) ** 2, axis=1)
    on, off = reg.eps_score_sq_score_param(lam_on, d_, abar_t, r_)
    den = reg.eps_score_sq_denoiser_param(lam_on, abar_t, r_)
    for sample, predicted in ((err_score, on + off), (err_den, den)):
        se = sample.std(ddof=1) / math.sqrt(MC_N)
        assert abs(sample.mean() - predicted) <= MC_K * se


@MEDIUM
@given(
    st.lists(st.floats(0.01, 20.0), min_size=1, max_size=6),
    st.integers(0, 1000),
    st.floats(0.01, 0.99),
    st.floats(0.01, 10.0),
)
def test_score_param_eps_linear_in_d(lam_list, extra, abar_t, r_) -> None:
    lam_on = np.array(lam_list)
    s_ = lam_on.size
    on0, off0 = reg.eps_score_sq_score_param(lam_on, s_ + 1, abar_t, r_)
    on, off = reg.eps_score_sq_score_param(lam_on, s_ + 1 + extra, abar_t, r_)
    assert on == on0 and off0 > 0
    assert math.isclose(off, (1 + extra) * off0, rel_tol=1e-12)  # slope B(1/v, r/2) > 0
    assert off <= (1 + extra) * r_**2 / 4 * (1 + 1e-12)  # bias at most r/2 per coordinate


@MEDIUM
@given(
    st.lists(st.floats(0.01, 20.0), min_size=1, max_size=6),
    st.floats(0.01, 0.99),
    st.floats(0.01, 10.0),
)
def test_denoiser_param_eps_d_free(lam_list, abar_t, r_) -> None:
    lam_on = np.array(lam_list)
    eps2 = reg.eps_score_sq_denoiser_param(lam_on, abar_t, r_)
    # no d anywhere: off-support coordinates add exactly zero (D_j = 0 there)
    with_zeros = reg.eps_score_sq_denoiser_param(np.concatenate((lam_on, np.zeros(50))), abar_t, r_)
    assert math.isclose(with_zeros, eps2, rel_tol=SUM_RTOL)
    v_ = 1 - abar_t
    assert eps2 <= lam_on.size * abar_t / v_**2 * r_**2 / 4 * (1 + 1e-12)
