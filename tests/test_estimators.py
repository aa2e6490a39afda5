"""Score estimators (SCIENCE.md section 5): kernels vs NumPy twins, fits vs their
definitions, fused vs batch sampling, exact law vs Monte Carlo, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulate import estimators, exact, models, samplers, schedules
from simulate._kernels.estimators import (
    _denoiser_empirical,
    _loo_denoiser_rows,
    _score_affine,
    _score_empirical,
    _score_empirical_soft,
    empirical_params,
)
from simulate.noise_level import noise_variance
from tests import reference as ref

#: Kernel vs twin: same formula, different summation order and exp/log implementation.
TWIN_RTOL = 1e-10
#: Monte Carlo bands are K_SE standard errors (STYLE.md: k >= 4).
K_SE = 4.0

CORR = [[1.0, 0.5], [0.5, 1.0]]


@pytest.fixture(scope="module")
def sch() -> schedules.Schedule:
    return schedules.li(10, 2.0, 4.0)


@pytest.fixture(scope="module")
def aligned() -> models.SubspaceGaussian:
    return models.SubspaceGaussian(d=4, k=2, cov=CORR, mean=[0.5, -1.0])


@pytest.fixture(scope="module")
def rotated() -> models.SubspaceGaussian:
    return models.SubspaceGaussian(d=4, k=2, rotate=True, cov=CORR, seed=3)


def _rows_one_by_one(fn, x, t, alpha_bar, params):
    """The row kernel called from Python on each row: what the fused path computes."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        fn(x[i], t, float(alpha_bar), noise_variance(alpha_bar), params, out[i])
    return out


# -- kernels vs twins ------------------------------------------------------------------------


@pytest.mark.parametrize("alpha_bar", [0.999, 0.6, 0.01])
def test_empirical_kernels_match_twins(alpha_bar: float) -> None:
    rng = np.random.default_rng(0)
    points = rng.standard_normal((30, 5))
    x = rng.standard_normal((7, 5)) * 2.0
    got = _rows_one_by_one(_score_empirical, x, 1, alpha_bar, empirical_params(points))
    np.testing.assert_allclose(
        got, ref.empirical_score(x, points, alpha_bar), rtol=TWIN_RTOL, atol=1e-12
    )
    tau = np.array([0.3])
    for mode, on in ((0, "score"), (1, "denoiser")):
        params = (*empirical_params(points), tau, np.array([mode], dtype=np.int64))
        got = _rows_one_by_one(_score_empirical_soft, x, 1, alpha_bar, params)
        want = ref.empirical_soft_score(x, points, alpha_bar, 0.3, on)
        np.testing.assert_allclose(got, want, rtol=TWIN_RTOL, atol=1e-12)
    out = np.empty_like(x)
    rows = np.array([0, 3, 29, 5, 6, 7, 8], dtype=np.int64)
    _loo_denoiser_rows(x, rows, alpha_bar, 1.0 - alpha_bar, points, out)
    for k in range(x.shape[0]):
        want = ref.empirical_denoiser(x[k : k + 1], points, alpha_bar, exclude=int(rows[k]))
        np.testing.assert_allclose(out[k], want[0], rtol=TWIN_RTOL, atol=1e-12)


@pytest.mark.parametrize("d", [3, 37])
def test_empirical_kernel_skips_only_weights_that_are_exactly_zero(d: int) -> None:
    """At small v most posterior weights underflow; the kernel skips their exponentials.
    Against the same sums written out in Python point by point, with every exp taken (IEEE
    arithmetic in the same order), the denoiser is equal bit for bit, not just within a
    tolerance: also a check that the kernel's coordinate-major distance pass (all points at
    once, vectorized) adds each point's d terms in the order of the point-by-point loop."""
    rng = np.random.default_rng(5)
    points = rng.standard_normal((400, d)) * 2.0
    x = rng.standard_normal((6, d)) * 2.0
    for alpha_bar in (1.0 - 1e-6, 0.999, 0.5):
        v = noise_variance(alpha_bar)
        a = math.sqrt(alpha_bar)
        got = _rows_one_by_one(_denoiser_empirical, x, 1, alpha_bar, empirical_params(points))
        for k in range(x.shape[0]):
            logw = []
            for p in points:
                sq = 0.0  # a plain loop: sum() may compensate (Python >= 3.12)
                for j in range(d):
                    sq += (x[k, j] - a * p[j]) * (x[k, j] - a * p[j])
                logw.append(-sq / (2.0 * v))
            top = max(logw)
            acc, total = [0.0] * d, 0.0
            for lw, p in zip(logw, points, strict=True):
                w = math.exp(lw - top)
                total += w
                acc = [acc[j] + w * p[j] for j in range(d)]
            assert [acc[j] / total for j in range(d)] == got[k].tolist()
        if alpha_bar > 0.99999:  # the case the skip is for: most weights are exactly 0
            zero = [math.exp(lw - top) == 0.0 for lw in logw]
            assert sum(zero) > len(zero) // 2


def test_affine_kernel_matches_twin() -> None:
    rng = np.random.default_rng(1)
    S = rng.standard_normal((3, 4, 4))
    b = rng.standard_normal((3, 4))
    x = rng.standard_normal((5, 4))
    got = _rows_one_by_one(_score_affine, x, 2, 0.5, (S, b))
    np.testing.assert_allclose(got, ref.affine_score(x, S[1], b[1]), rtol=TWIN_RTOL, atol=1e-14)


def test_perturbed_is_base_plus_field(rotated, sch) -> None:
    """Perturbed kernel vs its definition: base score + G_t x + h_t (NumPy), and the
    affine pair it reports."""
    x = rotated.sample(6, seed=2) + 0.2
    for field in ("constant", "linear"):
        est = estimators.Perturbed(rotated, 0.4, field=field, seed=3).fit(sch)
        for t in (1, 7):
            ab = float(sch.alpha_bar[t - 1])
            field_value = est._h[t - 1] + (x @ est._G[t - 1].T if field == "linear" else 0.0)
            want = rotated.score(x, ab) + field_value
            np.testing.assert_allclose(est.score(x, t), want, rtol=TWIN_RTOL, atol=1e-12)
            S, b = est.affine_score(t)
            S = S.to_dense()
            np.testing.assert_allclose(ref.affine_score(x, S, b), want, rtol=1e-9, atol=1e-10)


def test_empirical_estimator(aligned, sch) -> None:
    est = estimators.Empirical(aligned, n=20, seed=4).fit(sch)
    x = aligned.sample(6, seed=5) + 0.1
    for t in (1, 5, 8):
        ab = float(sch.alpha_bar[t - 1])
        np.testing.assert_allclose(
            est.score(x, t), ref.empirical_score(x, est.points, ab), rtol=TWIN_RTOL, atol=1e-12
        )
        np.testing.assert_allclose(
            est.denoiser(x, t), ref.empirical_denoiser(x, est.points, ab), rtol=TWIN_RTOL
        )


# -- fits vs their definitions ---------------------------------------------------------------


def test_linear_dsm_is_least_squares_on_thetraining_pairs(aligned, sch) -> None:
    est = estimators.LinearDSM(aligned, n=40, seed=2).fit(sch)
    t = 3
    ab = float(sch.alpha_bar[t - 1])
    a, v = math.sqrt(ab), 1 - ab
    xt = a * est.points + math.sqrt(v) * estimators.training_noise(2, t, est.points.shape)
    design = np.hstack([xt, np.ones((40, 1))])
    coef = np.linalg.lstsq(design, est.points, rcond=None)[0]
    W, c = coef[:-1].T, coef[-1]
    S, b = est.affine_score(t)
    S = S.to_dense()
    np.testing.assert_allclose(S, (a * W - np.eye(4)) / v, rtol=1e-8, atol=1e-8 / v)
    np.testing.assert_allclose(b, a * c / v, rtol=1e-8, atol=1e-8 / v)
    W2, c2 = est.denoiser_coefficients(t)
    np.testing.assert_allclose(W2, W, atol=1e-9)
    np.testing.assert_allclose(c2, c, atol=1e-9)


def test_linear_dsm_min_norm_when_n_below_d(sch) -> None:
    """n <= d: the minimum-norm interpolant (ridge -> 0+), exact on the training pairs."""
    m = models.SubspaceGaussian(d=8, k=8)
    est = estimators.LinearDSM(m, n=5, seed=1).fit(sch)
    t = 4
    ab = float(sch.alpha_bar[t - 1])
    xt = math.sqrt(ab) * est.points + math.sqrt(1 - ab) * estimators.training_noise(
        1, t, est.points.shape
    )
    W, c = est.denoiser_coefficients(t)
    np.testing.assert_allclose(xt @ W.T + c, est.points, atol=1e-8)
    Xc = xt - xt.mean(0)
    np.testing.assert_allclose(
        W.T, np.linalg.pinv(Xc) @ (est.points - est.points.mean(0)), atol=1e-8
    )
    ridge = estimators.LinearDSM(m, n=5, seed=1, ridge=1e-10).fit(sch)
    np.testing.assert_allclose(ridge.denoiser_coefficients(t)[0], W, atol=1e-4)


@pytest.mark.parametrize("parametrization", ["denoiser", "score"])
def test_l1dsm_step_is_the_lasso_of_its_reading(aligned, sch, parametrization) -> None:
    """At each step: lasso(x_t, target, r/2) with target x_0 (denoiser) or v Y (score)."""
    est = estimators.L1DSM(aligned, n=60, seed=3, parametrization=parametrization).fit(sch)
    for t in (2, 6):
        ab = float(sch.alpha_bar[t - 1])
        a, v = math.sqrt(ab), 1 - ab
        noise = math.sqrt(v) * estimators.training_noise(3, t, est.points.shape)
        xt = a * est.points + noise
        r = est.r_per_step[t - 1]
        if parametrization == "denoiser":
            fit = estimators.lasso(xt, est.points, np.full(4, r / 2), tol=1e-13)
            S_want, b_want = (a * fit.coef - np.eye(4)) / v, a * fit.intercept / v
        else:
            fit = estimators.lasso(xt, -noise, np.full(4, r * v / 2), tol=1e-13)
            S_want, b_want = fit.coef / v, fit.intercept / v
        S, b = est.affine_score(t)
        S = S.to_dense()
        np.testing.assert_allclose(S, S_want, rtol=0, atol=1e-6 * np.max(np.abs(S_want)))
        np.testing.assert_allclose(b, b_want, rtol=0, atol=1e-6 * np.max(np.abs(S_want)))
        # the recorded r follows the rule with the recorded residual scale
        rule = 2.0 * est.sigma_per_step[t - 1] * math.sqrt(2 * math.log(4) / 60)
        assert r == pytest.approx(rule, rel=1e-12)


def test_l1dsm_with_r_zero_is_least_squares(aligned, sch) -> None:
    ls = estimators.LinearDSM(aligned, n=50, seed=6).fit(sch)
    for parametrization in ("denoiser", "score"):
        l1 = estimators.L1DSM(aligned, n=50, seed=6, r=0.0, parametrization=parametrization)
        l1.fit(sch)
        for t in (1, 10):
            W_ls = ls.denoiser_coefficients(t)[0]
            np.testing.assert_allclose(l1.denoiser_coefficients(t)[0], W_ls, atol=1e-7)
        assert np.all(l1.r_per_step == 0.0)


def test_l1dsm_denoiser_reading_is_sparse_on_aligned_data(sch) -> None:
    """Off-support targets are exactly 0, so their rows of W_t are exactly 0."""
    m = models.SubspaceGaussian(d=12, k=2, cov=CORR)
    est = estimators.L1DSM(m, n=200, seed=0).fit(sch)
    for t in range(1, sch.T + 1):
        W, _ = est.denoiser_coefficients(t)
        assert np.max(np.abs(W[2:])) < 1e-12
    assert np.all(est.nnz_per_step <= 2 * 12)


def test_l1dsm_cv_and_rules_record_r(aligned, sch) -> None:
    cv = estimators.L1DSM(aligned, n=40, seed=1, r="cv", cv_folds=4).fit(sch)
    assert cv.r_per_step.shape == (sch.T,) and np.all(cv.r_per_step >= 0)
    assert np.all(np.isnan(cv.sigma_per_step))
    again = estimators.L1DSM(aligned, n=40, seed=1, r="cv", cv_folds=4).fit(sch)
    assert np.array_equal(cv.r_per_step, again.r_per_step)
    assert np.array_equal(cv._S, again._S)
    null = estimators.L1DSM(aligned, n=40, seed=1, r_rule="null", r_constant=1.0).fit(sch)
    scaled = estimators.L1DSM(aligned, n=40, seed=1, r_constant=1.0).fit(sch)
    assert np.all(null.r_per_step >= scaled.r_per_step * (1 - 1e-9))  # null scale is largest
    given = estimators.L1DSM(aligned, n=40, seed=1, r=np.linspace(0.1, 0.2, sch.T)).fit(sch)
    np.testing.assert_allclose(given.r_per_step, np.linspace(0.1, 0.2, sch.T), rtol=1e-14)


def test_nonparametric_l1dsm(aligned, sch) -> None:
    emp = estimators.Empirical(aligned, n=25, seed=2).fit(sch)
    x = aligned.sample(5, seed=9) * 1.3
    for parametrization, on in (("score", "score"), ("denoiser", "denoiser")):
        zero = estimators.L1DSM(
            aligned,
            n=25,
            seed=2,
            r=0.0,
            function_class="nonparametric",
            parametrization=parametrization,
        ).fit(sch)
        assert np.array_equal(zero.score(x, 3), emp.score(x, 3))
        est = estimators.L1DSM(
            aligned, n=25, seed=2, function_class="nonparametric", parametrization=parametrization
        ).fit(sch)
        assert np.all(est.r_per_step > 0)
        for t in (1, 10):
            ab = float(sch.alpha_bar[t - 1])
            want = ref.empirical_soft_score(x, est.points, ab, est.r_per_step[t - 1] / 2, on)
            np.testing.assert_allclose(est.score(x, t), want, rtol=TWIN_RTOL, atol=1e-10)
        assert not isinstance(est, estimators.AffineScore)
        with pytest.raises(TypeError, match="not an affine score estimate"):
            exact.output_law(est, sch)


def test_fits_are_reproducible(aligned, sch) -> None:
    for cls in (estimators.LinearDSM, estimators.L1DSM):
        a = cls(aligned, n=30, seed=11).fit(sch)
        b = cls(aligned, n=30, seed=11).fit(sch)
        c = cls(aligned, n=30, seed=12).fit(sch)
        assert np.array_equal(a._S, b._S) and np.array_equal(a._b, b._b)
        assert not np.array_equal(a._S, c._S)


# -- fused vs batch; score equals the row kernel ---------------------------------------------


def _estimators_for_paths(aligned):
    return [
        estimators.LinearDSM(aligned, n=30, seed=1),
        estimators.Empirical(aligned, n=15, seed=1),
        estimators.L1DSM(aligned, n=15, seed=1, function_class="nonparametric"),
        estimators.Perturbed(aligned, 0.3, kind="sparse", seed=2),
        estimators.Perturbed(aligned, 0.3, field="linear", seed=2),
    ]


def test_score_equals_row_kernel_and_fused_equals_batch(aligned, sch) -> None:
    x = aligned.sample(9, seed=1) + 0.3
    for est in _estimators_for_paths(aligned):
        est.fit(sch)
        fn, params = est.score_kernel()
        for t in (1, sch.T):
            got = est.score(x, t)
            assert np.array_equal(got, _rows_one_by_one(fn, x, t, sch.level(t), params))
        fused = samplers.sample(est, sch, 64, seed=5, sampler="beta", method="fused")
        batch = samplers.sample(est, sch, 64, seed=5, sampler="beta", method="batch")
        assert np.array_equal(fused, batch), repr(est)


# -- exact law vs Monte Carlo ----------------------------------------------------------------


def _law_vs_mc(est, sch, variance, n):
    """Largest |MC - exact| / standard error over the means and variances of coordinates."""
    law = exact.output_law(est, sch, variance)
    y = samplers.sample(est, sch, n, seed=17, sampler=variance)
    var = law.variances
    z_mean = (y.mean(0) - law.mean) / np.sqrt(var / n)
    # var of the sample variance of a Gaussian: 2 var^2 / (n - 1)
    z_var = (y.var(0, ddof=1) - var) / (var * np.sqrt(2.0 / (n - 1)))
    return float(np.max(np.abs(np.concatenate([z_mean, z_var]))))


@pytest.mark.parametrize("variance", ["beta", "posterior", "ddim"])
def test_affine_estimators_exact_law_matches_monte_carlo(aligned, rotated, sch, variance) -> None:
    ests = [
        estimators.LinearDSM(rotated, n=30, seed=1),
        estimators.L1DSM(aligned, n=30, seed=1, parametrization="score"),
        estimators.L1DSM(rotated, n=30, seed=1),
        estimators.Perturbed(aligned, 0.5, seed=2),
        estimators.Perturbed(rotated, 0.5, field="linear", seed=2),
    ]
    for est in ests:
        assert _law_vs_mc(est, sch, variance, 4000) < K_SE, repr(est)


@pytest.mark.slow
@pytest.mark.parametrize("variance", ["beta", "posterior"])
def test_affine_exact_law_matches_monte_carlo_large(variance) -> None:
    sch = schedules.li(50, 2.0, 4.0)
    m = models.SubspaceGaussian(d=10, k=3, rotate=True, cov=[3.0, 1.0, 0.3], seed=1)
    for est in (
        estimators.LinearDSM(m, n=200, seed=1),
        estimators.L1DSM(m, n=200, seed=1),
        estimators.L1DSM(m, n=200, seed=1, parametrization="score"),
        estimators.Perturbed(m, 1.0, kind="sparse", field="linear", n_nonzero=3),
    ):
        assert _law_vs_mc(est, sch, variance, 100_000) < K_SE, repr(est)


# -- memorization ----------------------------------------------------------------------------


def test_memorization_detects_copies() -> None:
    rng = np.random.default_rng(0)
    points = rng.standard_normal((50, 10))
    copies = points[:20] + 1e-3 * rng.standard_normal((20, 10))
    fresh = rng.standard_normal((20, 10))
    assert estimators.memorization(copies, points)["memorized_fraction"] == 1.0
    assert estimators.memorization(fresh, points)["memorized_fraction"] == 0.0


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 1}, ValueError, r"n=1 is out of range; allowed: integer >= 2"),
        ({"r": -0.5}, ValueError, r"r=-0.5 is out of range; allowed: real >= 0"),
        ({"r": float("inf")}, ValueError, r"r=inf is not finite"),
        ({"r": "auto"}, ValueError, r"r='auto' is not supported; allowed: rule, cv"),
        ({"parametrization": "both"}, ValueError, r"parametrization='both' is not supported"),
        ({"r_rule": "bic"}, ValueError, r"r_rule='bic' is not supported; allowed: scaled, null"),
        ({"function_class": "mlp"}, ValueError, r"function_class='mlp' is not supported"),
        ({"r": "cv", "cv_folds": 11}, ValueError, r"cv_folds=11 is out of range.*\[2, 10\]"),
        ({"r_constant": 0.0}, ValueError, r"r_constant=0.0 is out of range"),
        (
            {"r": "cv", "function_class": "nonparametric"},
            ValueError,
            r"r='cv' is available for function_class='linear' only",
        ),
    ],
)
def test_l1dsm_bad_input(aligned, kwargs, error, match) -> None:
    args = {"n": 10, **kwargs}
    with pytest.raises(error, match=match):
        estimators.L1DSM(aligned, **args)


def test_training_points_bad_input(aligned, sch) -> None:
    bad = np.ones((5, 4))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="points contains 1 non-finite"):
        estimators.LinearDSM(points=bad)
    with pytest.raises(ValueError, match=r"points have width 3; the model has d=4"):
        estimators.L1DSM(aligned, points=np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"points must have shape \(n, d\)"):
        estimators.Empirical(np.ones(5))
    with pytest.raises(ValueError, match=r"n=1 training points is out of range"):
        estimators.Empirical(np.ones((1, 4)))
    with pytest.raises(TypeError, match="n \\(the number of training points\\) is required"):
        estimators.LinearDSM(aligned)
    est = estimators.L1DSM(aligned, n=10, r=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"r must be .* shape \(T,\) = \(10,\)"):
        est.fit(sch)
    fitted = estimators.LinearDSM(aligned, n=10).fit(sch)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 4\)"):
        fitted.score(np.ones((3, 5)), 1)
    with pytest.raises(ValueError, match=r"t=11 is out of range"):
        fitted.score(np.ones((3, 4)), 11)


def test_perturbed_bad_input(aligned) -> None:
    with pytest.raises(ValueError, match=r"eps=-1.0 is out of range"):
        estimators.Perturbed(aligned, -1.0)
    with pytest.raises(ValueError, match=r"kind='blocky' is not supported; allowed: dense, sparse"):
        estimators.Perturbed(aligned, 1.0, kind="blocky")
    with pytest.raises(ValueError, match=r"n_nonzero=5 is out of range"):
        estimators.Perturbed(aligned, 1.0, kind="sparse", n_nonzero=5)
    emp = estimators.Empirical(points=np.ones((5, 4)))
    with pytest.raises(TypeError, match="field='linear' needs the law of q_t"):
        estimators.Perturbed(emp, 1.0, field="linear")


def test_lasso_cap_warning_names_the_step(aligned, sch) -> None:
    est = estimators.L1DSM(aligned, n=30, r=0.01, tol=0.0, max_iter=1)
    with pytest.warns(
        estimators.LassoConvergenceWarning, match=r"at step t=1 .*duality gap.*more lasso fit"
    ):
        est.fit(sch)


def test_fit_is_frozen_per_schedule(aligned, sch) -> None:
    """Fitting to another schedule returns a fitted copy; the first fit is left as it was."""
    est = estimators.LinearDSM(aligned, n=30, seed=4)
    assert est.fit(sch) is est
    S_before = est.affine_score(3)[0].to_dense()
    other = schedules.li(sch.T + 5, 2.0, 4.0)
    refit = est.fit(other)
    assert refit is not est and refit.schedule is other and est.schedule is sch
    np.testing.assert_array_equal(est.affine_score(3)[0].to_dense(), S_before)
    assert refit.fit(other) is refit


def test_r_policy_objects_equal_their_keyword_forms(aligned, sch) -> None:
    by_words = estimators.L1DSM(aligned, n=40, seed=1, r_rule="null", r_constant=1.0).fit(sch)
    by_policy = estimators.L1DSM(aligned, n=40, seed=1, r=estimators.RuleR("null", 1.0)).fit(sch)
    np.testing.assert_array_equal(by_words.r_per_step, by_policy.r_per_step)
    assert isinstance(by_words, estimators.L1LinearDSM) and by_words.r == by_policy.r
    nonpar = estimators.L1DSM(aligned, n=20, seed=1, function_class="nonparametric")
    assert isinstance(nonpar, estimators.L1EmpiricalDSM)
    assert isinstance(nonpar, estimators.KernelScore) and not isinstance(
        nonpar, estimators.AffineScore
    )
    with pytest.raises(ValueError, match="r='cv' is available for function_class='linear'"):
        estimators.L1EmpiricalDSM(aligned, n=20, r=estimators.CrossValidatedR(3))
