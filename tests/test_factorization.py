"""The factorization used by the verify battery (simulate/verify.py, SCIENCE.md 3).

Theorem. If the exact score acts separately on the support block S and on the off-support
coordinates (s_j(y) = -y_j / v for j not in S, and s_S(y) independent of y_{not S}), then every
sampler step Y <- A Y + B s(Y) + C Z maps a law that is a product over (S, not S) to a product
law, so p_1 = p_1^S x N(0, c_1 I) with c_1 the lambda = 0 closed form, and
KL(q_1 || p_1) = KL_S + (d - s) kl_off. Checked here: the premise on every catalogue model
with a support (finite differences), and the conclusion on the numba samplers' output
(off-support second moments uncorrelated with the support block, within k SE). The same
theorem holds for any partition into blocks on which the score acts separately (a step acts
on each block alone, so a product law stays a product law): the premise is checked for every
catalogue model that declares ``independent_blocks()``.
"""

import math

import numpy as np
import pytest

from simulate import samplers, schedules
from simulate.models.catalogue import CATALOGUE, catalogue_model

#: Central differences with h = 1e-5 of O(1) scores: truncation ~h^2, cancellation ~1e-11.
FD_ATOL = 1e-7
#: Band of the Monte Carlo independence check (standard errors).
K_SE = 4.0
WITH_SUPPORT = [
    name for name in CATALOGUE if getattr(catalogue_model(name, 8, 2), "support", None) is not None
]


@pytest.mark.parametrize("name", WITH_SUPPORT)
@pytest.mark.parametrize("alpha_bar", [0.05, 0.5, 0.95])
def test_the_score_acts_separately_on_the_support(name, alpha_bar) -> None:
    model = catalogue_model(name, 8, 2)
    on = np.asarray(model.support, dtype=bool)
    rng = np.random.default_rng(0)
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    x0 = model.sample(5, rng)
    y = a * x0 + math.sqrt(v) * rng.standard_normal(x0.shape)
    s = model.score(y, alpha_bar)
    np.testing.assert_allclose(s[:, ~on], -y[:, ~on] / v, rtol=1e-12, atol=1e-12)
    h = 1e-5
    for j in np.flatnonzero(~on):  # moving an off-support coordinate leaves s_S unchanged
        step = np.zeros_like(y)
        step[:, j] = h
        ds = (model.score(y + step, alpha_bar) - model.score(y - step, alpha_bar)) / (2 * h)
        assert np.max(np.abs(ds[:, on])) <= FD_ATOL, (name, j)


@pytest.mark.parametrize("sampler", samplers.VARIANCES)
def test_sampler_output_is_a_product_over_the_blocks(sampler) -> None:
    """Cov(Y_j^2, ||Y_S||^2) = 0 for off-support j: each z within K_SE standard errors."""
    model = catalogue_model("box", 6, 2)
    on = np.asarray(model.support, dtype=bool)
    y = samplers.sample(model, schedules.li(30, 2.0, 4.0), 20_000, seed=5, sampler=sampler)
    block = np.sum(y[:, on] ** 2, axis=1)
    for j in np.flatnonzero(~on):
        u = (y[:, j] ** 2 - np.mean(y[:, j] ** 2)) * (block - block.mean())
        z = np.mean(u) / (np.std(u, ddof=1) / math.sqrt(u.size))
        assert abs(z) <= K_SE, (sampler, j, z)


WITH_BLOCKS = [
    name
    for name in CATALOGUE
    if callable(getattr(catalogue_model(name, 8, 2), "independent_blocks", None))
]


@pytest.mark.parametrize("name", WITH_BLOCKS)
@pytest.mark.parametrize("alpha_bar", [0.05, 0.5, 0.95])
def test_the_score_acts_separately_on_each_declared_block(name, alpha_bar) -> None:
    """The premise of the block oracles (simulate/oracle.py, simulate/oracle_plane.py): the
    declared blocks partition the coordinates; a block's score does not move when another
    block's coordinates move; blocks declared to share a law share a score function."""
    model = catalogue_model(name, 8, 2)
    blocks = model.independent_blocks()
    assert sorted(np.concatenate([g.ravel() for g in blocks]).tolist()) == list(range(model.d))
    rng = np.random.default_rng(1)
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    x0 = model.sample(5, rng)
    y = a * x0 + math.sqrt(v) * rng.standard_normal(x0.shape)
    block_of = np.empty(model.d, dtype=np.int64)
    rows = [row for g in blocks for row in g.reshape(len(g), -1)]
    for b, row in enumerate(rows):
        block_of[row] = b
    h = 1e-5
    for j in range(model.d):
        step = np.zeros_like(y)
        step[:, j] = h
        ds = (model.score(y + step, alpha_bar) - model.score(y - step, alpha_bar)) / (2 * h)
        others = block_of != block_of[j]
        assert np.max(np.abs(ds[:, others])) <= FD_ATOL, (name, j)
    s = model.score(y, alpha_bar)
    for g in blocks:  # a copy's score at the same block values is the same function
        g = g.reshape(len(g), -1)
        moved = y.copy()
        for row in g[1:]:
            moved[:, row] = y[:, g[0]]
        s_moved = model.score(moved, alpha_bar)
        for row in g[1:]:
            np.testing.assert_allclose(s_moved[:, row], s[:, g[0]], rtol=1e-12, atol=1e-12)
