"""The grid oracle of one-dimensional blocks (simulate/oracle.py): the Gaussian closed form of
simulate.exact to 1e-8, the grid's own error by refinement, and the numba samplers' Monte Carlo
on three non-Gaussian models (box, spike-and-slab, a two-component Gaussian mixture).

Not covered: data with point masses whose score is stiff on the grid's scale (the example's
cube corners: tanh(a x / v) switches over v / a = 0.012 at t = 2, below a spacing of 0.01);
there the quadrature loses mass and the refinement test would fail."""

import functools
import math

import numpy as np
import pytest

from simulate import exact, metrics, models, oracle, samplers, schedules
from simulate._kernels.oracle import _smooth_gaussian_1d, _smooth_gaussian_1d_serial
from tests import reference

SCHEDULE = schedules.linear(50)
#: [-10, 10] holds the samplers' mass (lost_mass below LOST_MASS_ATOL is checked), spacing 0.01.
GRID = oracle.Grid(-10.0, 10.0, 2001)
#: |1 - int p| on the grid: the DDIM read-out from moving nodes that spread apart between
#: well-separated modes (measured 1.9e-6 for the mixture; 1e-14 for the stochastic samplers).
LOST_MASS_ATOL = 1e-5
#: The closed form of the issue: KL to 1e-8 relative.
GAUSSIAN_RTOL = 1e-8
#: W2 from quantile functions on the grid: O(h^2) = 1e-4 of the spread.
W2_RTOL = 1e-3
#: Change of KL when the grid is refined, relative: the oracle's accuracy at spacing 0.01 on
#: these models (measured: 5e-6 or less for the stochastic samplers, 9e-5 for DDIM on the
#: mixture).
SPACING_RTOL = 1e-4
#: Kernel vs its dense twin, relative to the largest value: a recurrence re-anchored every
#: 64 nodes against one exponential per term (measured 3e-14).
TWIN_RTOL = 1e-13
#: The same node by node where the value exceeds 1e-20 of the largest: z = (x - m) / c loses
#: |x| ulp / c to cancellation in either computation, so at c = 1e-3 the terms exp(-z^2 / 2)
#: with z ~ 10 agree to ~1e-11 only (measured 1.4e-11; 7e-14 for c >= 0.05).
TWIN_NODE_RTOL = 1e-10
#: Monte Carlo band: Bonferroni over 3 models x 3 samplers x 11 statistics at level 1e-3.
K_SE = 4.5


NON_GAUSSIAN = {
    "box": lambda: models.Box(2, 1),
    "spike_slab": lambda: models.SpikeSlab(2, 0.3),
    # two components +-1.5 apart in coordinate 0, the same N(0, 1) in coordinate 1: a product
    "mixture": lambda: models.GaussianMixture(
        np.array([[-1.5, 0.0], [1.5, 0.0]]), np.array([[0.3, 1.0], [0.3, 1.0]])
    ),
}


@functools.cache
def _laws(name: str, sampler: str, n: int = GRID.n) -> oracle.BlockLaws:
    """The oracle of a model's block coordinate (cached: shared by the tests below)."""
    f = oracle.coordinate_score(NON_GAUSSIAN[name](), 0)
    return oracle.block_laws(f, SCHEDULE, sampler, oracle.Grid(GRID.lo, GRID.hi, n))


@pytest.mark.parametrize("c", [1e-3, 0.05, 0.3, 3.0])
def test_stochastic_step_kernel_matches_its_twin_serial_and_parallel(c: float) -> None:
    """One stochastic step of the oracle: the kernel (a recurrence along the nodes, cut where
    a term falls below 1e-60 of its source's peak) against the dense NumPy quadrature, and its
    parallel build against the serial one bit for bit. c = 1e-3 is below the spacing; c = 3
    spans the grid (the longest recurrences); some sources lie outside the grid."""
    rng = np.random.default_rng(7)
    y = GRID.nodes
    w = GRID.h * np.exp(-0.5 * y * y) * rng.random(y.size)
    m = 1.1 * y + 0.2 * rng.standard_normal(y.size)
    got, serial = np.zeros_like(y), np.zeros_like(y)
    _smooth_gaussian_1d(w, m, c, GRID.lo, GRID.h, 8, got)
    _smooth_gaussian_1d_serial(w, m, c, GRID.lo, GRID.h, 8, serial)
    assert np.array_equal(got, serial)
    want = reference.smooth_gaussian_1d(w, m, c, GRID.lo, GRID.h, GRID.n)
    assert np.max(np.abs(got - want)) <= TWIN_RTOL * np.max(np.abs(want))
    big = want > 1e-20 * np.max(want)
    np.testing.assert_allclose(got[big], want[big], rtol=TWIN_NODE_RTOL)


@pytest.mark.parametrize("sampler", samplers.VARIANCES)
def test_gaussian_block_matches_the_closed_form(sampler) -> None:
    model = models.SubspaceGaussian(1, 1, mean=[0.5], cov=[2.0])
    target, law = exact.target_law(model, SCHEDULE), exact.output_law(model, SCHEDULE, sampler)
    laws = oracle.block_laws(
        oracle.coordinate_score(model, 0), SCHEDULE, sampler, oracle.Grid(-12, 12, 2001)
    )
    assert laws.kl == pytest.approx(metrics.kl_gaussian(target, law), rel=GAUSSIAN_RTOL)
    assert laws.w2 == pytest.approx(metrics.w2_gaussian(target, law), rel=W2_RTOL)
    assert laws.moment(1) == pytest.approx(float(law.mean[0]), rel=1e-10)
    assert abs(laws.lost_mass) < LOST_MASS_ATOL


#: Halving the spacing of a stochastic sampler's grid costs 4x its dense quadrature (about 6 s
#: each): one representative runs by default, the rest with --runslow; DDIM's is cheap.
HALVING_CASES = [
    pytest.param(name, sampler, marks=() if cheap else pytest.mark.slow)
    for name in NON_GAUSSIAN
    for sampler in samplers.VARIANCES
    for cheap in [sampler == "ddim" or (name, sampler) == ("spike_slab", "posterior")]
]


@pytest.mark.parametrize(("name", "sampler"), HALVING_CASES)
def test_halving_the_spacing_changes_little(name, sampler) -> None:
    coarse, fine = _laws(name, sampler), _laws(name, sampler, 2 * GRID.n - 1)
    assert abs(coarse.lost_mass) < LOST_MASS_ATOL and abs(fine.lost_mass) < LOST_MASS_ATOL
    assert fine.kl > 0
    assert abs(fine.kl - coarse.kl) <= SPACING_RTOL * fine.kl, (coarse.kl, fine.kl)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NON_GAUSSIAN))
@pytest.mark.parametrize("sampler", samplers.VARIANCES)
def test_refinement_bounds_the_grid_error(name, sampler) -> None:
    """Half the spacing and twice the width (simulate.oracle.refinement)."""
    kl, change = oracle.refinement(
        oracle.coordinate_score(NON_GAUSSIAN[name](), 0), SCHEDULE, sampler, GRID
    )
    assert change <= SPACING_RTOL * kl, (kl, change)


@pytest.mark.parametrize("name", list(NON_GAUSSIAN))
@pytest.mark.parametrize("sampler", samplers.VARIANCES)
def test_numba_samplers_follow_the_oracle(name, sampler) -> None:
    """Moments within K_SE standard errors and the CDF at 9 quantiles within
    K_SE sqrt(F (1 - F) / n), for the block coordinate of the d = 2 model."""
    laws = _laws(name, sampler)
    y = samplers.sample(NON_GAUSSIAN[name](), SCHEDULE, 100_000, seed=3, sampler=sampler)[:, 0]
    n = y.size
    for k in (1, 2):
        z = (np.mean(y**k) - laws.moment(k)) / (np.std(y**k, ddof=1) / math.sqrt(n))
        assert abs(z) <= K_SE, (k, z)
    x = np.quantile(y, np.linspace(0.1, 0.9, 9))
    F = laws.cdf(x)
    Fn = np.searchsorted(np.sort(y), x, side="right") / n
    z = (Fn - F) / np.sqrt(F * (1 - F) / n)
    assert np.max(np.abs(z)) <= K_SE, z


@pytest.mark.parametrize("sampler", ["beta", "posterior"])
def test_step_memo_returns_what_recomputing_gives(sampler) -> None:
    """A memo hit (the same block score at every node and level) is bit-identical to the law
    propagated afresh; a block whose score differs anywhere (box [0, 1] vs [0, 2]) misses."""
    sch = schedules.li(20, 2, 4)
    f = oracle.coordinate_score(models.Box(3, 1), 0)  # the same block law at d = 3 and d = 7
    g = oracle.coordinate_score(models.Box(7, 1), 0)
    oracle.STEP_MEMO.clear()
    first = oracle.block_laws(f, sch, sampler, GRID, 2)
    hit = oracle.block_laws(g, sch, sampler, GRID, 2)
    assert (oracle.STEP_MEMO.hits, oracle.STEP_MEMO.misses) == (1, 1)
    oracle.STEP_MEMO.clear()
    fresh = oracle.block_laws(g, sch, sampler, GRID, 2)
    assert oracle.STEP_MEMO.misses == 1
    np.testing.assert_array_equal(hit.p, fresh.p)
    np.testing.assert_array_equal(first.p, fresh.p)
    wide = oracle.coordinate_score(models.Box(3, 1, high=2.0), 0)
    oracle.block_laws(wide, sch, sampler, GRID, 2)
    assert (oracle.STEP_MEMO.hits, oracle.STEP_MEMO.misses) == (0, 2)
    oracle.STEP_MEMO.clear()
