"""SubspaceGaussian: score against the NumPy twin, Tweedie, affine form, moments, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate import models
from tests import reference

#: Kernel (loops) and twin (matrix inverse) differ by round-off amplified by 1/v; the
#: tests keep v >= 1e-3, so 1e-9 relative to the score's scale is ample.
SCORE_RTOL = 1e-9
BAND = 4.0


def _random_cov(rng, k):
    A = rng.standard_normal((k, k))
    return A @ A.T / k + 0.1 * np.eye(k)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    d=st.integers(1, 12),
    data=st.data(),
    rotate=st.booleans(),
    alpha_bar=st.floats(1e-3, 1 - 1e-3),
    seed=st.integers(0, 2**16),
)
def test_score_matches_twin(d, data, rotate, alpha_bar, seed):
    k = data.draw(st.integers(1, d))
    rng = np.random.default_rng(seed)
    mean, cov = rng.standard_normal(k), _random_cov(rng, k)
    m = models.SubspaceGaussian(d, k, rotate=rotate, mean=mean, cov=cov, seed=seed)
    x = rng.standard_normal((6, d)) * 2
    want = reference.subspace_gaussian_score(x, alpha_bar, m.U, mean, cov)
    got = m.score(x, alpha_bar)
    scale = np.max(np.abs(want)) + 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=SCORE_RTOL * scale)
    # Tweedie both ways, and the affine form S x + b.
    np.testing.assert_allclose(
        m.denoiser(x, alpha_bar),
        models.denoiser_from_score(x, want, alpha_bar),
        rtol=0,
        atol=SCORE_RTOL * scale / np.sqrt(alpha_bar),
    )
    S, b = m.affine_score(alpha_bar)
    affine = x @ S.to_dense().T + b
    np.testing.assert_allclose(affine, want, rtol=0, atol=SCORE_RTOL * scale)
    np.testing.assert_allclose(S.matvec(x[0]) + b, want[0], rtol=0, atol=SCORE_RTOL * scale)
    # the structure follows the data: a support block unless rotated (or diagonal)
    law = m.noised_law(alpha_bar)
    if rotate:
        want_structure = "dense"
    elif m.is_diagonal:
        want_structure = "diagonal"
    else:
        want_structure = "dense" if k == d else "block"
    assert S.structure == law.cov.structure == want_structure


def test_aligned_score_is_exactly_pure_noise_off_support():
    m = models.SubspaceGaussian(9, 3, cov=[2.0, 0.5, 1.5])
    x = np.random.default_rng(0).standard_normal((4, 9))
    s = m.score(x, 0.3)
    np.testing.assert_array_equal(s[:, 3:], -x[:, 3:] / 0.7)
    assert m.is_diagonal and m.intrinsic_dim == 3
    np.testing.assert_array_equal(m.support, np.arange(9) < 3)


def test_sample_moments():
    rng = np.random.default_rng(1)
    k, n = 3, 100_000
    cov, mean = _random_cov(rng, k), rng.standard_normal(k)
    m = models.SubspaceGaussian(7, k, rotate=True, mean=mean, cov=cov, seed=3)
    x = m.sample(n, seed=2)
    z = x @ m.U  # back to the latent coordinates
    np.testing.assert_allclose(x - z @ m.U.T, 0, atol=1e-12)  # on the subspace
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(z.mean(0) - mean) < BAND * se_mean)
    se_var = np.diag(cov) * np.sqrt(2 / (n - 1))
    assert np.all(np.abs(z.var(0, ddof=1) - np.diag(cov)) < BAND * se_var)


def test_sampling_is_reproducible():
    m = models.SubspaceGaussian(5, 2)
    np.testing.assert_array_equal(m.sample(10, seed=4), m.sample(10, seed=4))
    assert not np.array_equal(m.sample(10, seed=4), m.sample(10, seed=5))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"d": 0, "k": 1}, ValueError, "d=0 is out of range"),
        ({"d": 3, "k": 4}, ValueError, r"k=4 is out of range; allowed: integer in \[1, 3\]"),
        ({"d": 3, "k": 0}, ValueError, "k=0 is out of range"),
        ({"d": 3.0, "k": 1}, TypeError, "d must be an integer"),
        ({"d": 3, "k": 2, "cov": [[1, 2], [0, 1]]}, ValueError, "symmetric"),
        ({"d": 3, "k": 2, "cov": [[1, 2], [2, 1]]}, ValueError, "positive semidefinite"),
        ({"d": 3, "k": 2, "cov": [1.0, np.nan]}, ValueError, "non-finite"),
        ({"d": 3, "k": 2, "mean": [0.0]}, ValueError, "mean must have shape"),
    ],
)
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        models.SubspaceGaussian(**kwargs)


def test_bad_points_and_alpha_bar():
    m = models.SubspaceGaussian(4, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 4\)"):
        m.score(np.zeros((2, 3)), 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        m.score(np.full((1, 4), np.nan), 0.5)
    for bad in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="alpha_bar"):
            m.score(np.zeros((1, 4)), bad)
    with pytest.raises(ValueError, match="n=0 is out of range"):
        m.sample(0)


@pytest.mark.parametrize("rank", [0, 2, 6])
def test_mixture_kernel_keeps_or_recomputes_offsets_to_the_same_bits(rank):
    """The mixture score keeps the components' offsets between its two passes when they are
    few and recomputes them otherwise: both give the same bits (and skipping exp below
    -746, where it is exactly 0, changes nothing)."""
    from simulate._kernels.models import _mixture_row

    rng = np.random.default_rng(2)
    J, d = 7, 6
    means = rng.normal(size=(J, d)) * 3
    bases = np.stack([np.linalg.qr(rng.normal(size=(d, d)))[0][:, :rank] for _ in range(J)])
    lams = rng.uniform(0.1, 2.0, size=(J, rank))
    log_weights = np.log(np.full(J, 1.0 / J))
    for alpha_bar in (1.0 - 1e-6, 0.9, 0.2):
        for x in rng.normal(size=(20, d)) * 2:
            out = []
            for rows in (J, 1):
                o = np.empty(d)
                _mixture_row(
                    x, alpha_bar, 1.0 - alpha_bar, means, np.ascontiguousarray(bases), lams,
                    log_weights, o, np.empty((rows, d)), np.empty((rows, rank)), np.empty(J),
                )  # fmt: skip
                out.append(o)
            np.testing.assert_array_equal(out[0], out[1])
