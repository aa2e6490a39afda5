"""Accurate v_t = 1 - abar_t (issue 11, item 4): the schedule, the sampler coefficients, the
exact law and the Monte Carlo sampler at T = 1e5, c0 = 4, where abar_1 and abar_2 round to 1.0
in float64 and 1 - abar_t is 0 (the score would divide by zero).

The independent truth is ``theory.schedules``: beta_t written separately from SCIENCE.md 1.1,
and v_t = -expm1(cumsum(log1p(-beta))) formed there (``step_ratio_max``'s arrays).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from simulate import exact, models, samplers, schedules
from simulate._validation import check_alpha_bar
from simulate.kernels import jit
from simulate.noise_level import NoiseLevel, noise_scales, noise_variance
from theory import schedules as theory_schedules

#: The Li et al. schedule at T = 1e5 with c0 = 4 (beta_1 = 1e-20) and c1 = 8 (so that
#: abar_T = 3.7e-21 is small: a schedule one would use).
T_BIG, C0, C1 = 100_000, 4.0, 8.0
#: Two float64 evaluations of cumsum(log1p(-beta)) and expm1 in different orders agree to a
#: few ulps per term; over 1e5 terms the relative difference stays below 1e-12.
CUMSUM_RTOL = 1e-12
#: One recursion over 1e5 steps, ours against a plain scalar one: a rounding per step, so
#: ~1e5 * 1e-16 = 1e-11 relative at most.
RECURSION_RTOL = 1e-9
#: Monte Carlo bands are K_SE standard errors (STYLE.md: k >= 4).
K_SE = 4.0


def _theory_v(T: int, c0: float, c1: float) -> tuple[np.ndarray, np.ndarray]:
    beta = theory_schedules.li_beta(T, c0, c1)
    return beta, -np.expm1(np.cumsum(np.log1p(-beta)))


@pytest.fixture(scope="module")
def big():
    return schedules.li(T_BIG, C0, C1)


def test_noise_level_is_a_float_with_its_complement():
    level = NoiseLevel(1.0, 1e-20)
    assert float(level) == 1.0 and level.v == 1e-20
    assert noise_scales(level) == (1.0, 1e-20)
    assert noise_variance(0.75) == 0.25  # a plain float: the best a float can give
    again = pickle.loads(pickle.dumps(level))  # process and Dask executors pickle it
    assert isinstance(again, NoiseLevel) and again.v == level.v
    assert check_alpha_bar(level) is level
    with pytest.raises(ValueError, match=r"alpha_bar\.v"):
        check_alpha_bar(NoiseLevel(1.0, 0.0))
    with pytest.raises(ValueError, match=r"alpha_bar=1\.0"):
        check_alpha_bar(1.0)  # a plain 1.0 has no noise: not a noised law


@pytest.mark.parametrize("T", [1000, 10_000, T_BIG])
def test_schedule_v_matches_theory(T):
    sch = schedules.li(T, C0, C1)
    beta, v = _theory_v(T, C0, C1)
    np.testing.assert_allclose(sch.beta, beta, rtol=1e-15)
    np.testing.assert_allclose(sch.v, v, rtol=CUMSUM_RTOL)
    assert sch.v[0] == pytest.approx(beta[0], rel=1e-15)  # v_1 = beta_1 exactly
    level = sch.level(1)
    assert float(level) == sch.alpha_bar[0] and level.v == sch.v[0]


def test_one_minus_alpha_bar_is_the_hazard_this_fixes(big):
    """The naive complement: 2.2e-5 relative error at T = 1000, 11% at 1e4, 0 at 1e5."""
    err = {}
    for T in (1000, 10_000):
        sch = schedules.li(T, C0, 4.0)
        err[T] = abs((1.0 - sch.alpha_bar[0]) / sch.v[0] - 1.0)
    assert 1e-5 < err[1000] < 1e-4
    assert 0.05 < err[10_000] < 0.2
    assert np.all(1.0 - big.alpha_bar[:2] == 0.0) and np.all(big.v[:2] > 0.0)


def test_coefficients_use_accurate_v(big):
    beta, v = _theory_v(T_BIG, C0, C1)
    alpha = 1.0 - beta
    post = samplers.coefficients(big, "posterior")
    # sigma_t^2 / alpha_t = beta_t v_{t-1} / v_t (SCIENCE.md 1.1), from theory's arrays
    want = np.sqrt(beta[1:] * v[:-1] / v[1:])
    np.testing.assert_allclose(post.C[1:], want, rtol=CUMSUM_RTOL)
    ddim = samplers.coefficients(big, "ddim")
    abar = np.cumprod(alpha)
    A = np.sqrt(abar[:-1] / abar[1:])
    np.testing.assert_allclose(ddim.B[1:], A * v[1:] - np.sqrt(v[:-1] * v[1:]), rtol=1e-9)
    for coef in (post, ddim, samplers.coefficients(big, "beta")):
        assert np.all(np.isfinite(coef.A[1:])) and np.all(np.isfinite(coef.B[1:]))


def _scalar_recursion(lam: np.ndarray, beta: np.ndarray, v: np.ndarray, variance: str):
    """Exact law of Y_1 per coordinate (mean 0 data, variance lam), written from SCIENCE.md 3
    with theory's v: s_t(y) = -y / (abar_t lam + v_t), DDPM step (y + beta s + sigma z)/sqrt(alpha).
    """
    alpha = 1.0 - beta
    abar = np.cumprod(alpha)
    var = np.ones_like(lam)
    for t in range(beta.size, 1, -1):
        i = t - 1
        slope = (1.0 - beta[i] / (abar[i] * lam + v[i])) / math.sqrt(alpha[i])
        sigma2 = beta[i] if variance == "beta" else beta[i] * alpha[i] * v[i - 1] / v[i]
        var = slope * slope * var + sigma2 / alpha[i]
    return var


@pytest.fixture(scope="module")
def aligned():
    """One signal coordinate (variance 2) and two pure-noise coordinates, whose score at
    step t is -y / v_t: exactly where 1 - abar_t = 0 would divide by zero."""
    return models.SubspaceGaussian(3, 1, cov=[2.0])


@pytest.fixture(scope="module")
def exact_laws(big, aligned):
    return {v: exact.output_law(aligned, big, v) for v in ("beta", "posterior")}


@pytest.mark.parametrize("variance", ["beta", "posterior"])
def test_exact_law_at_T_1e5(big, aligned, exact_laws, variance):
    law = exact_laws[variance]
    beta, v = _theory_v(T_BIG, C0, C1)
    want = _scalar_recursion(np.array([2.0, 0.0, 0.0]), beta, v, variance)
    np.testing.assert_allclose(law.cov.diagonal_entries(), want, rtol=RECURSION_RTOL)
    np.testing.assert_array_equal(law.mean, 0.0)
    target = exact.target_law(aligned, big)
    assert np.all(np.isfinite(target.cov.diagonal_entries()))


@pytest.mark.parametrize("variance", ["beta", "posterior"])
def test_sampler_at_T_1e5_matches_exact_law(big, aligned, exact_laws, variance):
    n = 1000
    y = samplers.sample(aligned, big, n, seed=11, sampler=variance)
    assert np.all(np.isfinite(y))
    var = exact_laws[variance].cov.diagonal_entries()
    se_mean = np.sqrt(var / n)
    assert np.all(np.abs(y.mean(axis=0)) <= K_SE * se_mean)
    # sample variance of a Gaussian: SE = var sqrt(2 / (n - 1))
    se_var = var * math.sqrt(2.0 / (n - 1))
    assert np.all(np.abs(y.var(axis=0, ddof=1) - var) <= K_SE * se_var)


@jit
def _five_argument_cube(x, t, alpha_bar, params, out):
    """A user's kernel of the older signature: forms 1 - alpha_bar itself."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    for i in range(x.shape[0]):
        out[i] = (a * math.tanh(a * x[i] / v) - x[i]) / v


@jit
def _six_argument_cube(x, t, alpha_bar, v, params, out):
    """The same score with the accurate v handed in."""
    a = math.sqrt(alpha_bar)
    for i in range(x.shape[0]):
        out[i] = (a * math.tanh(a * x[i] / v) - x[i]) / v


class _FiveArgumentModel:
    d = 3

    def sample(self, n, seed=0):
        return np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, self.d))

    def score_kernel(self):
        return _five_argument_cube, ()


class _SixArgumentModel(_FiveArgumentModel):
    def score_kernel(self):
        return _six_argument_cube, ()


def test_five_argument_kernel_is_adapted_with_a_warning():
    """The older kernel signature keeps working (a DeprecationWarning), and samples as the
    six-argument kernel does, up to the rounding of 1 - alpha_bar (T = 30)."""
    with pytest.warns(DeprecationWarning, match="five-argument signature"):
        old = models.as_model(_FiveArgumentModel())
    sch = schedules.li(30, 2.0, 4.0)
    got = samplers.sample(old, sch, 64, seed=3)
    want = samplers.sample(models.as_model(_SixArgumentModel()), sch, 64, seed=3)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_kernel_with_wrong_arity_is_rejected():
    @jit
    def four(x, t, alpha_bar, out):
        out[:] = 0.0

    class Bad(_FiveArgumentModel):
        def score_kernel(self):
            return four, ()

    with pytest.raises(TypeError, match="takes 4 parameter"):
        models.as_model(Bad())
