"""RandomSupportSparse at scale (SCIENCE.md 4.4): the scaled-domain recursion against
arbitrary-precision (mpmath) and extended-precision (np.longdouble) references, at d = 1e4,
s = 50 and at alpha_bar from 1e-12 to 1 - 1e-12 (its speed: benchmarks/bench_models.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulate import models
from tests import reference as ref

#: The issue's accuracy target for the elementary-symmetric-polynomial score.
REFERENCE_RTOL = 1e-8


def _points(model: models.RandomSupportSparse, n: int, alpha_bar: float, seed: int):
    x0 = model.sample(n, seed=seed)
    z = np.random.default_rng(seed + 1).standard_normal(x0.shape)
    return math.sqrt(alpha_bar) * x0 + math.sqrt(1.0 - alpha_bar) * z


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest coordinatewise relative error |a - b| / |b|."""
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("alpha_bar", [1e-12, 1e-6, 1e-2, 0.3, 0.9, 0.999, 1.0 - 1e-6, 1.0 - 1e-12])
def test_matches_mpmath_over_alpha_bar(alpha_bar):
    model = models.RandomSupportSparse(120, 12, 1.5)
    x = _points(model, 2, alpha_bar, seed=3)
    got = model.score(x, alpha_bar)
    for i in range(x.shape[0]):
        want = ref.random_support_score_mpmath(12, 1.5, x[i], alpha_bar)
        assert _rel(got[i], want) < REFERENCE_RTOL


@pytest.mark.parametrize("alpha_bar", [1e-3, 0.3, 0.8])
def test_matches_longdouble_at_d_1e4_s_50(alpha_bar):
    model = models.RandomSupportSparse(10_000, 50, 1.0)
    x = _points(model, 2, alpha_bar, seed=4)
    got = model.score(x, alpha_bar)
    for i in range(x.shape[0]):
        want = ref.random_support_score_longdouble(50, 1.0, x[i], alpha_bar)
        assert _rel(got[i], want) < REFERENCE_RTOL


def test_edge_cases_s_equals_d_and_s_equals_1():
    full = models.RandomSupportSparse(6, 6, 2.0)
    x = _points(full, 3, 0.7, seed=5)
    v1 = 0.7 * 4.0 + 0.3
    np.testing.assert_allclose(full.score(x, 0.7), -x / v1, rtol=1e-14)
    one = models.RandomSupportSparse(6, 1, 2.0)
    y = _points(one, 2, 0.7, seed=6)
    for i in range(2):
        want = ref.random_support_score_mpmath(1, 2.0, y[i], 0.7)
        assert _rel(one.score(y, 0.7)[i], want) < REFERENCE_RTOL


def test_inclusion_probabilities_sum_to_s():
    model = models.RandomSupportSparse(2_000, 40, 1.0)
    for alpha_bar in (1e-8, 0.5, 1.0 - 1e-8):
        x = _points(model, 4, alpha_bar, seed=7)
        den = model.denoiser(x, alpha_bar)
        v1 = alpha_bar + (1.0 - alpha_bar)
        incl = den / (math.sqrt(alpha_bar) / v1 * x)
        np.testing.assert_allclose(incl.sum(axis=1), 40.0, rtol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("alpha_bar", [1e-6, 0.99, 1.0 - 1e-9])
def test_matches_mpmath_at_d_1e4_s_50(alpha_bar):
    model = models.RandomSupportSparse(10_000, 50, 1.0)
    x = _points(model, 1, alpha_bar, seed=8)
    want = ref.random_support_score_mpmath(50, 1.0, x[0], alpha_bar, dps=40)
    assert _rel(model.score(x, alpha_bar)[0], want) < REFERENCE_RTOL
