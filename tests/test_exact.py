"""Exact law and Gaussian metrics against NumPy twins and the recorded numbers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate import exact, metrics, models, samplers, schedules
from simulate.laws import GaussianLaw
from tests import reference

#: Diagonal O(T d) recursion versus dense twin over T <= 40 steps: round-off only.
RECURSION_RTOL = 1e-10
#: KL by eigenvalues (log1p form) versus the determinant formula; the latter loses
#: ~1e-13 absolute to cancellation.
KL_ATOL = 1e-11


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    d=st.integers(2, 7),
    k=st.integers(1, 2),
    rotate=st.booleans(),
    T=st.integers(2, 40),
    variance=st.sampled_from(samplers.VARIANCES),
    seed=st.integers(0, 1000),
)
def test_output_law_matches_dense_twin(d, k, rotate, T, variance, seed):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.2, 3.0, k)
    m = models.SubspaceGaussian(
        d, k, rotate=rotate, mean=rng.standard_normal(k), cov=lam, seed=seed
    )
    sch = schedules.li(T, 2.0, 1.0) if 1.0 * np.log(T) / T < 1 else schedules.cosine(T)
    law = exact.output_law(m, sch, variance)
    S_list, b_list = {}, {}
    for t in range(2, T + 1):
        S, b = m.affine_score(sch.alpha_bar[t - 1])
        S_list[t] = S.to_dense()
        b_list[t] = b
    mean, cov = reference.gaussian_output_law(S_list, b_list, sch.alpha, sch.alpha_bar, variance)
    np.testing.assert_allclose(law.mean, mean, rtol=RECURSION_RTOL, atol=RECURSION_RTOL)
    np.testing.assert_allclose(law.cov_matrix(), cov, rtol=RECURSION_RTOL, atol=RECURSION_RTOL)
    target = exact.target_law(m, sch)
    kl = metrics.kl_gaussian(target, law)
    want = reference.kl_gaussian_dense(target.mean, target.cov_matrix(), mean, cov)
    assert kl >= 0
    assert kl == pytest.approx(want, abs=KL_ATOL, rel=1e-8)


def test_science_md_preliminary_numbers():
    """SCIENCE.md 2: c0 = c1 = 4, T = 100, s = 4 coordinates of variance 2: KL about 0.35,
    0.59, 1.55 at d = 10, 40, 160 for "beta" and 0.341 at every d for "posterior"."""
    sch = schedules.li(100, 4.0, 4.0)
    got = {}
    for variance in ("beta", "posterior"):
        for d in (10, 40, 160):
            m = models.SubspaceGaussian(d, 4, cov=[2.0] * 4)
            got[variance, d] = metrics.kl_gaussian(
                exact.target_law(m, sch), exact.output_law(m, sch, variance)
            )
    assert [round(got["beta", d], 2) for d in (10, 40, 160)] == [0.35, 0.59, 1.55]
    assert {round(got["posterior", d], 3) for d in (10, 40, 160)} == {0.341}


def test_rotation_leaves_kl_unchanged():
    """Every sampler is equivariant under orthogonal maps, so KL is rotation invariant."""
    sch = schedules.li(50, 2.0, 4.0)
    for variance in samplers.VARIANCES:
        kls = []
        for rotate in (False, True):
            m = models.SubspaceGaussian(
                6, 2, rotate=rotate, mean=[1.0, 0.5], cov=[2.0, 0.3], seed=4
            )
            kls.append(
                metrics.kl_gaussian(exact.target_law(m, sch), exact.output_law(m, sch, variance))
            )
        assert kls[0] == pytest.approx(kls[1], rel=1e-9)


def test_exact_initialisation_removes_off_support_error_for_posterior():
    """From Y_T ~ q_T the posterior sampler is the exact reverse kernel on pure-noise
    coordinates, so they contribute nothing but round-off. c0 = 2 keeps v_1 = T^-c0 = 1e-4
    well above the 1e-16 at which abar_1 = 1 - v_1 is stored (with c0 = 4, v_1 = 1e-8 and
    the stored schedule itself is off by 1e-8 relative, which shows as KL ~ 1e-17)."""
    sch = schedules.li(100, 2.0, 4.0)
    m = models.SubspaceGaussian(20, 2, cov=[2.0, 2.0])
    law = exact.output_law(m, sch, "posterior", init=exact.target_law(m, sch, t=sch.T))
    per = metrics.kl_gaussian(exact.target_law(m, sch), law, per_coordinate=True)
    assert np.max(per[2:]) < 1e-20 < per[:2].min()


def test_w2_and_kl_of_identical_laws_are_zero_and_match_dense():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    p = GaussianLaw.dense(rng.standard_normal(4), A @ A.T + np.eye(4))
    assert metrics.kl_gaussian(p, p) == pytest.approx(0.0, abs=1e-14)
    assert metrics.w2_gaussian(p, p) == pytest.approx(0.0, abs=1e-6)
    q = GaussianLaw.diagonal(np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]))
    dense_q = GaussianLaw.dense(q.mean, q.cov_matrix())
    assert metrics.w2_gaussian(q, GaussianLaw.diagonal(q.mean, 4 * q.variances)) == pytest.approx(
        np.sqrt(np.sum(q.variances))
    )
    assert metrics.kl_gaussian(p, q) == pytest.approx(metrics.kl_gaussian(p, dense_q), rel=1e-12)
    with pytest.raises(ValueError, match="different dimensions"):
        metrics.kl_gaussian(p, GaussianLaw.standard(3))
    with pytest.raises(ValueError, match="per_coordinate=True needs two diagonal covariances"):
        metrics.kl_gaussian(p, q, per_coordinate=True)
