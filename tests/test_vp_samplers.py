"""VP-SDE schedules and their samplers (issue 12): EM, EI, ancestral, and Euler / Heun / RK4
on the probability-flow ODE. Kernel against the NumPy twin, fused against batch, serial against
parallel, exact law against its twin and against Monte Carlo, NFE, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulate import estimators, exact, metrics, models, samplers, schedules
from tests import reference

#: Kernel and twin: the same schemes in a different arithmetic order over <= 30 steps.
TWIN_RTOL = 1e-11
#: Exact law against the scalar twin: the same affine maps composed in another order.
LAW_RTOL = 1e-10
#: Monte Carlo bands are K_SE standard errors (STYLE.md: k >= 4), for each of 2 moments of
#: each coordinate.
K_SE = 4.0
SAMPLERS = samplers.CONTINUOUS_SAMPLERS
BETA_MIN, BETA_MAX, N, EPS = 0.1, 20.0, 30, 1e-2


@pytest.fixture(scope="module")
def rotated():
    return models.SubspaceGaussian(
        5, 2, rotate=True, mean=[1.0, -0.5], cov=[[2.0, 0.3], [0.3, 0.5]], seed=4
    )


@pytest.fixture(scope="module")
def aligned():
    return models.SubspaceGaussian(4, 2, mean=[0.7, -0.2], cov=[2.0, 0.25])


@pytest.fixture(scope="module")
def grid():
    return schedules.vp_sde(BETA_MIN, BETA_MAX, N=N, eps=EPS)


# -- the schedule ------------------------------------------------------------------------------


def test_vp_sde_grid_and_marginals(grid):
    assert grid.T == N
    np.testing.assert_allclose(grid.times, np.linspace(EPS, 1.0, N), rtol=1e-15)
    B = BETA_MIN * grid.times + 0.5 * (BETA_MAX - BETA_MIN) * grid.times**2
    np.testing.assert_allclose(grid.alpha_bar, np.exp(-B), rtol=1e-14)
    np.testing.assert_allclose(grid.v, -np.expm1(-B), rtol=1e-14)
    np.testing.assert_allclose(grid.alpha_bar[1:] / grid.alpha_bar[:-1], 1.0 - grid.beta[1:])
    level = grid.level(1)
    assert float(level) == grid.alpha_bar[0] and level.v == grid.v[0]
    at_zero = schedules.vp_sde(N=4)
    assert at_zero.v[0] == 0.0 and at_zero.alpha_bar[0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"N": 1}, "N=1 is out of range"),
        ({"eps": 1.0}, "eps=1.0 is out of range"),
        ({"beta_min": 0.0}, "beta_min=0.0 is out of range"),
        ({"beta_min": 2.0, "beta_max": 1.0}, "beta_max=1.0 is out of range"),
        ({"grid": "cosine"}, "grid='cosine' is not supported"),
    ],
)
def test_vp_sde_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedules.vp_sde(**kwargs)


# -- samplers: twin, paths, threads ---------------------------------------------------------


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_kernel_matches_numpy_twin(rotated, grid, sampler):
    n = 40
    y = samplers.sample(rotated, grid, n, seed=9, sampler=sampler)

    def score(x, t):
        a2 = math.exp(-(BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t))
        return reference.subspace_gaussian_score(x, a2, rotated.U, rotated.mean, rotated.cov)

    want = reference.sample_vp_sde(score, BETA_MIN, BETA_MAX, N, EPS, n, rotated.d, 9, sampler)
    np.testing.assert_allclose(y, want, rtol=TWIN_RTOL, atol=TWIN_RTOL)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_paths_threads_and_chunks_are_bit_identical(rotated, grid, sampler):
    ref = samplers.sample(rotated, grid, 101, seed=3, sampler=sampler)
    for kwargs in ({"method": "batch"}, {"parallel": False}, {"chunk_size": 7},
                   {"method": "batch", "parallel": False}):  # fmt: skip
        got = samplers.sample(rotated, grid, 101, seed=3, sampler=sampler, **kwargs)
        assert np.array_equal(got, ref), kwargs
    block = samplers.sample(rotated, grid, 31, seed=3, sampler=sampler, first_sample=50)
    assert np.array_equal(block, ref[50:81])


def test_eps_zero_ends_with_an_euler_step():
    """At eps = 0 the score at the last grid time is singular (v = 0): Heun and RK4 take an
    Euler last step, and NFE counts it (2 (N - 1) - 1 and 4 (N - 1) - 3)."""
    sch = schedules.vp_sde(N=11)
    assert samplers.nfe(sch, "pf_heun") == 19
    assert samplers.nfe(sch, "pf_rk4") == 37
    for name in ("em", "ei", "ancestral", "pf_euler"):
        assert samplers.nfe(sch, name) == 10
    st = samplers.ode_stages(sch, "pf_rk4")
    assert st.n_stages[1] == 1 and np.all(st.n_stages[2:] == 4)
    m = models.SubspaceGaussian(3, 1, cov=[1.5])
    y = samplers.sample(m, sch, 50, seed=1, sampler="pf_heun")
    assert np.all(np.isfinite(y))


# -- exact laws -------------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["normal", "p_T"])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_exact_law_matches_scalar_twin(aligned, grid, sampler, init):
    law = exact.output_law(aligned, grid, sampler, init=init)
    assert law.cov.structure == "diagonal"
    lam = np.array([2.0, 0.25, 0.0, 0.0])
    mu = np.array([0.7, -0.2, 0.0, 0.0])
    if init == "normal":
        v0, m0 = np.ones(4), np.zeros(4)
    else:
        a2, v = grid.alpha_bar[-1], grid.v[-1]
        v0, m0 = a2 * lam + v, math.sqrt(a2) * mu
    mean, var = reference.diagonal_gaussian_vp_law(
        lam, mu, BETA_MIN, BETA_MAX, N, EPS, sampler, v0, m0
    )
    np.testing.assert_allclose(law.mean, mean, rtol=LAW_RTOL, atol=1e-14)
    np.testing.assert_allclose(law.variances, var, rtol=LAW_RTOL)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_dense_law_is_the_rotated_diagonal_law(rotated, grid, sampler):
    """The rotated model's law (dense path) is V diag(latent law) V^T plus the pure-noise law
    on the orthogonal complement: both computed here, by the twin."""
    law = exact.output_law(rotated, grid, sampler)
    assert law.cov.structure == "dense"
    lam, nu, V = rotated.lam, rotated.nu, rotated.V
    m_lat, v_lat = reference.diagonal_gaussian_vp_law(
        np.append(lam, 0.0), np.append(nu, 0.0), BETA_MIN, BETA_MAX, N, EPS, sampler,
        np.ones(3), np.zeros(3),
    )  # fmt: skip
    want_cov = (V * v_lat[:2]) @ V.T + v_lat[2] * (np.eye(5) - V @ V.T)
    np.testing.assert_allclose(law.mean, V @ m_lat[:2], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(law.cov_matrix(), want_cov, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_monte_carlo_matches_exact_law(rotated, grid, sampler):
    n = 40_000
    y = samplers.sample(rotated, grid, n, seed=21, sampler=sampler)
    law = exact.output_law(rotated, grid, sampler)
    var = law.variances
    z_mean = (y.mean(axis=0) - law.mean) / np.sqrt(var / n)
    z_var = (y.var(axis=0, ddof=1) - var) / (var * math.sqrt(2.0 / (n - 1)))
    assert np.max(np.abs(z_mean)) <= K_SE, z_mean
    assert np.max(np.abs(z_var)) <= K_SE, z_var


def test_diagonal_law_in_d_3072_matches_the_twin():
    """A diagonal Gaussian in d = 3072 (k = d, diagonal covariance): the law of RK4 is
    computed per coordinate, and agrees with the scalar twin."""
    d = 3072
    lam = np.linspace(0.0, 3.0, d)
    m = models.SubspaceGaussian(d, d, cov=lam)
    sch = schedules.vp_sde(N=20, eps=1e-3)
    law = exact.output_law(m, sch, "pf_rk4")
    assert law.cov.structure == "diagonal"
    _, var = reference.diagonal_gaussian_vp_law(
        lam, np.zeros(d), 0.1, 20.0, 20, 1e-3, "pf_rk4", np.ones(d), np.zeros(d)
    )
    np.testing.assert_allclose(law.variances, var, rtol=LAW_RTOL)
    assert metrics.w2_gaussian(law, exact.target_law(m, sch)) > 0.0


# -- names and bad input ----------------------------------------------------------------------


def test_sampler_names_and_kinds(aligned, grid):
    li = schedules.li(20, 2.0, 4.0)
    with pytest.raises(ValueError, match=r"runs on a schedules\.vp_sde grid"):
        samplers.sample(aligned, li, 10, sampler="em")
    with pytest.raises(ValueError, match="runs on a discrete schedule"):
        samplers.sample(aligned, grid, 10, sampler="ddpm_posterior")
    with pytest.raises(ValueError, match="sampler='rk45' is not supported"):
        samplers.sample(aligned, grid, 10, sampler="rk45")
    # today's names are aliases; ddpm_beta is the default on a discrete schedule
    a = samplers.sample(aligned, li, 10, seed=2)
    assert np.array_equal(a, samplers.sample(aligned, li, 10, seed=2, sampler="beta"))
    assert np.array_equal(a, samplers.sample(aligned, li, 10, seed=2, sampler="ddpm_beta"))
    with pytest.warns(DeprecationWarning, match="variance= is deprecated"):
        b = samplers.sample(aligned, li, 10, seed=2, variance="beta")
    assert np.array_equal(a, b)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="not both"):
        samplers.sample(aligned, li, 10, sampler="ddim", variance="beta")


def test_fixed_large_adds_variance_beta(aligned):
    """Ho et al.'s fixed_large: C_t^2 = beta_t (ddpm_beta's is beta_t / alpha_t)."""
    li = schedules.li(20, 2.0, 4.0)
    ho = samplers.coefficients(li, "ddpm_fixed_large")
    old = samplers.coefficients(li, "ddpm_beta")
    np.testing.assert_allclose(ho.C[1:] ** 2, li.beta[1:], rtol=1e-14)
    np.testing.assert_allclose(old.C[1:] ** 2, li.beta[1:] / li.alpha[1:], rtol=1e-14)
    assert np.array_equal(ho.A, old.A, equal_nan=True)
    assert np.array_equal(ho.B, old.B, equal_nan=True)


def test_multi_stage_needs_an_exact_score(aligned, grid):
    est = estimators.Perturbed(estimators.Exact(aligned), eps=0.1, seed=1)
    with pytest.raises(ValueError, match="needs an exact score"):
        samplers.sample(est, grid, 10, sampler="pf_heun")


def test_ancestral_needs_small_steps(aligned):
    coarse = schedules.vp_sde(N=3)
    with pytest.raises(ValueError, match=r"beta\(t\) h < 1"):
        samplers.sample(aligned, coarse, 10, sampler="ancestral")


def test_nfe_is_steps_times_stages_away_from_v_zero(grid):
    for name in SAMPLERS:
        assert samplers.nfe(grid, name) == (grid.T - 1) * samplers.STAGES[name]
