"""Shared Hypothesis settings and strategies of the theory tests (not collected by pytest).

Every property test is reproducible (``derandomize=True``) and has no deadline (SymPy and
the first lambdify calls are slow on a cold start).
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Settings of the cheap closed-form property tests.
FAST = settings(
    deadline=None,
    derandomize=True,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: Settings of tests that run a Python loop over T steps or SymPy per example.
MEDIUM = settings(
    deadline=None,
    derandomize=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: Smallest v_1 = T^(-c0) of the drawn schedules: below ~1e-12 float64 cannot represent
#: abar_1 = 1 - T^(-c0) to more than a few digits (the schedule itself is then rounding).
MIN_BETA1 = 1e-12
#: Largest h = c1 log T / T drawn (the schedule needs h < 1; Lemma L4's bound needs h < 1).
MAX_H = 0.5


@st.composite
def li_params(
    draw: st.DrawFn,
    T_min: int = 5,
    T_max: int = 3000,
    c0_range: tuple[float, float] = (0.2, 6.0),
    c1_range: tuple[float, float] = (0.2, 8.0),
    max_h: float = MAX_H,
    min_beta1: float = MIN_BETA1,
) -> tuple[int, float, float]:
    """(T, c0, c1) of a Li schedule with h <= max_h and T^(-c0) >= min_beta1."""
    T = draw(st.integers(T_min, T_max))
    c1_hi = min(c1_range[1], max_h * T / math.log(T))
    c0_hi = min(c0_range[1], -math.log(min_beta1) / math.log(T))
    if c1_hi < c1_range[0] or c0_hi < c0_range[0]:
        from hypothesis import reject

        reject()
    c0 = draw(st.floats(c0_range[0], c0_hi))
    c1 = draw(st.floats(c1_range[0], c1_hi))
    return T, c0, c1


variances = st.sampled_from(("beta", "posterior", "ddim"))
inits = st.sampled_from(("standard", "exact"))
lams = st.floats(0.0, 50.0)
mus = st.floats(-3.0, 3.0)
