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


def test_start_kl_of_a_one_component_mixture_is_the_gaussian_closed_form() -> None:
    """KL(q_T || N(0, I)) = KL(G || N(0, I)) + KL(q_T || G) (G: q_T's Gaussian of equal mean
    and covariance): a one-component mixture is G itself, so the Monte Carlo term is 0 up to
    rounding and the value is the Gaussian model's closed form."""
    from simulate import models, schedules

    mean, lam = np.array([0.5, -1.0, 0.0, 0.0]), np.array([2.0, 0.3])
    gauss = models.SubspaceGaussian(4, 2, mean=mean[:2], cov=lam)
    basis = np.eye(4)[:, :2][None]
    mixture = models.LowRankMixture(mean[None], basis, lam[None])
    for sch in (schedules.li(20), schedules.li_paper(20)):
        exact_kl = divergences.start_kl(gauss, sch)
        mc = divergences.start_kl(mixture, sch, n=500, seed=3)
        assert exact_kl.se == 0.0
        # log q_T - log G is rounding here: a few ulps of terms of size ~10 (4 coordinates)
        assert mc.value == pytest.approx(exact_kl.value, rel=1e-9, abs=1e-12)
        assert mc.se < 1e-12


def test_start_kl_of_a_two_point_law_matches_quadrature() -> None:
    """q_T of the law (delta_{-1} + delta_{1}) / 2 on li_paper(20) (abar_T = 0.93) is a
    two-bump mixture far from Gaussian: the estimate is within 4 SE of KL(q_T || N(0, 1))
    by quadrature on a fine grid (trapezoid error far below the SE)."""
    from simulate import models, schedules

    sch = schedules.li_paper(20)
    abar, v = float(sch.alpha_bar[-1]), float(sch.v[-1])
    x = np.linspace(-12.0, 12.0, 400_001)
    q = 0.5 * (np.exp(-((x - np.sqrt(abar)) ** 2) / (2 * v)) +
               np.exp(-((x + np.sqrt(abar)) ** 2) / (2 * v))) / np.sqrt(2 * np.pi * v)  # fmt: skip
    log_n = -0.5 * x * x - 0.5 * np.log(2 * np.pi)
    integrand = np.where(q > 0, q * (np.log(np.maximum(q, 1e-300)) - log_n), 0.0)
    truth = float(np.trapezoid(integrand, x))
    est = divergences.start_kl(models.Empirical(np.array([[-1.0], [1.0]])), sch, n=4000, seed=0)
    assert 0 < est.se < 0.05 and abs(est.value - truth) <= 4 * est.se
    with pytest.raises(TypeError, match="start_kl needs"):
        divergences.start_kl(object(), sch)
