"""From q_T every eta of the DDIM-DDPM family and only gamma = 1 of the interpolated-variance
family leave a pure-noise coordinate exact (theory/coefficient_family.py; issue 31, item 4):
SymPy identities, their numeric twins, and the same facts on whole schedules."""

from __future__ import annotations

import math

import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from simulate import pure_noise, schedules
from theory import coefficient_family as cf
from theory._testing import FAST

#: Numeric twins: rational functions of q, w in [1e-3, 1e3] and a power x^gamma in float64;
#: the unsimplified sides cancel terms up to ~1 / beta ~ 1e3 larger than the result.
TWIN_RTOL = 1e-9
#: Whole schedules from q_T: var_1 / v_1 - 1 accumulates ~T ulps (T <= 2000) on a quantity
#: of order 1, so a per-coordinate KL ~ u^2 / 4 is below (2000 * 2.2e-16)^2 ~ 2e-25.
KL_FLOOR = 1e-24


def test_eta_step_keeps_q_exact_for_every_eta() -> None:
    diff = sp.simplify(cf.eta_step(cf.V) - cf.V_PREV)
    assert diff == 0


def test_gamma_step_deviation_is_the_excess_noise() -> None:
    diff = cf.gamma_step(cf.V) - cf.V_PREV - cf.BETA * (cf.X**cf.gam - cf.X) / cf.ALPHA
    assert sp.simplify(diff) == 0


def test_gamma_one_keeps_q_exact() -> None:
    assert sp.simplify(cf.gamma_step(cf.V, sp.Integer(1)) - cf.V_PREV) == 0


def test_x_is_strictly_between_zero_and_one() -> None:
    """1 - x = beta_t / v_t > 0 and x = alpha_t v_{t-1} / v_t > 0, so x^gamma > x for
    gamma < 1: the gamma step adds strictly too much variance unless gamma = 1."""
    assert sp.simplify(1 - cf.X - cf.BETA / cf.V) == 0
    assert sp.simplify(cf.X - cf.ALPHA * cf.V_PREV / cf.V) == 0
    assert sp.factor(sp.together(cf.BETA / cf.V)).is_positive
    assert sp.factor(sp.together(cf.ALPHA * cf.V_PREV / cf.V)).is_positive


def test_deviation_propagation() -> None:
    e = sp.Symbol("e", real=True)
    g_lhs = cf.gamma_step(cf.V + e) - cf.V_PREV
    g_rhs = cf.ALPHA * (cf.V_PREV / cf.V) ** 2 * e + cf.BETA * (cf.X**cf.gam - cf.X) / cf.ALPHA
    assert sp.simplify(g_lhs - g_rhs) == 0
    e_lhs = cf.eta_step(cf.V + e) - cf.V_PREV
    e_rhs = (cf.V_PREV - cf.eta_noise()) / cf.V * e
    assert sp.simplify(e_lhs - e_rhs) == 0


def test_eta_one_is_gamma_one() -> None:
    assert sp.simplify(cf.eta_step(cf.var, sp.Integer(1)) - cf.gamma_step(cf.var, 1)) == 0


_GAMMA = sp.lambdify((cf.q, cf.w, cf.gam), cf.gamma_step(cf.V) - cf.V_PREV, "math")
_EXCESS = sp.lambdify((cf.q, cf.w, cf.gam), cf.BETA * (cf.X**cf.gam - cf.X) / cf.ALPHA, "math")
_ETA = sp.lambdify((cf.q, cf.w, cf.eta), cf.eta_step(cf.V), "math")
_VPREV = sp.lambdify((cf.q,), cf.V_PREV, "math")


@FAST
@given(q=st.floats(1e-3, 1e3), w=st.floats(1e-3, 1e3), g=st.floats(0.0, 1.0))
def test_gamma_twin(q: float, w: float, g: float) -> None:
    lhs, rhs = _GAMMA(q, w, g), _EXCESS(q, w, g)
    assert math.isclose(lhs, rhs, rel_tol=TWIN_RTOL, abs_tol=TWIN_RTOL * _VPREV(q))
    if g < 1.0 - 1e-6:
        assert rhs > 0.0


@FAST
@given(q=st.floats(1e-3, 1e3), w=st.floats(1e-3, 1e3), e=st.floats(0.0, 1.0))
def test_eta_twin(q: float, w: float, e: float) -> None:
    assert math.isclose(_ETA(q, w, e), _VPREV(q), rel_tol=TWIN_RTOL)


@FAST
@given(T=st.integers(10, 2000), eta=st.floats(0.0, 1.0))
def test_every_eta_is_exact_from_q_T_on_li(T: int, eta: float) -> None:
    sch = schedules.li(T)
    assert pure_noise.kl_per_coordinate(sch, "eta", eta, "q_T") <= KL_FLOOR


@FAST
@given(T=st.integers(10, 2000), gamma=st.floats(0.0, 0.99))
def test_only_gamma_one_is_exact_from_q_T_on_li(T: int, gamma: float) -> None:
    sch = schedules.li(T)
    assert pure_noise.kl_per_coordinate(sch, "gamma", 1.0, "q_T") <= KL_FLOOR
    # gamma < 1: the excess beta (x^gamma - x) is ~ (1 - gamma) beta^2 / v per step; the KL
    # ~ (1 - gamma)^2 h^2 / 4 is far above the rounding floor at gamma <= 0.99
    assert pure_noise.kl_per_coordinate(sch, "gamma", gamma, "q_T") > 1e3 * KL_FLOOR
