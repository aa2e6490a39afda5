"""StructuredMatrix (diagonal | support block + diagonal | dense) against dense arithmetic,
and the structured exact law against the dense one (SCIENCE.md 3)."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate import exact, metrics, models, schedules
from simulate.laws import GaussianLaw
from simulate.linalg import (
    StructuredMatrix,
    check_covariance,
    haar_orthonormal,
    least_squares,
)

#: Structured versus dense products of O(1) entries: a few ulps of round-off.
ROUNDOFF_RTOL = 1e-12


def _structured(rng, d, index):
    """A random symmetric StructuredMatrix with positive diagonal and an SPD block."""
    k = index.size
    A = rng.standard_normal((k, k))
    return StructuredMatrix.with_block(rng.uniform(0.5, 2.0, d), index, A @ A.T + np.eye(k))


@st.composite
def _index(draw, d):
    mask = draw(st.lists(st.booleans(), min_size=d, max_size=d))
    return np.flatnonzero(mask)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(d=st.integers(1, 7), data=st.data(), seed=st.integers(0, 1000))
def test_structured_algebra_matches_dense(d, data, seed) -> None:
    rng = np.random.default_rng(seed)
    c = _structured(rng, d, data.draw(_index(d)))
    m = _structured(rng, d, data.draw(_index(d)))
    C, M = c.to_dense(), m.to_dense()
    x = rng.standard_normal(d)
    np.testing.assert_allclose(c.matvec(x), C @ x, rtol=ROUNDOFF_RTOL, atol=1e-14)
    np.testing.assert_allclose(c.diagonal_entries(), np.diag(C), rtol=0, atol=0)
    a = rng.standard_normal((3, d))
    np.testing.assert_allclose(c.right_multiply(a), a @ C, rtol=ROUNDOFF_RTOL, atol=1e-14)
    np.testing.assert_allclose(
        m.scaled_plus_identity(0.3, 1.7).to_dense(), 0.3 * M + 1.7 * np.eye(d), rtol=1e-15
    )
    got = c.congruence(m, 0.25).to_dense()
    np.testing.assert_allclose(got, M @ C @ M.T + 0.25 * np.eye(d), rtol=ROUNDOFF_RTOL, atol=1e-13)
    wide = c.expand(np.union1d(c.index, m.index))
    np.testing.assert_array_equal(wide.to_dense(), C)
    # KL and W2 split over the union block and the diagonal rest: equal to the dense formulas
    p, q = GaussianLaw(rng.standard_normal(d), c), GaussianLaw(np.zeros(d), m.congruence(m, 1.0))
    p_dense, q_dense = GaussianLaw.dense(p.mean, C), GaussianLaw.dense(q.mean, q.cov_matrix())
    kl, kl_dense = metrics.kl_gaussian(p, q), metrics.kl_gaussian(p_dense, q_dense)
    assert kl == pytest.approx(kl_dense, rel=1e-10, abs=1e-12)
    w2, w2_dense = metrics.w2_gaussian(p, q), metrics.w2_gaussian(p_dense, q_dense)
    assert w2 == pytest.approx(w2_dense, rel=1e-8, abs=1e-10)


def test_structure_names_and_bad_input() -> None:
    assert StructuredMatrix.diagonal(np.ones(3)).structure == "diagonal"
    assert StructuredMatrix.dense(np.eye(3)).structure == "dense"
    assert StructuredMatrix.with_block(np.ones(3), [1], np.ones((1, 1))).structure == "block"
    with pytest.raises(ValueError, match=r"block must have shape \(2, 2\)"):
        StructuredMatrix.with_block(np.ones(3), [0, 1], np.ones((1, 1)))
    with pytest.raises(ValueError, match="index must be sorted, unique"):
        StructuredMatrix.with_block(np.ones(3), [2, 1], np.eye(2))
    with pytest.raises(ValueError, match="matrix must be square"):
        StructuredMatrix.dense(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"cov must be a simulate\.linalg\.StructuredMatrix"):
        GaussianLaw(np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="smallest eigenvalue"):
        check_covariance("cov", np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="cov must be symmetric"):
        check_covariance("cov", np.array([[1.0, 0.5], [0.0, 1.0]]))


def test_haar_orthonormal_columns() -> None:
    q = haar_orthonormal(np.random.default_rng(3), 6, 4)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-14)


@pytest.mark.parametrize("variance", ["beta", "posterior", "ddim"])
def test_block_law_matches_dense_law_and_is_affine_in_d(variance) -> None:
    """Aligned data with a correlated Sigma: the exact law keeps a support block, equals the
    dense recursion, and its KL is the block's plus (d - s) identical off-support terms."""
    sch = schedules.li(60, 2.0, 4.0)
    cov = 0.5 * np.eye(3) + 0.5
    small = models.SubspaceGaussian(8, 3, cov=cov, mean=[0.3, -0.2, 0.1])
    law = exact.output_law(small, sch, variance)
    assert law.cov.structure == "block"

    class DenseTwin(models.DataModel):  # the same model, its matrices handed over dense
        d = small.d

        def noised_law(self, alpha_bar):
            law_t = small.noised_law(alpha_bar)
            return GaussianLaw.dense(law_t.mean, law_t.cov_matrix())

        def affine_score(self, alpha_bar):
            S, b = small.affine_score(alpha_bar)
            return StructuredMatrix.dense(S.to_dense()), b


    dense = exact.output_law(DenseTwin(), sch, variance)
    assert dense.cov.structure == "dense"
    np.testing.assert_allclose(law.cov_matrix(), dense.cov_matrix(), rtol=ROUNDOFF_RTOL, atol=1e-15)
    np.testing.assert_allclose(law.mean, dense.mean, rtol=ROUNDOFF_RTOL, atol=1e-15)
    kl_small = metrics.kl_gaussian(exact.target_law(small, sch), law)
    big = models.SubspaceGaussian(100_000, 3, cov=cov, mean=[0.3, -0.2, 0.1])
    start = time.perf_counter()
    law_big = exact.output_law(big, sch, variance)
    kl_big = metrics.kl_gaussian(exact.target_law(big, sch), law_big)
    elapsed = time.perf_counter() - start
    per_coordinate = (kl_big - kl_small) / (100_000 - 8)
    kl_mid = metrics.kl_gaussian(
        exact.target_law(models.SubspaceGaussian(1000, 3, cov=cov, mean=[0.3, -0.2, 0.1]), sch),
        exact.output_law(models.SubspaceGaussian(1000, 3, cov=cov, mean=[0.3, -0.2, 0.1]), sch,
                         variance),
    )  # fmt: skip
    assert kl_mid == pytest.approx(kl_small + (1000 - 8) * per_coordinate, rel=1e-9, abs=1e-13)
    print(f"block exact law + KL at d = 1e5, T = 60 ({variance}): {elapsed:.3f} s")


#: Least squares by Cholesky of the normal equations against the SVD, at cond(G) <= 1e6:
#: the normal equations lose cond(G) * 2.2e-16 at most (``NORMAL_EQUATIONS_MIN_RCOND``).
NORMAL_EQUATIONS_RTOL = 1e-9


@pytest.mark.parametrize(
    ("n", "p", "scale"),
    [(1024, 287, 1.0), (200, 3, 1.0), (500, 8, 1e-2), (40, 80, 1.0), (30, 30, 1.0)],
)
def test_least_squares_matches_the_minimum_norm_svd_solution(n, p, scale) -> None:
    """Well conditioned (Cholesky), badly scaled columns, and n <= p (rank-deficient: the
    SVD's minimum-norm answer, from the data or from the moments alone)."""
    rng = np.random.default_rng(n + p)
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, scale, p)
    X -= X.mean(axis=0)  # centred, as the estimators' designs (rank n - 1 when n <= p)
    Y = rng.standard_normal((n, 4))
    want = np.linalg.lstsq(X, Y, rcond=None)[0]
    got = least_squares(X, Y, X.T @ X, X.T @ Y)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=NORMAL_EQUATIONS_RTOL * np.abs(want).max())
    from_moments = least_squares(None, None, X.T @ X / n, X.T @ Y / n)
    if n > p:
        np.testing.assert_allclose(
            from_moments, want, rtol=0, atol=NORMAL_EQUATIONS_RTOL * np.abs(want).max()
        )
    else:  # the minimum-norm solution of the normal equations is the same point
        np.testing.assert_allclose(X @ from_moments, X @ want, atol=1e-8)
        assert np.linalg.norm(from_moments) <= np.linalg.norm(want) * (1 + 1e-8)


def test_least_squares_falls_back_to_the_svd_when_ill_conditioned() -> None:
    """Two columns equal to 1e-9: cond(G) ~ 1e18, far past the Cholesky threshold; the
    answer is the SVD's own, bit for bit."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 5))
    X[:, 4] = X[:, 3] + 1e-9 * rng.standard_normal(300)
    Y = rng.standard_normal((300, 2))
    want = np.linalg.lstsq(X, Y, rcond=None)[0]
    assert np.array_equal(least_squares(X, Y, X.T @ X, X.T @ Y), want)
