"""Experiment steps_fitted: shared training noise (a fit that depends on the noise level
only), the search for T*, the verdicts and the figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulate import estimators, judge, models, plotting, schedules
from simulate.estimators.base import training_noise, training_pairs
from simulate.experiments import steps_fitted as sf

#: Two schedules reaching the same alpha_bar at different step indices agree on it up to the
#: round-off of their products and log1p sums (a few ulps); a least-squares fit on n = 400
#: points amplifies that by its condition number (< 1e3 here).
SAME_LEVEL_RTOL = 1e-9

#: A small setting (three points per sweep, d <= 6): the rules run on real rows.
TINY = sf.Config(
    n=400, s_values=(1, 2, 3), d_for_s=6, d_values=(2, 4, 6), s_for_d=1,
    T_grid=(10, 20, 40, 80, 160, 320),
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_table():
    rows = [row for cell in sf.cells(TINY) for row in sf.run_cell(TINY, cell)]
    return pd.DataFrame(rows)


def test_shared_noise_is_one_draw_for_every_step():
    points = np.ones((5, 3))
    _, z1 = training_pairs(points, 7, 1, 0.5, "shared")
    _, z9 = training_pairs(points, 7, 9, 0.5, "shared")
    np.testing.assert_array_equal(z1, z9)
    np.testing.assert_array_equal(z1, np.sqrt(0.5) * training_noise(7, 0, points.shape))
    _, f1 = training_pairs(points, 7, 1, 0.5)
    _, f9 = training_pairs(points, 7, 9, 0.5)
    assert not np.array_equal(f1, f9)


@pytest.mark.parametrize("kind", ["least_squares", "l1_denoiser", "l1_score"])
def test_shared_noise_fit_depends_on_the_noise_level_only(kind):
    """The same alpha_bar at step 3 of one schedule and step 2 of another gives the same fit
    with shared noise, and a different one with fresh noise per step."""
    b1, b2, b3 = 0.05, 0.1, 0.2
    three = schedules.from_beta(np.array([b1, b2, b3]))
    two = schedules.from_beta(np.array([1.0 - (1.0 - b1) * (1.0 - b2), b3]))
    model = models.SubspaceGaussian(4, 2, cov=[2.0, 2.0])
    config = sf.Config(n=400)

    def fitted(noise):
        est = sf.make_estimator(config, kind, model)
        est.noise = noise
        return est.fit(three).affine_score(3), est.fit(two).affine_score(2)

    (S3, b3_), (S2, b2_) = fitted("shared")
    np.testing.assert_allclose(S3.to_dense(), S2.to_dense(), rtol=SAME_LEVEL_RTOL, atol=1e-12)
    np.testing.assert_allclose(b3_, b2_, rtol=SAME_LEVEL_RTOL, atol=1e-12)
    (S3, _), (S2, _) = fitted("per_step")
    assert np.max(np.abs(S3.to_dense() - S2.to_dense())) > 1e-3


#: The moments path and the explicit pairs solve the same normal equations in another order
#: of summation: round-off times the condition number of G (about 1e3 at v = 0.05 here).
MOMENTS_RTOL = 1e-9


@pytest.mark.parametrize("target", ["x0", "score"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_moments_equal_the_explicit_pairs(target, fit_intercept):
    model = models.SubspaceGaussian(5, 2, cov=[2.0, 0.5])
    points = model.sample(300, seed=3)
    from simulate.estimators.base import SharedNoiseMoments
    from simulate.lasso import GramProblem

    for alpha_bar in (0.95, 0.3):
        xt, noise = training_pairs(points, 11, 4, alpha_bar, "shared")
        y = points if target == "x0" else -noise
        direct = GramProblem(xt, y, fit_intercept)
        moments = SharedNoiseMoments(points, 11, fit_intercept).problem(alpha_bar, target)
        for name in ("G", "C", "yy", "x_mean", "y_mean"):
            np.testing.assert_allclose(
                getattr(moments, name), getattr(direct, name), rtol=MOMENTS_RTOL, atol=1e-13,
                err_msg=name,
            )
        W_direct = direct.solve(np.zeros(5), np.zeros((5, 5)), 1e-12, 10, "")[0]
        W_moments = moments.solve(np.zeros(5), np.zeros((5, 5)), 1e-12, 10, "")[0]
        np.testing.assert_allclose(W_moments, W_direct, rtol=MOMENTS_RTOL, atol=1e-10)


def test_noise_mode_is_checked():
    model = models.SubspaceGaussian(3, 1, cov=[1.0])
    with pytest.raises(ValueError, match="noise"):
        estimators.LinearDSM(model, 10, noise="fresh")
    with pytest.raises(ValueError, match="noise"):
        estimators.L1LinearDSM(model, 10, noise="fresh")
    assert "shared" in repr(estimators.LinearDSM(model, 10, noise="shared"))


def test_first_from_which_finds_the_last_crossing():
    grid = [10, 20, 40, 80]
    T, checked, floor = sf._first_from_which(lambda v: v <= 0.01, grid, lambda T: 1.0 / T)
    assert math.isnan(T) and not checked  # 1/T <= 0.01 from T = 100: beyond the grid
    T, checked, floor = sf._first_from_which(lambda v: v <= 0.05, grid, lambda T: 1.0 / T)
    assert T == 20 and checked and not floor
    T, checked, floor = sf._first_from_which(lambda v: v <= 1.0, grid, lambda T: 1.0 / T)
    assert T == 10 and floor
    T, checked, floor = sf._first_from_which(lambda v: v <= 1e-4, grid, lambda T: 1.0 / T)
    assert math.isnan(T) and not checked
    # a dip below the threshold that comes back up does not count
    bumpy = {10: 0.0, 20: 1.0, 40: 1.0, 80: 0.0}
    T, _, _ = sf._first_from_which(lambda v: v <= 0.5, grid, lambda T: bumpy.get(T, 1.0))
    assert T == 80


def test_verdicts_decide_every_claim(tiny_table):
    verdicts = sf.verdicts(tiny_table)
    assert {v.claim_id for v in verdicts} == set(sf.CLAIMS)
    assert all(v.verdict in judge.VERDICTS for v in verdicts)
    # with the exact score, ddpm_posterior is d-free exactly: T* constant in d
    post = [v for v in verdicts if v.claim_id == "steps.fitted_d_free"
            and v.setting["estimator"] == "exact" and v.setting["sampler"] == "ddpm_posterior"]
    assert post and all(v.verdict == "holds" and v.measured == 0.0 for v in post)
    # exact laws: the exact score's KL decreases from T_ref / 2 to T_ref
    help_ = {(v.setting["estimator"], v.setting["sampler"]): v for v in verdicts
             if v.claim_id == "steps.fitted_more_steps_help"}  # fmt: skip
    assert help_[("exact", "ddpm_posterior")].verdict == "holds"
    summary = tiny_table[tiny_table["row_kind"] == "summary"]
    assert np.all(summary.loc[np.isfinite(summary["T_star"]), "bisection_checked"]
                  | summary.loc[np.isfinite(summary["T_star"]), "at_floor"])
    # the curve rows hold KL at every grid T, and the summary's limit is the last of them
    curve = tiny_table[tiny_table["row_kind"] == "curve"]
    last = curve[curve["T"] == max(TINY.T_grid)]
    assert np.allclose(np.sort(last["kl"]), np.sort(summary["kl_limit"]))


def test_figure(tiny_table):
    fig = plotting.plot_steps_fitted(tiny_table)
    assert len(fig.axes) == 3


def test_config_rejects_bad_input():
    with pytest.raises(ValueError, match="epsilon=0"):
        sf.Config(epsilon=0.0)
    with pytest.raises(ValueError, match="T_grid"):
        sf.Config(T_grid=(10, 20, 41))
    with pytest.raises(ValueError, match="unknown estimators"):
        sf.Config(estimators=("exact", "network"))
    with pytest.raises(ValueError, match="s_values"):
        sf.Config(s_values=(1, 2, 64))
