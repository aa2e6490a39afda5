"""Intrinsic-dimension estimates against the declared ``intrinsic_dim`` (scikit-dimension), and
the effective-sparsity functions of ``simulate.sparsity`` (SCIENCE.md 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulate import models
from simulate.intrinsic import estimate_intrinsic_dim
from simulate.sparsity import effective_sparsity, measure_sparsity, top_mass_share

#: Samples per intrinsic-dimension estimate.
ID_N = 2000
#: Tolerance of |estimate - k| / k. Both estimators have a standard error of about
#: k / sqrt(n) (TwoNN: Pareto MLE on 90% of n ratios; MLE: average of n local estimates of
#: correlated neighbourhoods), 2.2% at n = 2000, so 5 standard errors is 11%; on top come
#: finite-sample biases of a few % (the box's edges pull both down by about 5%, measured).
#: 0.15 covers both with the seeds fixed.
ID_RTOL = 0.15

ID_CASES = {
    "subspace_aligned": models.SubspaceGaussian(20, 3),
    "subspace_rotated": models.SubspaceGaussian(20, 3, rotate=True),
    "sphere_S2": models.Sphere(10, 3),
    "sphere_S5": models.Sphere(10, 6),
    "torus_T2": models.Torus(8, 2),
    "box_4": models.Box(10, 4),
    "paper_toy": models.PaperToy3D(),
    "lowrank_mixture": models.LowRankMixture.random(20, 4, n_components=3, seed=0),
    "rotated_torus_T3": models.Rotated(models.Torus(8, 3), seed=1),
    # a union of C(6, 2) = 15 coordinate planes: dense enough at n = 2000 for TwoNN to see 2
    # (at d = 20, s = 3 the 1140 planes get 2 points each and TwoNN reports about 2 s)
    "random_support_6_2": models.RandomSupportSparse(6, 2),
}


@pytest.mark.parametrize("name", sorted(ID_CASES))
def test_declared_intrinsic_dim_matches_twonn(name):
    model = ID_CASES[name]
    est = estimate_intrinsic_dim(model.sample(ID_N, seed=0), "twonn")
    k = model.intrinsic_dim
    assert abs(est - k) <= ID_RTOL * k, (name, k, est)


@pytest.mark.parametrize(
    "name", ["subspace_rotated", "sphere_S2", "torus_T2", "paper_toy", "lowrank_mixture"]
)
def test_declared_intrinsic_dim_matches_mle(name):
    model = ID_CASES[name]
    est = estimate_intrinsic_dim(model.sample(ID_N, seed=1), "mle")
    k = model.intrinsic_dim
    assert abs(est - k) <= ID_RTOL * k, (name, k, est)


def test_estimate_intrinsic_dim_bad_input():
    with pytest.raises(ValueError, match="method='pca' is not supported"):
        estimate_intrinsic_dim(np.zeros((10, 2)), "pca")
    with pytest.raises(ValueError, match="distinct rows"):
        estimate_intrinsic_dim(np.zeros((50, 3)), "twonn")
    with pytest.raises(ValueError, match="non-finite"):
        estimate_intrinsic_dim(np.full((50, 3), np.nan))


def test_effective_sparsity_known_values():
    v = np.array([[1.0, 0, 0, 0], [1, 1, 0, 0], [2, -2, 2, -2], [0, 0, 0, 0], [3, 1, 0, 0]])
    np.testing.assert_allclose(effective_sparsity(v), [1, 2, 4, 0, 16 / 10], rtol=1e-15)
    np.testing.assert_allclose(top_mass_share(v, 1), [1, 0.5, 0.25, 1, 0.9], rtol=1e-15)
    np.testing.assert_allclose(top_mass_share(v, 2), [1, 1, 0.5, 1, 1], rtol=1e-15)
    # scale invariance, including near the limits of float64
    for scale in (1e-300, 1e300):
        np.testing.assert_allclose(effective_sparsity(scale * v[:3]), [1, 2, 4], rtol=1e-14)
        np.testing.assert_allclose(top_mass_share(scale * v[:3], 1), [1, 0.5, 0.25], rtol=1e-14)


def test_effective_sparsity_of_gaussian_vectors():
    """E ||z||_1^2 / E ||z||_2^2 -> 2 d / pi; per-row ratios concentrate at the same value."""
    d = 2000
    z = np.random.default_rng(0).standard_normal((200, d))
    frac = effective_sparsity(z) / d
    se = frac.std(ddof=1) / math.sqrt(frac.size)
    assert abs(frac.mean() - 2 / math.pi) < 5 * se + 1e-3  # + the O(1/d) bias of the ratio


def test_measure_sparsity_aligned_vs_rotated():
    """SCIENCE.md 2 and 4.1: aligned data have a dense score and an s-sparse denoiser;
    rotation makes the denoiser dense too."""
    d, k = 100, 4
    aligned = measure_sparsity(models.SubspaceGaussian(d, k), [0.1, 0.5, 0.9], n=200, seed=0)
    assert list(aligned["s"]) == [k, k, k]
    assert np.all(aligned["denoiser_top_share"] == 1.0)
    assert np.all(aligned["denoiser_eff"] <= k)
    assert np.all(aligned["score_eff_frac"] > 0.5)
    rotated = measure_sparsity(
        models.SubspaceGaussian(d, k, rotate=True), [0.1, 0.5, 0.9], n=200, seed=0, s=k
    )
    assert np.all(rotated["denoiser_top_share"] < 0.5)
    assert np.all(rotated["denoiser_eff"] > 10 * k)
    with pytest.raises(ValueError, match="pass s explicitly"):
        measure_sparsity(models.SpikeSlab(10, 0.1), [0.5])
