"""The pure-noise coordinate under each VP-SDE scheme (theory/vp_schemes.py): the order of
the local error proved by exact series arithmetic, the series checked against the closed form
in 50-digit arithmetic, and the closed form against simulate's exact law of one step."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theory import vp_schemes as vp
from theory._testing import MEDIUM

#: One step of simulate's exact law against the lambdified closed form, both float64: the
#: same formulas in another order (a few ulps of variances of order v(t) >= 1e-3).
ONE_STEP_RTOL = 1e-10
#: The series to h^K against the closed form at h = 1e-4 in 50 digits: the remainder is
#: O(h^(K+1)) against a leading term of order h^(p+1) <= h^5, so below h^2 = 1e-8 relative.
SERIES_RTOL = 1e-6


@pytest.mark.parametrize("name", vp.SCHEMES)
def test_local_error_order(name):
    """e(h) = O(h^(p+1)) with p the scheme's order, and the h^(p+1) term is not zero."""
    assert vp.leading_order(name) == vp.ORDER[name] + 1
    assert sp.simplify(vp.leading_coefficient(name)) != 0


@pytest.mark.parametrize("name", vp.SCHEMES)
def test_series_matches_the_closed_form(name):
    """sum_k c_k h^k (c_k from the series arithmetic) against LOCAL_ERROR itself, in mpmath
    with 50 digits, at t = 0.3, b0 = 0.1, b1 = 19.9, h = 1e-4."""
    point = {vp.t: sp.Rational(3, 10), vp.b0: sp.Rational(1, 10), vp.b1: sp.Rational(199, 10)}
    hh = sp.Rational(1, 10**4)
    B = point[vp.b0] * point[vp.t] + point[vp.b1] * point[vp.t] ** 2 / 2
    sub = {vp.E: sp.exp(-B), vp.bt: point[vp.b0] + point[vp.b1] * point[vp.t], vp.b1: point[vp.b1]}
    with mpmath.workdps(50):
        series = sum(
            sp.N(c.subs(sub), 50) * sp.N(hh, 50) ** k
            for k, c in enumerate(vp.local_error_series(name))
        )
        exact = sp.N(vp.LOCAL_ERROR[name].subs({**point, vp.h: hh}), 50)
    assert abs(float((series - exact) / exact)) <= SERIES_RTOL


@MEDIUM
@given(
    t=st.floats(0.05, 1.0),
    frac=st.floats(0.01, 0.5),
    b0=st.floats(0.05, 1.0),
    b1=st.floats(1.0, 25.0),
    name=st.sampled_from(vp.SCHEMES),
)
def test_one_step_matches_simulate(t, frac, b0, b1, name):
    """The closed-form one-step variance of a pure-noise coordinate against
    simulate.exact.coordinate_law on the grid {t - h, t} from q_t."""
    from simulate import exact, schedules

    h = frac * t
    if name == "ancestral" and (b0 + b1 * t) * h >= 1.0:
        return  # the ancestral step is undefined there (simulate raises)
    f = sp.lambdify((vp.t, vp.h, vp.b0, vp.b1), vp.one_step_variance(name), "math")
    want = f(t, h, b0, b1)
    sch = schedules.vp_sde(b0, b0 + b1, N=2, eps=t - h, horizon=t)
    got = float(exact.coordinate_law([0.0], 0.0, sch, name, "p_T").variances[0])
    assert math.isfinite(want) and got == pytest.approx(want, rel=ONE_STEP_RTOL)


def test_simulate_states_the_orders_proved_here():
    """simulate.samplers.ORDER (used by the experiments) is the order the series proves."""
    from simulate import samplers

    assert {name: samplers.ORDER[name] for name in vp.SCHEMES} == {
        name: vp.leading_order(name) - 1 for name in vp.SCHEMES
    }
