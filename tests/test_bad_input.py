"""Bad input to the public API: a ValueError or TypeError naming the parameter, never a numba
crash, a NaN result or a hang (Hypothesis draws the invalid arguments).

Each public entry point is called with one argument replaced by a drawn invalid value (wrong
type, NaN/inf, out of range, wrong shape); the error message must name that argument.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulate import estimators, exact, metrics, models, samplers, schedules

#: Cases per entry point (Hypothesis examples); the total is printed in the summary.
CASES = 40
BAD_NUMBERS = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.floats(max_value=0.0, allow_nan=False),
    st.text(max_size=3),
    st.none(),
)
BAD_COUNTS = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
    st.just(True),
)
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rejects(call, name: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value), (name, str(info.value))


@FUZZ
@given(T=BAD_COUNTS)
def test_schedule_T(T) -> None:
    for make in (schedules.li, schedules.linear, schedules.cosine):
        if isinstance(T, int) and not isinstance(T, bool) and T >= 2:
            continue
        _rejects(lambda make=make: make(T), "T")


@FUZZ
@given(c0=BAD_NUMBERS)
def test_schedule_constants(c0) -> None:
    _rejects(lambda: schedules.li(50, c0=c0), "c0")


@FUZZ
@given(d=BAD_COUNTS)
def test_model_dimension(d) -> None:
    for make in (
        lambda: models.SubspaceGaussian(d, 1),
        lambda: models.SpikeSlab(d, 0.1),
        lambda: models.RandomSupportSparse(d, 1),
        lambda: models.Sphere(d, 2),
        lambda: models.Box(d, 1),
    ):
        _rejects(make, "d")


@FUZZ
@given(n=BAD_COUNTS, seed=st.one_of(st.integers(max_value=-1), st.text(max_size=2)))
def test_sample_counts_and_seed(n, seed) -> None:
    model = models.SubspaceGaussian(4, 2)
    sch = schedules.li(20, 2.0, 4.0)
    _rejects(lambda: samplers.sample(model, sch, n=n, seed=0), "n")
    _rejects(lambda: samplers.sample(model, sch, n=10, seed=seed), "seed")


@FUZZ
@given(
    name=st.text(max_size=8).filter(
        lambda v: v not in samplers.SAMPLERS + samplers.VARIANCES
    )
)
def test_sampler_name(name) -> None:
    model = models.SubspaceGaussian(4, 2)
    sch = schedules.li(20, 2.0, 4.0)
    _rejects(lambda: samplers.sample(model, sch, n=10, seed=0, sampler=name), "sampler")
    _rejects(lambda: exact.output_law(model, sch, name), "sampler")


@FUZZ
@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), row=st.integers(0, 4))
def test_score_points_must_be_finite(bad, row) -> None:
    model = models.SubspaceGaussian(3, 2)
    x = np.zeros((5, 3))
    x[row, row % 3] = bad
    _rejects(lambda: model.score(x, 0.5), "x")


@FUZZ
@given(alpha_bar=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.nan)))
def test_alpha_bar_range(alpha_bar) -> None:
    model = models.SubspaceGaussian(3, 2)
    _rejects(lambda: model.score(np.zeros((2, 3)), alpha_bar), "alpha_bar")


@FUZZ
@given(r=st.one_of(st.floats(max_value=-1e-9), st.just(math.nan), st.just(-math.inf)))
def test_l1_penalty_range(r) -> None:
    model = models.SubspaceGaussian(4, 2)
    _rejects(lambda: estimators.L1DSM(model, n=32, r=r, seed=0), "r")


def test_metrics_shape_mismatch() -> None:
    a = models.SubspaceGaussian(3, 1)
    b = models.SubspaceGaussian(4, 1)
    sch = schedules.li(20, 2.0, 4.0)
    _rejects(lambda: metrics.kl_gaussian(exact.target_law(a, sch), exact.target_law(b, sch)), "d")
