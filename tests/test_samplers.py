"""Samplers: twin agreement, bit-identity across paths/threads/chunks, bad input."""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from simulate import estimators, exact, models, samplers, schedules
from tests import reference

#: Kernel and twin run the same recursion in a different arithmetic order (A Y + B s + C Z
#: versus (Y + eta s + sigma Z)/sqrt(alpha)); over T <= 30 steps round-off stays < 1e-11.
TWIN_RTOL = 1e-11
VARIANCES = samplers.VARIANCES


@pytest.fixture(scope="module")
def setting():
    model = models.SubspaceGaussian(
        6, 2, rotate=True, mean=[1.0, -0.5], cov=[[2.0, 0.3], [0.3, 0.5]]
    )
    return model, schedules.li(30, 2.0, 4.0)


@pytest.mark.parametrize("variance", VARIANCES)
def test_kernel_matches_numpy_twin(setting, variance):
    model, sch = setting
    n = 50
    y = samplers.sample(model, sch, n, seed=9, sampler=variance)
    U, mean, cov = model.U, model.mean, model.cov

    def score(x, t):
        return reference.subspace_gaussian_score(x, sch.alpha_bar[t - 1], U, mean, cov)

    want = reference.sample_ddpm(score, sch.alpha, sch.alpha_bar, n, model.d, 9, variance)
    np.testing.assert_allclose(y, want, rtol=TWIN_RTOL, atol=TWIN_RTOL)


@pytest.mark.parametrize("variance", VARIANCES)
def test_fused_batch_serial_and_chunks_bit_identical(setting, variance):
    model, sch = setting
    ref = samplers.sample(model, sch, 257, seed=3, sampler=variance)
    variants = [
        samplers.sample(model, sch, 257, seed=3, sampler=variance, method="batch"),
        samplers.sample(model, sch, 257, seed=3, sampler=variance, parallel=False),
        samplers.sample(model, sch, 257, seed=3, sampler=variance, chunk_size=10),
        samplers.sample(
            model,
            sch,
            257,
            seed=3,
            sampler=variance,
            method="batch",
            parallel=False,
            chunk_size=64,
        ),
    ]
    for other in variants:
        assert np.array_equal(ref, other)
    # A block of the stream is the same as the corresponding rows of the whole.
    block = samplers.sample(model, sch, 57, seed=3, sampler=variance, first_sample=200)
    assert np.array_equal(block, ref[200:])


def test_user_callable_model_matches_builtin(setting):
    """A plain Python object (batch path) gives the built-in model's numbers exactly."""
    model, sch = setting

    class Plain:
        d = model.d

        def sample(self, n, seed):
            return model.sample(n, seed)

        def score(self, x, alpha_bar):
            return model.score(x, alpha_bar)

    a = samplers.sample(Plain(), sch, 40, seed=1, sampler="posterior")
    b = samplers.sample(model, sch, 40, seed=1, sampler="posterior", method="fused")
    assert np.array_equal(a, b)


def test_path_steps(setting):
    model, sch = setting
    y, path = samplers.sample(model, sch, 20, seed=2, path_steps=[sch.T, 10, 1])
    assert path.shape == (3, 20, model.d)
    assert np.array_equal(path[2], y)
    _yb, pathb = samplers.sample(model, sch, 20, seed=2, path_steps=[sch.T, 10, 1], method="batch")
    assert np.array_equal(path, pathb)
    z = np.empty((20, model.d))
    from simulate import _kernels

    _kernels._fill_normals(np.uint64(2), 0, 0, 0, z)
    assert np.array_equal(path[0], z)  # Y_T is the step-0 noise


@pytest.mark.slow
def test_bit_identical_across_thread_counts():
    """NUMBA_NUM_THREADS=1 and =2 give the same bytes (counter-based noise, no shared state)."""
    script = textwrap.dedent(
        """
        import hashlib, numpy as np
        from simulate import models, samplers, schedules
        m = models.SubspaceGaussian(16, 3, rotate=True)
        y = samplers.sample(m, schedules.li(40, 2.0, 4.0), 999, seed=5, sampler="beta",
                            chunk_size=300)
        print(hashlib.sha256(y.tobytes()).hexdigest())
        """
    )
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        digests.append(out.stdout.strip())
    assert digests[0] == digests[1]


def test_monte_carlo_covariance_matches_exact_law():
    """Sample mean/covariance of p_1 within 4 standard errors of simulate.exact, per entry."""
    model = models.SubspaceGaussian(
        5, 2, rotate=True, mean=[0.5, 0.0], cov=[[2.0, 0.4], [0.4, 0.7]]
    )
    sch = schedules.li(25, 2.0, 4.0)
    n = 40_000
    for variance in VARIANCES:
        law = exact.output_law(model, sch, variance)
        y = samplers.sample(model, sch, n, seed=21, sampler=variance)
        C = law.cov_matrix()
        se_mean = np.sqrt(np.diag(C) / n)
        assert np.all(np.abs(y.mean(0) - law.mean) < 4 * se_mean)
        # Var of a sample covariance entry for Gaussian data: (C_ij^2 + C_ii C_jj) / (n - 1).
        se_cov = np.sqrt((C**2 + np.outer(np.diag(C), np.diag(C))) / (n - 1))
        assert np.all(np.abs(np.cov(y, rowvar=False) - C) < 4 * se_cov)


class _BadScore(estimators.Estimator):
    def __init__(self, d, kind, bad_step):
        self.d, self.kind, self.bad_step = d, kind, bad_step

    def score(self, x, t):
        if t != self.bad_step:
            return -x
        if self.kind == "shape":
            return np.zeros((x.shape[0], self.d + 1))
        out = -x.copy()
        out[0, 0] = np.nan
        return out


def test_batch_path_names_the_step_of_a_bad_score():
    sch = schedules.li(20, 2.0, 4.0)
    with pytest.raises(ValueError, match=r"step t=7 returned shape \(3, 5\); expected \(3, 4\)"):
        samplers.sample(_BadScore(4, "shape", 7), sch, 3)
    with pytest.raises(ValueError, match="step t=12 returned non-finite"):
        samplers.sample(_BadScore(4, "nan", 12), sch, 3)


def test_user_model_missing_members():
    class NoScore:
        d = 3

        def sample(self, n, seed):
            return np.zeros((n, 3))

    with pytest.raises(TypeError, match="score\\(x, alpha_bar\\) or denoiser"):
        samplers.sample(NoScore(), schedules.li(20, 2.0, 4.0), 2)
    with pytest.raises(TypeError, match="needs the member\\(s\\) d"):
        samplers.sample(object(), schedules.li(20, 2.0, 4.0), 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": 0}, ValueError, "n=0 is out of range"),
        ({"sampler": "large"}, ValueError, "sampler='large' is not supported; allowed: ddpm_beta"),
        ({"seed": -1}, ValueError, "seed=-1 is out of range"),
        ({"method": "gpu"}, ValueError, "method='gpu'"),
        ({"path_steps": [0]}, ValueError, r"path_steps\[i\]=0 is out of range"),
    ],
)
def test_bad_arguments(setting, kwargs, error, message):
    model, sch = setting
    args = {"n": 4} | kwargs
    with pytest.raises(error, match=message):
        samplers.sample(model, sch, **args)


def test_fused_requested_without_kernel():
    sch = schedules.li(20, 2.0, 4.0)
    with pytest.raises(ValueError, match="method='fused' needs a numba score kernel"):
        samplers.sample(_BadScore(4, "nan", -1), sch, 3, method="fused")


def test_sampling_far_from_noise_warns_and_near_does_not():
    """StartFarFromNoise fires when d abar_T^2 / 4 > START_KL_WARN (the leading-order
    KL(q_T || N(0, I)) of d unit-scale coordinates), e.g. on li_paper(20) (abar_T = 0.93), and
    not on li(20) (abar_T = 4.5e-4); the samples are the same either way."""
    import warnings

    model = models.SubspaceGaussian(3, 2)
    with pytest.warns(samplers.StartFarFromNoise, match="abar_T = 0.927"):
        far = samplers.sample(model, schedules.li_paper(20), 8, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", samplers.StartFarFromNoise)
        near = samplers.sample(model, schedules.li(20), 8, seed=1)
    assert far.shape == near.shape == (8, 3) and not np.array_equal(far, near)
    # the threshold itself: abar_T just below and above sqrt(4 START_KL_WARN / d)
    d = 3
    edge = math.sqrt(4 * samplers.START_KL_WARN / d)
    for factor, warns in ((0.99, False), (1.01, True)):
        beta = np.full(10, -math.expm1(math.log(edge * factor) / 10))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kl = samplers.check_start(schedules.from_beta(beta), d)
        assert kl == pytest.approx(d * (edge * factor) ** 2 / 4, rel=1e-12)
        assert [w.category for w in caught] == ([samplers.StartFarFromNoise] if warns else [])
