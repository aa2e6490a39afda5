"""One DDIM step on N(0, lambda) multiplies var / (lambda + sigma^2) by cos^2(dtheta)
(theory/sigma_grid.py; Align Your Steps, Theorem 3.1), symbolically and numerically, and the
tangent law is the single-scale optimum."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from simulate import exact, sigma_grid
from theory import sigma_grid as t
from theory._testing import FAST

#: Numeric twins: both sides are a few rational / trigonometric operations in float64 at
#: theta in [0.01, 1.56] (tan up to ~100): tens of ulps relative.
TWIN_RTOL = 1e-12
#: The closed form prod cos^2(dtheta) against the step-by-step product of the Euler factors
#: (lambda + sigma sigma') / (lambda + sigma^2): n <= 60 factors, each a few ulps, so the
#: issue's 1e-13 holds with room.
LAW_RTOL = 1e-13

_AT = {t.sig: sp.sqrt(t.lam) * sp.tan(t.th), t.sig2: sp.sqrt(t.lam) * sp.tan(t.th2)}


def test_ddim_is_euler_in_y_and_sigma() -> None:
    assert sp.simplify(t.ddim_x_step() - t.euler_y_step()) == 0


def test_step_scales_the_state_by_the_cosine_factor() -> None:
    lhs = (t.euler_y_step() / t.y).subs(_AT)
    assert sp.simplify(sp.expand_trig(lhs - t.scale_factor())) == 0


def test_step_multiplies_the_variance_ratio_by_cos2_dtheta() -> None:
    expr = t.variance_ratio_factor() - sp.cos(t.th - t.th2) ** 2
    assert sp.simplify(sp.expand_trig(expr)) == 0


_RATIO = sp.lambdify((t.lam, t.th, t.th2), t.variance_ratio_factor(), "math")
_DDIM = sp.lambdify((t.lam, t.sig, t.sig2, t.y), t.ddim_x_step(), "math")


@FAST
@given(
    lam=st.floats(1e-3, 1e3),
    th=st.floats(0.01, 1.56),
    th2=st.floats(0.01, 1.56),
)
def test_variance_ratio_twin(lam: float, th: float, th2: float) -> None:
    assert math.isclose(_RATIO(lam, th, th2), math.cos(th - th2) ** 2, rel_tol=TWIN_RTOL)


@FAST
@given(lam=st.floats(1e-3, 1e3), th=st.floats(0.01, 1.56), th2=st.floats(0.01, 1.56))
def test_ddim_twin_against_the_cosine_factor(lam: float, th: float, th2: float) -> None:
    s, s2 = math.sqrt(lam) * math.tan(th), math.sqrt(lam) * math.tan(th2)
    want = math.cos(th - th2) * math.cos(th) / math.cos(th2)
    # the x-space DDIM step forms 1 - abar = sigma^2 / (1 + sigma^2): relative error ~ eps
    # times (1 + sigma^2), up to 1e4 here
    assert math.isclose(_DDIM(lam, s, s2, 1.0), want, rel_tol=1e-10)


@FAST
@given(
    lam=st.floats(1e-4, 1e3),
    n=st.integers(1, 60),
    rho=st.floats(1.0, 10.0),
)
def test_closed_form_against_step_by_step_law(lam: float, n: int, rho: float) -> None:
    """The exact law of DDIM from the exact start, step by step (y' = y (lambda + sigma
    sigma') / (lambda + sigma^2), the Euler step above), against prod cos^2(dtheta)."""
    s = sigma_grid.edm(n, rho=rho)
    var = lam + s[0] ** 2
    for a, b in zip(s[:-1], s[1:], strict=True):
        var *= ((lam + a * b) / (lam + a * a)) ** 2
    r = float(np.exp(sigma_grid.ddim_log_ratio(np.array([lam]), s))[0])
    assert math.isclose(var / (lam + s[-1] ** 2), r, rel_tol=LAW_RTOL)


def test_closed_form_against_the_suites_ddim_law() -> None:
    """Against ``exact.coordinate_law`` of the suite's DDIM on the equivalent discrete
    schedule: its v_t = 1 - abar_t is built by a cumulative product, and at sigma_min = 0.002
    a relative error of n ulps in abar becomes n eps / sigma_min^2 ~ 1e-10 in v_1, so only
    eigenvalues lambda >= 1e-2 (where lambda dominates v_1) reach the issue's 1e-13."""
    lam = np.array([1e-2, 0.1, 1.0, 5.0, 200.0])
    for s in (sigma_grid.edm(10), sigma_grid.tangent(20, 0.3), sigma_grid.log_snr(50)):
        law = exact.coordinate_law(lam, 0.0, sigma_grid.to_schedule(s), "ddim", init="p_T")
        ab = 1.0 / (1.0 + s[-1] ** 2)
        r = np.exp(sigma_grid.ddim_log_ratio(lam, s))
        np.testing.assert_allclose(law.variances, r * (ab * lam + 1 - ab), rtol=LAW_RTOL)


@FAST
@given(c=st.floats(1e-2, 1e2), n=st.integers(2, 60))
def test_tangent_law_is_a_stationary_point(c: float, n: int) -> None:
    """Equal steps in theta make every interior derivative vanish (dL/dtheta_i = 2 tan -
    2 tan of equal steps); relative to the size of one term, ~1e-12 from rounding."""
    s = sigma_grid.tangent(n, c)
    g = sigma_grid.ddim_kl_grad(np.array([c * c]), s)
    lc2, tan = sigma_grid._step_terms(np.array([c * c]), s)
    scale = abs(float(np.sum(lc2))) * float(np.max(np.abs(tan))) + 1e-300
    assert float(np.max(np.abs(g))) <= 1e-9 * scale


@FAST
@given(
    c=st.floats(1e-2, 1e2),
    n=st.integers(2, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_tangent_law_beats_perturbed_grids(c: float, n: int, seed: int) -> None:
    """Jensen: -log cos^2 is convex, so equal theta steps maximize r; any other ordered grid
    with the same ends has a larger KL (a perturbation of 1e-3 in log sigma is far above the
    rounding)."""
    s = sigma_grid.tangent(n, c)
    u = np.log(s)
    u[1:-1] += np.random.default_rng(seed).normal(0.0, 1e-2, n - 1)
    other = np.exp(u)
    if np.any(np.diff(other) >= 0):
        return
    lam = np.array([c * c])
    assert sigma_grid.ddim_kl(lam, s) <= sigma_grid.ddim_kl(lam, other)
