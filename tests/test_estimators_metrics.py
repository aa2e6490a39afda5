"""``metrics.score_error`` (SCIENCE.md 1.1) and the injected error of ``Perturbed``."""

from __future__ import annotations

import numpy as np
import pytest

from simulate import estimators, metrics, models, schedules

#: Monte Carlo bands are K_SE standard errors (STYLE.md: k >= 4).
K_SE = 4.0
#: The issue's acceptance level for Perturbed: eps reproduced to 1%.
EPS_RTOL = 0.01


@pytest.fixture(scope="module")
def sch() -> schedules.Schedule:
    return schedules.li(10, 2.0, 4.0)


@pytest.fixture(scope="module")
def rotated() -> models.SubspaceGaussian:
    return models.SubspaceGaussian(d=5, k=2, rotate=True, cov=[[1.0, 0.5], [0.5, 1.0]], seed=3)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_perturbed_linear_field_has_size_eps(rotated, sch, kind) -> None:
    """E_{q_t}||e_t||^2 = eps^2 by construction; Monte Carlo with n_eval = 200000 per step
    (relative standard error of eps about 0.15%, so 4 se < 1%) reproduces eps to 1%."""
    eps = 0.7
    est = estimators.Perturbed(rotated, eps, kind=kind, field="linear", n_nonzero=2, seed=1)
    err = metrics.score_error(est, rotated, sch, n_eval=200_000, seed=2)
    eps_hat = np.sqrt(err.eps2)
    se_eps = err.eps2_se / (2 * eps_hat)  # delta method
    assert np.all(K_SE * se_eps <= EPS_RTOL * eps), "MC too noisy to check 1%"
    np.testing.assert_allclose(eps_hat, eps, rtol=EPS_RTOL)
    assert np.all(np.abs(eps_hat - eps) <= K_SE * se_eps)
    exact_err = metrics.score_error(est, rotated, sch, method="exact")
    np.testing.assert_allclose(exact_err.eps2, eps**2, rtol=1e-10)


def test_perturbed_constant_field_is_exact_under_any_law(rotated, sch) -> None:
    eps = np.linspace(0.1, 1.0, sch.T)
    est = estimators.Perturbed(rotated, eps, kind="sparse", n_nonzero=3, seed=4)
    err = metrics.score_error(est, rotated, sch, n_eval=100, seed=0)
    np.testing.assert_allclose(err.eps2, eps**2, rtol=1e-12)
    assert err.mean == pytest.approx(np.mean(eps**2), rel=1e-12)
    np.testing.assert_allclose(est.eps_per_step, eps)


def test_score_error_exact_equals_monte_carlo(sch) -> None:
    for rotate in (False, True):
        m = models.SubspaceGaussian(d=4, k=2, rotate=rotate, cov=[2.0, 0.5], seed=1)
        est = estimators.LinearDSM(m, n=20, seed=3)
        mc = metrics.score_error(est, m, sch, n_eval=20_000, seed=5)
        ex = metrics.score_error(est, m, sch, method="exact")
        for part in ("eps2", "support", "off_support"):
            got, want = getattr(mc, part), getattr(ex, part)
            se = getattr(mc, f"{part}_se")
            assert np.all(np.abs(got - want) <= K_SE * se + 1e-12 * ex.eps2), part
        np.testing.assert_allclose(ex.support + ex.off_support, ex.eps2, rtol=1e-10)
        # least squares on x_0 = U z: the error lives in the data subspace only
        assert np.max(ex.off_support / ex.eps2) < 1e-10
        mean, se = mc.average("eps2", steps="sampler")
        assert mean == pytest.approx(np.mean(mc.eps2[1:]))
        assert se == pytest.approx(np.sqrt(np.sum(mc.eps2_se[1:] ** 2)) / (sch.T - 1))
        assert list(mc.frame().columns[:3]) == ["t", "eps2", "eps2_se"]


def test_exact_estimator_has_zero_error(rotated, sch) -> None:
    err = metrics.score_error(rotated, rotated, sch, n_eval=50, seed=0)
    assert np.all(err.eps2 == 0.0)


def test_score_error_bad_input(rotated, sch) -> None:
    emp = estimators.Empirical(rotated, n=5)
    with pytest.raises(ValueError, match=r"n_eval=1 is out of range"):
        metrics.score_error(emp, rotated, sch, n_eval=1)
    with pytest.raises(ValueError, match=r"method='quad' is not supported; allowed: mc, exact"):
        metrics.score_error(emp, rotated, sch, method="quad")
    with pytest.raises(TypeError, match="is not an affine score estimate"):
        metrics.score_error(emp, rotated, sch, method="exact")
    other = models.SubspaceGaussian(d=3, k=1)
    with pytest.raises(ValueError, match="estimator has d=5, model has d=3"):
        metrics.score_error(emp, other, sch)
    err = metrics.score_error(emp, rotated, sch, n_eval=10)
    with pytest.raises(ValueError, match="part='all' is not supported"):
        err.average("all")


def test_exact_score_error_uses_the_covariance_structure_without_changing_it(sch) -> None:
    """The exact path reads diag(dS C dS^T) from one structured product (O(d^2 + d k^2));
    it equals the dense E[e e^T] formula of SCIENCE.md 1.1 to round-off (named: 1e-12)."""
    m = models.SubspaceGaussian(d=6, k=3, rotate=True, cov=[2.0, 0.5, 1.0], seed=2)
    est = estimators.LinearDSM(m, n=30, seed=4)
    ex = metrics.score_error(est, m, sch, method="exact")
    fitted = est.fit(sch)
    for t in range(1, sch.T + 1):
        level = sch.level(t)
        S_e, b_e = fitted.affine_score(t)
        S_m, b_m = m.affine_score(float(level))
        law = m.noised_law(float(level))
        dS = S_e.to_dense() - S_m.to_dense()
        shift = dS @ law.mean + (b_e - b_m)
        E = dS @ law.cov_matrix() @ dS.T + np.outer(shift, shift)
        assert ex.eps2[t - 1] == pytest.approx(np.trace(E), rel=1e-12, abs=1e-15)
