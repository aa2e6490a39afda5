"""The data-model catalogue (SCIENCE.md 4): scores against finite differences of independently
computed log-densities, kernels against NumPy/SciPy twins, Tweedie consistency, moments,
finite scores over alpha_bar in [1e-12, 1 - 1e-12], fused vs batch sampling, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate import models, samplers, schedules
from simulate.models.base import score_from_denoiser
from tests import reference as ref

#: Finite differences: 4th-order stencil with h = FD_STEP sqrt(v). Every log q_t here has
#: length scales >= sqrt(v) (noise variance v is added to every direction), so truncation is
#: about FD_STEP^4 = 1e-12 relative; round-off and quadrature error in log q_t (<= 1e-12
#: absolute) divided by h give <= 1e-8 relative to |score| ~ |x| / v for the points drawn.
FD_STEP = 1e-3
FD_RTOL = 1e-6
#: Kernel vs twin (same formula, different algebra: dense solves, logaddexp, scipy ive):
#: a few hundred ulps of the condition number of the posterior weights.
TWIN_RTOL = 1e-9
#: Moment bands: K_SE standard errors (STYLE.md: k >= 4); with about 100 comparisons at fixed
#: seeds, 5 standard errors give a family-wise false-alarm rate below 1e-4.
K_SE = 5.0
#: alpha_bar drawn for finite-difference checks: near 0 and near 1 within the range where a
#: finite difference can still resolve log q_t in float64 (h = 1e-3 sqrt(v) > 1e-6 |x|).
FD_ALPHA_BAR = st.one_of(st.sampled_from([1e-3, 0.5, 1.0 - 1e-4]), st.floats(1e-3, 1.0 - 1e-4))
#: alpha_bar sweep of the finiteness check (the issue's range).
EXTREME_ALPHA_BAR = (1e-12, 1e-8, 1e-4, 0.5, 1.0 - 1e-4, 1.0 - 1e-8, 1.0 - 1e-12)

HYP = settings(max_examples=12, deadline=None, derandomize=True)


def noised(model: models.DataModel, n: int, alpha_bar: float, seed: int) -> np.ndarray:
    """n draws of q_t: a X_0 + sqrt(v) W."""
    x0 = model.sample(n, seed=seed)
    z = np.random.default_rng(seed + 1).standard_normal(x0.shape)
    return math.sqrt(alpha_bar) * x0 + math.sqrt(1.0 - alpha_bar) * z


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (row-block relative error)."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def check_fd(model: models.DataModel, log_density, alpha_bar: float, seed: int, n: int = 2):
    """score == FD gradient of log q_t at n points of q_t; returns the max relative error.

    The error is relative to max(|score|_inf, 1 / sqrt(v)): 1 / sqrt(v) is the unit of the
    score (that of the noise alone, -z / sqrt(v)), so points where the score is itself ~ 0
    (inside a box, at a mode) are judged on that scale rather than on 0.
    """
    x = noised(model, n, alpha_bar, seed)
    score = model.score(x, alpha_bar)
    h = FD_STEP * math.sqrt(1.0 - alpha_bar)
    unit = 1.0 / math.sqrt(1.0 - alpha_bar)
    worst = 0.0
    for i in range(n):
        fd = ref.fd_gradient(lambda y: log_density(y, alpha_bar), x[i], h)
        scale = max(float(np.max(np.abs(score[i]))), unit)
        worst = max(worst, float(np.max(np.abs(score[i] - fd))) / scale)
    assert worst < FD_RTOL, (model.name, alpha_bar, worst)
    return worst


# -- a small catalogue shared by the parametrized tests -----------------------------------------


def _catalogue() -> dict[str, models.DataModel]:
    rng = np.random.default_rng(7)
    cov = rng.standard_normal((2, 3, 3))
    return {
        "gaussian_mixture": models.GaussianMixture(
            rng.standard_normal((2, 3)) * 2, covs=cov @ cov.transpose(0, 2, 1), weights=[0.3, 0.7]
        ),
        "lowrank_mixture": models.LowRankMixture.random(5, 2, n_components=3, seed=1),
        "spike_slab": models.SpikeSlab(6, 0.3, 1.5),
        "random_support": models.RandomSupportSparse(7, 3, 1.2),
        "sphere": models.Sphere(5, 3, 2.0),
        "torus": models.Torus(5, [1.0, 0.5]),
        "box": models.Box(4, 3, -1.0, [1.0, 2.0, 0.5]),
        "paper_toy": models.PaperToy3D(),
        "empirical": models.Empirical(rng.standard_normal((15, 4))),
        "digits": models.Digits(),
        "rotated_sphere": models.Rotated(models.Sphere(4, 3, 1.5), seed=2),
        "rotated_random_support": models.Rotated(models.RandomSupportSparse(5, 2), seed=3),
        "subspace_gaussian": models.SubspaceGaussian(6, 2, cov=[2.0, 0.5]),
    }


CATALOGUE = _catalogue()


# -- finite differences of independent log-densities --------------------------------------------


@HYP
@given(
    n_comp=st.integers(1, 3), d=st.integers(1, 4), alpha_bar=FD_ALPHA_BAR, seed=st.integers(0, 99)
)
def test_gaussian_mixture_score_matches_fd(n_comp, d, alpha_bar, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n_comp, d, d))
    covs = g @ g.transpose(0, 2, 1) + 0.1 * np.eye(d)
    w = rng.dirichlet(np.ones(n_comp))
    means = 2.0 * rng.standard_normal((n_comp, d))
    m = models.GaussianMixture(means, covs, w)
    check_fd(m, lambda y, ab: ref.mixture_log_density(means, covs, w, y, ab), alpha_bar, seed)


@HYP
@given(d=st.integers(2, 5), r=st.integers(0, 2), alpha_bar=FD_ALPHA_BAR, seed=st.integers(0, 99))
def test_lowrank_mixture_score_matches_fd(d, r, alpha_bar, seed):
    r = min(r, d - 1)
    rng = np.random.default_rng(seed)
    bases = np.stack([np.linalg.qr(rng.standard_normal((d, d)))[0][:, :r] for _ in range(3)])
    lams = rng.uniform(0.2, 3.0, (3, r))
    means = rng.standard_normal((3, d))
    m = models.LowRankMixture(means, bases, lams, [0.2, 0.5, 0.3])
    covs = ref.mixture_full_covs(means, bases, lams)
    check_fd(
        m, lambda y, ab: ref.mixture_log_density(means, covs, m.weights, y, ab), alpha_bar, seed
    )


@HYP
@given(
    d=st.integers(1, 6),
    rho=st.sampled_from([0.0, 0.05, 0.5, 1.0]) | st.floats(0.0, 1.0),
    tau=st.floats(0.1, 5.0),
    alpha_bar=FD_ALPHA_BAR,
    seed=st.integers(0, 99),
)
def test_spike_slab_score_matches_fd(d, rho, tau, alpha_bar, seed):
    m = models.SpikeSlab(d, rho, tau)
    check_fd(m, lambda y, ab: ref.spike_slab_log_density(rho, tau, y, ab), alpha_bar, seed)


@HYP
@given(d=st.integers(1, 8), data=st.data(), alpha_bar=FD_ALPHA_BAR, seed=st.integers(0, 99))
def test_random_support_score_matches_enumeration_fd(d, data, alpha_bar, seed):
    s = data.draw(st.integers(1, d))
    m = models.RandomSupportSparse(d, s, 1.3)
    check_fd(m, lambda y, ab: ref.random_support_enumerate(s, 1.3, y, ab)[0], alpha_bar, seed)


@HYP
@given(d=st.integers(1, 5), data=st.data(), alpha_bar=FD_ALPHA_BAR, seed=st.integers(0, 99))
def test_sphere_score_matches_quadrature_fd(d, data, alpha_bar, seed):
    k = data.draw(st.integers(1, d))
    radius = data.draw(st.floats(0.2, 3.0))
    m = models.Sphere(d, k, radius)
    blocks = [(0, k, radius)]
    check_fd(m, lambda y, ab: ref.sphere_product_log_density(blocks, y, ab), alpha_bar, seed)


@HYP
@given(
    m_circles=st.integers(1, 2),
    extra=st.integers(0, 2),
    alpha_bar=FD_ALPHA_BAR,
    seed=st.integers(0, 99),
)
def test_torus_score_matches_quadrature_fd(m_circles, extra, alpha_bar, seed):
    radii = np.random.default_rng(seed).uniform(0.3, 2.0, m_circles)
    m = models.Torus(2 * m_circles + extra, radii)
    blocks = [(2 * c, 2, float(radii[c])) for c in range(m_circles)]
    check_fd(m, lambda y, ab: ref.sphere_product_log_density(blocks, y, ab), alpha_bar, seed)


@HYP
@given(d=st.integers(1, 5), data=st.data(), alpha_bar=FD_ALPHA_BAR, seed=st.integers(0, 99))
def test_box_score_matches_fd(d, data, alpha_bar, seed):
    k = data.draw(st.integers(1, d))
    rng = np.random.default_rng(seed)
    low = rng.uniform(-2.0, 1.0, k)
    high = low + rng.uniform(0.05, 3.0, k)
    m = models.Box(d, k, low, high)
    check_fd(m, lambda y, ab: ref.box_log_density(low, high, y, ab), alpha_bar, seed)


@pytest.mark.parametrize("alpha_bar", [1e-3, 0.5, 0.99, 1.0 - 1e-4])
def test_paper_toy_and_empirical_scores_match_fd(alpha_bar):
    toy = CATALOGUE["paper_toy"]
    covs = ref.mixture_full_covs(toy.means, toy.bases, toy.lams)
    check_fd(
        toy,
        lambda y, ab: ref.mixture_log_density(toy.means, covs, toy.weights, y, ab),
        alpha_bar,
        3,
    )
    emp = CATALOGUE["empirical"]
    check_fd(emp, lambda y, ab: ref.empirical_log_density(emp.points, y, ab), alpha_bar, 4)


@pytest.mark.parametrize("alpha_bar", [1e-3, 0.7, 1.0 - 1e-4])
def test_rotated_score_matches_fd(alpha_bar):
    rot = CATALOGUE["rotated_sphere"]
    blocks = [(0, 3, 1.5)]
    check_fd(
        rot, lambda y, ab: ref.sphere_product_log_density(blocks, rot.Q.T @ y, ab), alpha_bar, 5
    )
    rot2 = CATALOGUE["rotated_random_support"]
    check_fd(
        rot2, lambda y, ab: ref.random_support_enumerate(2, 1.0, rot2.Q.T @ y, ab)[0], alpha_bar, 6
    )


def test_digits_score_matches_fd():
    dig = CATALOGUE["digits"]
    pts = dig.points[::60]  # FD on the full set costs 4 * 64 log-sum-exps of 1797 terms: fine
    sub = models.Empirical(pts)
    check_fd(sub, lambda y, ab: ref.empirical_log_density(pts, y, ab), 0.9, 7, n=1)
    check_fd(dig, lambda y, ab: ref.empirical_log_density(dig.points, y, ab), 0.5, 8, n=1)


# -- kernels vs twins and Tweedie consistency ---------------------------------------------------


def _twin(name: str, model, x: np.ndarray, alpha_bar: float):
    """(score, denoiser) of the independent twin for catalogue entry ``name``."""
    if name in ("empirical", "digits"):
        return ref.empirical_score_denoiser(model.points, x, alpha_bar)
    if name in ("gaussian_mixture", "lowrank_mixture", "paper_toy"):
        covs = ref.mixture_full_covs(model.means, model.bases, model.lams)
        return ref.mixture_score_denoiser(model.means, covs, model.weights, x, alpha_bar)
    if name == "spike_slab":
        return ref.spike_slab_score_denoiser(model.rho, model.tau, x, alpha_bar)
    if name == "random_support":
        incl = np.array(
            [ref.random_support_enumerate(model.s, model.tau, row, alpha_bar)[1] for row in x]
        )
        v = 1.0 - alpha_bar
        v1 = alpha_bar * model.tau**2 + v
        den = incl * math.sqrt(alpha_bar) * model.tau**2 / v1 * x
        return score_from_denoiser(x, den, alpha_bar), den
    if name in ("sphere", "torus"):
        blocks = list(zip(model._starts, model._sizes, model._radii, strict=True))
        return ref.sphere_product_score_denoiser(blocks, x, alpha_bar)
    if name == "box":
        den = ref.box_denoiser(model.low, model.high, x, alpha_bar)
        return score_from_denoiser(x, den, alpha_bar), den
    if name.startswith("rotated_"):
        inner = name.removeprefix("rotated_")
        s, den = _twin(inner, model.inner, x @ model.Q, alpha_bar)
        return s @ model.Q.T, den @ model.Q.T
    if name == "subspace_gaussian":
        lam = np.zeros(model.d)
        lam[: model.k] = model.lam
        covs = np.diag(lam)[None]
        return ref.mixture_score_denoiser(np.zeros((1, model.d)), covs, np.ones(1), x, alpha_bar)
    raise KeyError(name)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest.mark.parametrize("alpha_bar", [0.02, 0.5, 0.95])
def test_score_and_denoiser_match_twins_and_tweedie(name, alpha_bar):
    model = CATALOGUE[name]
    x = noised(model, 6, alpha_bar, 11)
    score = model.score(x, alpha_bar)
    den = model.denoiser(x, alpha_bar)
    twin_score, twin_den = _twin(name, model, x, alpha_bar)
    assert max_rel(score, twin_score) < TWIN_RTOL
    assert max_rel(den, twin_den) < TWIN_RTOL
    # Tweedie (SCIENCE.md 2): the kernel's score against the twin's denoiser
    assert max_rel(score, score_from_denoiser(x, twin_den, alpha_bar)) < TWIN_RTOL


# -- moments -------------------------------------------------------------------------------------


def assert_mean_within(samples: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> None:
    """Sample mean of each column within K_SE standard errors sd / sqrt(n) of ``mean``."""
    n = samples.shape[0]
    se = np.maximum(sd, 1e-300) / math.sqrt(n)
    z = np.abs(samples.mean(axis=0) - mean) / se
    assert np.all(z < K_SE) or np.all(np.abs(samples.mean(axis=0) - mean) == 0), z.max()


N_MOMENTS = 20_000


def test_moments_mixtures():
    m = CATALOGUE["gaussian_mixture"]
    x = m.sample(N_MOMENTS, seed=1)
    covs = ref.mixture_full_covs(m.means, m.bases, m.lams)
    mean = m.weights @ m.means
    second = np.einsum("j,jde->de", m.weights, covs + m.means[:, :, None] * m.means[:, None, :])
    cov = second - np.outer(mean, mean)
    assert_mean_within(x, mean, np.sqrt(np.diag(cov)))
    # second moments E[x_i x_j]: sd of the product estimated from the samples themselves
    prod = (x[:, :, None] * x[:, None, :]).reshape(N_MOMENTS, -1)
    assert_mean_within(prod, second.ravel(), prod.std(axis=0))
    toy = CATALOGUE["paper_toy"]
    y = toy.sample(N_MOMENTS, seed=2)
    assert np.all(y[:, 0] == 0.0)
    var_yz = toy.ring_radius**2 / 2 + toy.std**2
    assert_mean_within(y[:, 1:] ** 2, np.full(2, var_yz), (y[:, 1:] ** 2).std(axis=0))


def test_moments_sparse():
    ss = models.SpikeSlab(10, 0.2, 2.0)
    x = ss.sample(N_MOMENTS, seed=3)
    nz = (x != 0).astype(float)
    assert_mean_within(nz, np.full(10, 0.2), np.full(10, math.sqrt(0.2 * 0.8)))
    var = 0.2 * 4.0
    assert_mean_within(x**2, np.full(10, var), np.full(10, math.sqrt(0.2 * 3 * 16 - var**2)))
    rs = models.RandomSupportSparse(10, 3, 2.0)
    x = rs.sample(N_MOMENTS, seed=4)
    assert np.all(np.count_nonzero(x, axis=1) == 3)
    p = 0.3
    assert_mean_within((x != 0).astype(float), np.full(10, p), np.full(10, math.sqrt(p * (1 - p))))
    assert_mean_within(x**2, np.full(10, p * 4.0), np.full(10, math.sqrt(p * 48 - (p * 4) ** 2)))


def test_moments_manifolds():
    sph = models.Sphere(6, 4, 2.5)
    x = sph.sample(N_MOMENTS, seed=5)
    np.testing.assert_allclose(np.linalg.norm(x[:, :4], axis=1), 2.5, rtol=1e-14)
    assert np.all(x[:, 4:] == 0)
    # E u_i^2 = R^2 / k; Var u_i^2 = R^4 (E th^4 - 1/k^2), E th_i^4 = 3 / (k (k + 2))
    k, r2 = 4, 6.25
    sd = math.sqrt(r2**2 * (3 / (k * (k + 2)) - 1 / k**2))
    assert_mean_within(x[:, :4] ** 2, np.full(4, r2 / k), np.full(4, sd))
    assert_mean_within(x[:, :4], np.zeros(4), np.full(4, math.sqrt(r2 / k)))
    tor = models.Torus(5, [1.0, 3.0])
    y = tor.sample(N_MOMENTS, seed=6)
    np.testing.assert_allclose(np.linalg.norm(y[:, :2], axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(y[:, 2:4], axis=1), 3.0, rtol=1e-14)
    box = CATALOGUE["box"]
    z = box.sample(N_MOMENTS, seed=7)
    assert np.all((z[:, :3] >= box.low) & (z[:, :3] <= box.high))
    width = box.high - box.low
    assert_mean_within(z[:, :3], (box.low + box.high) / 2, width / math.sqrt(12))


def test_moments_empirical_and_rotated():
    emp = CATALOGUE["empirical"]
    x = emp.sample(N_MOMENTS, seed=8)
    assert_mean_within(x, emp.points.mean(axis=0), emp.points.std(axis=0))
    dig = CATALOGUE["digits"]
    assert dig.points.shape == (1797, 64)
    assert dig.points.min() == 0.0 and dig.points.max() == 1.0
    rot = CATALOGUE["rotated_sphere"]
    y = rot.sample(N_MOMENTS, seed=9)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.5, rtol=1e-12)
    cov_inner = np.zeros((4, 4))
    cov_inner[:3, :3] = np.eye(3) * 1.5**2 / 3
    cov = rot.Q @ cov_inner @ rot.Q.T
    assert_mean_within(y, np.zeros(4), np.sqrt(np.diag(cov)))


# -- finite everywhere ---------------------------------------------------------------------------


def _large_models() -> list[models.DataModel]:
    d = 10_000
    rng = np.random.default_rng(0)
    return [
        models.SpikeSlab(d, 0.01, 2.0),
        models.RandomSupportSparse(d, 50, 1.0),
        models.Sphere(d, 50, 3.0),
        models.Sphere(d, d, 1.0),
        models.Torus(d, 20),
        models.Box(d, 30, -1.0, 1.0),
        models.LowRankMixture.random(d, 3, n_components=2, seed=0),
        models.Empirical(rng.standard_normal((5, d))),
        models.GaussianMixture(rng.standard_normal((2, 50)), covs=np.ones((2, 50))),
        models.Rotated(models.Sphere(300, 5), seed=1),
        CATALOGUE["digits"],
        CATALOGUE["paper_toy"],
    ]


def test_scores_finite_for_extreme_alpha_bar_and_large_d():
    for model in _large_models():
        for alpha_bar in EXTREME_ALPHA_BAR:
            x = noised(model, 3, alpha_bar, 12)
            x = np.vstack([x, np.zeros(model.d), np.full(model.d, 50.0)])
            s = model.score(x, alpha_bar)
            den = model.denoiser(x, alpha_bar)
            assert np.all(np.isfinite(s)), (model.name, alpha_bar)
            assert np.all(np.isfinite(den)), (model.name, alpha_bar)


# -- fused vs batch sampling ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_fused_and_batch_sampling_identical(name):
    model = CATALOGUE[name]
    sch = schedules.li(20)
    for variance in ("beta", "posterior", "ddim"):
        fused = samplers.sample(model, sch, 17, seed=5, sampler=variance, method="fused")
        batch = samplers.sample(model, sch, 17, seed=5, sampler=variance, method="batch")
        assert np.array_equal(fused, batch), (name, variance)


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: models.RandomSupportSparse(5, 6), "s=6 is out of range"),
        (lambda: models.RandomSupportSparse(5, 0), "s=0 is out of range"),
        (lambda: models.Sphere(3, 4), "k=4 is out of range"),
        (lambda: models.Box(3, 4), "k=4 is out of range"),
        (
            lambda: models.SpikeSlab(3, 1.5),
            r"rho=1.5 is out of range; allowed: real in \[0.0, 1.0\]",
        ),
        (lambda: models.SpikeSlab(3, -0.1), "rho=-0.1 is out of range"),
        (lambda: models.SpikeSlab(3, 0.5, tau=0.0), "tau=0.0 is out of range"),
        (lambda: models.RandomSupportSparse(3, 1, tau=-1.0), "tau=-1.0 is out of range"),
        (lambda: models.Sphere(3, 2, radius=0.0), "radius=0.0 is out of range"),
        (lambda: models.Torus(3, 2), "circles=2 is out of range"),
        (lambda: models.Torus(6, [1.0, -1.0]), "radii"),
        (lambda: models.Box(3, 2, [0.0, 1.0], [1.0, 1.0]), r"low\[1\]=1 >= high\[1\]=1"),
        (lambda: models.GaussianMixture(np.zeros((2, 2)), weights=[1.2, -0.2]), "non-negative"),
        (lambda: models.GaussianMixture(np.zeros((2, 2)), weights=[0.5, 0.6]), "sum to 1"),
        (
            lambda: models.GaussianMixture(np.zeros((1, 2)), covs=[[[1.0, 0.5], [0.0, 1.0]]]),
            "symmetric",
        ),
        (
            lambda: models.GaussianMixture(np.zeros((1, 2)), covs=[[[1.0, 2.0], [2.0, 1.0]]]),
            "positive semidefinite",
        ),
        (lambda: models.LowRankMixture(np.zeros((1, 2)), np.ones((1, 2, 1))), "orthonormal"),
        (lambda: models.Empirical([[0.0, np.nan]]), "non-finite"),
        (lambda: models.Digits(low=1.0, high=0.0), "low must be < high"),
    ],
)
def test_bad_input_is_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("alpha_bar", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_alpha_bar_outside_open_interval_is_rejected(alpha_bar):
    model = CATALOGUE["sphere"]
    x = np.zeros((1, model.d))
    with pytest.raises(ValueError, match="alpha_bar"):
        model.score(x, alpha_bar)
    with pytest.raises(ValueError, match="alpha_bar"):
        model.denoiser(x, alpha_bar)


def test_points_with_nan_are_rejected():
    model = CATALOGUE["random_support"]
    x = np.zeros((2, model.d))
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        model.score(x, 0.5)
