"""Sample divergences (simulate/divergences.py): PRDC against the authors' package prdc,
MMD^2 and energy distance against direct O(m^2) formulas, and their behaviour (zero in
expectation for equal laws, positive and many SE away for different laws)."""

import contextlib
import io

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from simulate import divergences

#: U-statistics by blocks versus one dense matrix: the same sums in another order.
SUM_RTOL = 1e-10
#: PRDC counts points; distances computed by another routine may put one point on the other
#: side of a ball's boundary (observed: identical values).
ONE_POINT = 1.0 / 500


def test_prdc_equals_the_reference_package() -> None:
    prdc_pkg = pytest.importorskip("prdc")  # a test extra: the authors' implementation
    rng = np.random.default_rng(0)
    real = rng.standard_normal((600, 8))
    fake = 1.3 * rng.standard_normal((500, 8)) + 0.2
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints its sample sizes
        want = prdc_pkg.compute_prdc(real, fake, nearest_k=5)
    got = divergences.prdc(real, fake, k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == pytest.approx(float(want[key]), abs=ONE_POINT), key


def _dense_ustat(x, y, kernel):
    m = x.shape[0]
    h = kernel(cdist(x, x)) + kernel(cdist(y, y)) - kernel(cdist(x, y)) - kernel(cdist(y, x))
    np.fill_diagonal(h, 0.0)
    return h.sum() / (m * (m - 1))


def test_mmd_and_energy_match_dense_formulas() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((300, 3)), rng.standard_normal((300, 3)) + 0.5
    bw = divergences.median_bandwidth(x, y)
    want = _dense_ustat(x, y, lambda r: np.exp(-(r * r) / (2 * bw * bw)))
    assert divergences.mmd2(x, y).value == pytest.approx(want, rel=SUM_RTOL)
    assert divergences.energy(x, y).value == pytest.approx(
        _dense_ustat(x, y, lambda r: -r), rel=SUM_RTOL
    )


def test_equal_laws_sit_at_the_noise_floor_and_different_laws_do_not() -> None:
    """k = 4 standard errors: different laws are far above zero; equal laws' values over
    replicates average to ~0 within 4 SE of that average (the U-statistics are unbiased)."""
    shifted = divergences.mmd2(
        np.random.default_rng(2).standard_normal((800, 4)),
        np.random.default_rng(3).standard_normal((800, 4)) + 0.4,
    )
    assert shifted.value > 4 * shifted.se
    floor = divergences.noise_floor(
        lambda m, rng: rng.standard_normal((m, 4)), 400, divergences.energy, replicates=8
    )
    values = np.array([e.value for e in floor])
    assert abs(values.mean()) <= 4 * values.std(ddof=1) / np.sqrt(values.size)


def test_bad_input() -> None:
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="a has width 2, b has 3"):
        divergences.mmd2(x, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="same number m >= 2 of points"):
        divergences.energy(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="k=5 is out of range"):
        divergences.prdc(x, x, k=5)
