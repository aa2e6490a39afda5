"""The Bessel ratio behind the sphere and torus scores (SCIENCE.md 4.5), against SciPy's
exponentially scaled Bessel functions and against mpmath where SciPy under- or overflows."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import special

from simulate import models

#: Against mpmath: Perron's fraction stops at a relative change of 4e-16 and a few dozen
#: terms leave a few ulps (measured: <= 3e-15).
RATIO_RTOL = 1e-13
#: Against SciPy: ive itself is accurate to about 5e-14 at orders near 100 (measured against
#: mpmath), so the comparison allows 1e-12.
SCIPY_RTOL = 1e-12
#: Below this SciPy's ive has lost relative precision (subnormal range and beyond).
SCIPY_TINY = 1e-290


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    nu=st.sampled_from([0.5, 1.0, 1.5, 2.0, 25.0]) | st.floats(0.5, 200.0),
    x=st.floats(1e-8, 1e4),
)
def test_ratio_matches_scipy_ive(nu, x):
    num, den = special.ive(nu, x), special.ive(nu - 1.0, x)
    assume(num > SCIPY_TINY and den > SCIPY_TINY)  # scipy's ive underflows: mpmath test covers
    want = num / den
    got = float(models.bessel_ratio(nu, x))
    assert abs(got - want) <= SCIPY_RTOL * want


@pytest.mark.parametrize("nu", [0.5, 1.0, 3.5, 5000.0])
@pytest.mark.parametrize("x", [1e-300, 1e-12, 0.3, 40.0, 1e6, 1e12])
def test_ratio_matches_mpmath_at_extremes(nu, x):
    with mpmath.workdps(40):
        try:
            want = float(mpmath.besseli(nu, x) / mpmath.besseli(nu - 1, x))
        except mpmath.libmp.NoConvergence:
            pytest.skip("mpmath's series does not converge here")
    got = float(models.bessel_ratio(nu, x))
    assert abs(got - want) <= RATIO_RTOL * want


def test_ratio_limits_and_half_integer_closed_form():
    assert float(models.bessel_ratio(1.0, 0.0)) == 0.0
    assert float(models.bessel_ratio(1.0, math.inf)) == 1.0
    x = np.array([1e-6, 0.5, 3.0, 30.0, 700.0])
    np.testing.assert_allclose(models.bessel_ratio(0.5, x), np.tanh(x), rtol=RATIO_RTOL)
    # I_{3/2}/I_{1/2} = coth(x) - 1/x
    np.testing.assert_allclose(
        models.bessel_ratio(1.5, x[1:]), 1 / np.tanh(x[1:]) - 1 / x[1:], rtol=1e-12
    )


def test_sphere_score_near_origin_is_smooth():
    """At u -> 0 the Bessel term tends to a^2 R^2 u / (k v^2): no 0/0."""
    m = models.Sphere(4, 3, 2.0)
    alpha_bar = 0.6
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    for scale in (1e-300, 1e-150, 1e-8):
        x = np.array([[scale, -scale, 0.5 * scale, 1.0]])
        want = -x[0, :3] / v + (a * 2.0) ** 2 / (3 * v * v) * x[0, :3]
        np.testing.assert_allclose(m.score(x, alpha_bar)[0, :3], want, rtol=1e-12)
    assert np.array_equal(m.score(np.zeros((1, 4)), alpha_bar), np.zeros((1, 4)))
