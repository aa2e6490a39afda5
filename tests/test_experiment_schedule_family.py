"""simulate.vp_family and experiments.schedule_family (issue 31, item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from simulate import exact, schedules, vp_family
from simulate.experiments import schedule_family as sf

#: The family's EI at a = 0 against the suite's ``ei`` on ``schedules.vp_sde``: both compose
#: N scalar affine steps in float64, a few ulps each.
LAW_RTOL = 1e-12


@pytest.fixture(scope="module")
def quick_table():
    return sf.run(sf.Config.quick())


@pytest.mark.parametrize("n", [5, 25, 100])
def test_ei_at_a_zero_is_the_suites_ei(n: int) -> None:
    sch = schedules.vp_sde(0.1, 20.0, N=n + 1, eps=0.0)
    law = exact.coordinate_law(np.array([0.5]), np.array([1.0]), sch, "ei", init="normal")
    mu, v = vp_family.output_law("ei", 0.0, n, 1.0, 0.5)
    assert mu == pytest.approx(float(law.mean[0]), rel=LAW_RTOL)
    assert v == pytest.approx(float(law.variances[0]), rel=LAW_RTOL)


def test_family_ends_and_integral() -> None:
    """beta_a(0) = beta_min, beta_a(T) = beta_max for every a; B' = beta (central
    differences, step 1e-5: error ~1e-9 relative)."""
    for a in (-10.0, -1e-4, 0.0, 2.5, 10.0):
        b = vp_family.beta(np.array([0.0, 1.0]), a, 1.0, 0.1, 20.0)
        np.testing.assert_allclose(b, [0.1, 20.0], rtol=1e-12)
        t = np.array([0.2, 0.5, 0.9])
        dB = (vp_family.integral(t + 1e-5, a, 1.0, 0.1, 20.0)
              - vp_family.integral(t - 1e-5, a, 1.0, 0.1, 20.0)) / 2e-5  # fmt: skip
        np.testing.assert_allclose(dB, vp_family.beta(t, a, 1.0, 0.1, 20.0), rtol=1e-7)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="scheme"):
        vp_family.output_law("heun", 0.0, 10, 1.0, 0.5)
    with pytest.raises(ValueError, match="n_steps"):
        vp_family.output_law("em", 0.0, 0, 1.0, 0.5)
    with pytest.raises(ValueError, match="var"):
        vp_family.output_law("em", 0.0, 10, 1.0, 0.0)


def test_verdicts_on_the_quick_preset(quick_table) -> None:
    vs = sf.verdicts(quick_table)
    opt_vs = [v for v in vs if v.claim_id == "vp_family.optimum_interior"]
    assert len(opt_vs) == 2 and all(v.verdict == "holds" for v in opt_vs)
    opt = quick_table[quick_table["part"] == "optimum"]
    grid = quick_table[quick_table["part"] == "grid"]
    # the refined optimum is no worse than any grid point of its (scheme, steps)
    for r in opt.itertuples():
        g = grid[(grid["scheme"] == r.scheme) & (grid["steps"] == r.steps)]
        assert r.kl <= g["kl"].min()
    assert "optimal a" in sf.report_section(quick_table)


def test_bound_terms() -> None:
    """E3 = 2 h beta_max max(h beta_max / 4, 1) I, I = tr Sigma^-1 - 2 d + tr Sigma + |mean|^2
    (= 20 - 20 + 5 + 10 = 15 in the illustrated setting); E1 -> 0 as B(T) grows; the Fisher
    term is 1 / var_min on sparse data."""
    mean, var = np.ones(10), np.full(10, 0.5)
    assert vp_family.relative_fisher(mean, var) == pytest.approx(15.0, rel=1e-14)
    e1, e3 = vp_family.kl_bound(mean, var, 0.0, 25)
    assert e3 == pytest.approx(2 * 0.8 * 1.0 * 15.0, rel=1e-14)
    b_T = vp_family.integral(1.0, 0.0, 1.0, 0.1, 20.0)
    kl_start = 0.5 * 10 * (0.5 - 1 - np.log(0.5) + 1)
    assert e1 == pytest.approx(kl_start * np.exp(-b_T), rel=1e-12)
    var[0] = 1e-6
    assert vp_family.relative_fisher(mean, var) > 1e6
    # the diagonal KL reduces to the isotropic one
    iso = vp_family.kl_to_data("ei", 2.0, 30, 10, 1.0, 0.5)
    diag = vp_family.kl_to_data_diag("ei", 2.0, 30, np.ones(10), np.full(10, 0.5))
    assert diag == pytest.approx(iso, rel=1e-13)


def test_bound_verdicts(quick_table) -> None:
    vs = {v.claim_id: v for v in sf.verdicts(quick_table)}
    assert vs["vp_family.bound_holds"].verdict == "holds"
    assert vs["vp_family.bound_vacuous_sparse"].verdict == "holds"
