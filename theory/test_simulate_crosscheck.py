"""Cross-checks of the closed forms against ``simulate`` (samplers, exact, metrics, models).

``simulate`` computes v_t = 1 - abar_t and
beta_t = 1 - alpha_t from rounded arrays, whose relative error is ~1e-16 / v_1 with
v_1 = T^(-c0); the 1e-10 comparisons therefore draw schedules with T^(-c0) >= 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

# Plain imports: a broken import of our own code must fail, never skip.
from simulate import estimators, exact, metrics, models, samplers, schedules
from theory import gaussian as g
from theory._testing import MEDIUM, li_params, variances
from theory.schedules import li_beta

#: Agreement asked of the closed form and simulate.exact (the brief): 1e-10 relative.
SIMULATE_RTOL = 1e-10
#: Smallest T^(-c0) drawn for the 1e-10 checks: simulate's rounding is ~35 ulps / v_1
#: (measured), i.e. <= 1e-11 relative when v_1 >= 1e-4.
MIN_BETA1_SIM = 1e-4
#: Coefficients: both sides take beta_t and v_t = -expm1(cumsum(log1p(-beta))) (simulate's
#: abar is a cumprod, theory's an exp of the same cumsum): the same numbers up to a few ulps
#: per step, far below 1e-10 over T <= 2000 steps.
COEF_RTOL = 1e-10
#: Rotated data run the full-matrix path (Cholesky, eigvalsh): ~1e-13 relative.
ROTATION_RTOL = 1e-9


def _model(lam_on, mu_on, d_, rotate=False):
    return models.SubspaceGaussian(d_, len(lam_on), rotate=rotate, mean=mu_on, cov=lam_on)


@MEDIUM
@given(li_params(T_max=2000, min_beta1=MIN_BETA1_SIM), variances)
def test_coefficients_match_simulate(p, variance) -> None:
    T_, c0_, c1_ = p
    coef = samplers.coefficients(schedules.li(T_, c0_, c1_), variance)
    A, B, C2 = g.sampler_coefficients(li_beta(T_, c0_, c1_), variance, accurate=True)
    np.testing.assert_allclose(coef.A[1:], A[1:], rtol=COEF_RTOL)
    np.testing.assert_allclose(coef.B[1:], B[1:], rtol=COEF_RTOL, atol=1e-300)
    np.testing.assert_allclose(coef.C[1:] ** 2, C2[1:], rtol=COEF_RTOL, atol=1e-300)


_CASES = st.tuples(
    li_params(T_max=1500, min_beta1=MIN_BETA1_SIM),
    st.lists(st.floats(0.0, 20.0), min_size=1, max_size=5),
    st.lists(st.floats(-3.0, 3.0), min_size=5, max_size=5),
    st.integers(0, 20),
    variances,
)


@MEDIUM
@given(_CASES, st.booleans())
def test_closed_form_matches_simulate_exact(case, exact_init) -> None:
    (T_, c0_, c1_), lam_list, mu_list, extra, variance = case
    lam_on, mu_on = np.array(lam_list), np.array(mu_list[: len(lam_list)])
    s_ = lam_on.size
    d_ = s_ + extra
    model = _model(lam_on, mu_on, d_)
    sch = schedules.li(T_, c0_, c1_)
    init = exact.target_law(model, sch, t=T_) if exact_init else None
    law = exact.output_law(estimators.Exact(model), sch, variance, init=init)
    lam_all = np.concatenate((lam_on, np.zeros(extra)))
    mu_all = np.concatenate((mu_on, np.zeros(extra)))
    ct = g.coordinate_terms(
        li_beta(T_, c0_, c1_), lam_all, mu_all, variance, "exact" if exact_init else "standard"
    )
    np.testing.assert_allclose(law.variances, ct.c_1, rtol=SIMULATE_RTOL)
    scale = np.abs(ct.target_mean) + np.abs(ct.m_1 - ct.target_mean)
    assert np.all(np.abs(law.mean - ct.m_1) <= SIMULATE_RTOL * scale + 1e-300)


@MEDIUM
@given(_CASES)
def test_kl_matches_simulate_metrics(case) -> None:
    (T_, c0_, c1_), lam_list, _, extra, variance = case
    lam_on = np.array(lam_list)
    d_ = lam_on.size + extra
    model = _model(lam_on, np.zeros(lam_on.size), d_)
    sch = schedules.li(T_, c0_, c1_)
    kl_sim = metrics.kl_gaussian(
        exact.target_law(model, sch), exact.output_law(estimators.Exact(model), sch, variance)
    )
    b = li_beta(T_, c0_, c1_)
    kl = g.kl_total(b, lam_on, d_, variance)
    # first-order propagation of the law's relative error: |d(phi/2)| <= |delta| * rtol
    deltas = np.concatenate(
        (
            g.coordinate_terms(b, lam_on, 0.0, variance).delta,
            np.repeat(g.coordinate_terms(b, np.zeros(1), 0.0, variance).delta, extra),
        )
    )
    atol = SIMULATE_RTOL * np.sum(np.abs(deltas)) + d_ * 1e-16
    assert abs(kl_sim - kl) <= atol + SIMULATE_RTOL * kl


@MEDIUM
@given(
    li_params(T_min=10, T_max=300, min_beta1=MIN_BETA1_SIM),
    st.lists(st.floats(0.05, 10.0), min_size=1, max_size=3),
    st.integers(0, 6),
    variances,
    st.integers(0, 2**31 - 1),
)
def test_rotation_leaves_kl_unchanged(p, lam_list, extra, variance, seed) -> None:
    T_, c0_, c1_ = p
    lam_on = np.array(lam_list)
    d_ = lam_on.size + extra
    sch = schedules.li(T_, c0_, c1_)
    kls = []
    for rotate in (False, True):
        model = models.SubspaceGaussian(d_, lam_on.size, rotate=rotate, cov=lam_on, seed=seed)
        law = exact.output_law(estimators.Exact(model), sch, variance)
        kls.append(metrics.kl_gaussian(exact.target_law(model, sch), law))
    kl_theory = g.kl_total(li_beta(T_, c0_, c1_), lam_on, d_, variance)
    assert np.isclose(kls[1], kls[0], rtol=ROTATION_RTOL, atol=d_ * 1e-13)
    assert np.isclose(kls[0], kl_theory, rtol=ROTATION_RTOL, atol=d_ * 1e-13)


#: Monte Carlo band: k standard errors (k >= 4, STYLE.md 5), fixed seed.
MC_K = 5.0


@pytest.mark.slow
@pytest.mark.parametrize("variance", ["beta", "posterior", "ddim"])
def test_monte_carlo_moments_match_closed_form(variance: str) -> None:
    """The sampler's draws have the closed-form mean and variance per coordinate.

    Standard errors: mean sqrt(c_1 / n); variance c_1 sqrt(2 / (n - 1)) (Gaussian draws).
    """
    T_, c0_, c1_ = 100, 2.0, 4.0
    lam_on, mu_on, d_ = np.array([0.3, 2.0, 5.0]), np.array([1.0, -0.5, 0.0]), 8
    n = 200_000
    model = _model(lam_on, mu_on, d_)
    y = samplers.sample(
        estimators.Exact(model), schedules.li(T_, c0_, c1_), n=n, seed=7, sampler=variance
    )
    lam_all = np.concatenate((lam_on, np.zeros(d_ - lam_on.size)))
    mu_all = np.concatenate((mu_on, np.zeros(d_ - lam_on.size)))
    ct = g.coordinate_terms(li_beta(T_, c0_, c1_), lam_all, mu_all, variance)
    se_mean = np.sqrt(ct.c_1 / n)
    se_var = ct.c_1 * np.sqrt(2.0 / (n - 1))
    assert np.all(np.abs(y.mean(axis=0) - ct.m_1) <= MC_K * se_mean)
    assert np.all(np.abs(y.var(axis=0, ddof=1) - ct.c_1) <= MC_K * se_var)
