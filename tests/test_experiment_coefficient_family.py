"""experiments.coefficient_family and simulate.pure_noise (issue 31, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from simulate import exact, pure_noise, schedules
from simulate.experiments import coefficient_family as cf

#: The pure-noise law of the suite's samplers against the closed composition here: both
#: are products of T scalar steps, ~T ulps apart.
SAMPLER_RTOL = 1e-12


@pytest.fixture(scope="module")
def quick_table():
    return cf.run(cf.Config.quick())


@pytest.mark.parametrize(
    ("sampler", "family", "param"),
    [("ddpm_beta", "gamma", 0.0), ("ddpm_posterior", "gamma", 1.0), ("ddim", "eta", 0.0)],
)
@pytest.mark.parametrize("init", ["q_T", "normal"])
def test_families_contain_the_suites_samplers(sampler, family, param, init) -> None:
    sch = schedules.li(60)
    law = exact.coordinate_law(np.zeros(1), 0.0, sch, sampler,
                               init="p_T" if init == "q_T" else "normal")  # fmt: skip
    ours = pure_noise.output_variance(sch, family, param, init)
    assert law.variances[0] == pytest.approx(ours, rel=SAMPLER_RTOL)


def test_eta_one_equals_gamma_one() -> None:
    sch = schedules.li(80)
    a = pure_noise.output_variance(sch, "eta", 1.0, "normal")
    b = pure_noise.output_variance(sch, "gamma", 1.0, "normal")
    assert a == pytest.approx(b, rel=SAMPLER_RTOL)


def test_bad_input_raises() -> None:
    sch = schedules.li(20)
    with pytest.raises(ValueError, match="gamma"):
        pure_noise.step_coefficients(sch, "gamma", 1.5)
    with pytest.raises(ValueError, match="family"):
        pure_noise.step_coefficients(sch, "zeta", 0.5)
    with pytest.raises(ValueError, match="init"):
        pure_noise.output_variance(sch, "eta", 0.5, "uniform")
    with pytest.raises(ValueError, match="T_ref"):
        cf.Config(T_ref=7)


def test_verdicts_on_the_quick_preset(quick_table) -> None:
    vs = cf.verdicts(quick_table)
    assert {v.claim_id for v in vs} == set(cf.CLAIMS)
    for v in vs:
        if v.claim_id in ("coef.qT_eta_d_free", "coef.qT_only_gamma_one"):
            assert v.verdict == "holds", (v.claim_id, v.setting_text, v.detail)
    decay = [v for v in vs if v.claim_id == "coef.gamma_decay_in_T"]
    assert decay and all(v.verdict in ("holds", "inconclusive") for v in decay)
    assert "gamma" in cf.report_section(quick_table)


def test_normal_start_slopes(quick_table) -> None:
    """From N(0, I) the start's excess e_T = 1 - v_T = abar_T is carried to step 1 by the
    deviation maps of theory/coefficient_family.py: DDIM (prod v_{t-1} / v_t) leaves
    u = e_1 / v_1 = abar_T / v_T, the posterior (prod alpha_t v_{t-1}^2 / v_t^2) leaves
    u = abar_T^2 v_1 / (abar_1 v_T^2); the slope is u^2 / 4 to first order (rel 1e-3 covers
    the u^3 term at u <= 1e-3)."""
    nrm = quick_table[quick_table["init"] == "normal"].set_index(["family", "param", "T"])
    for T in (100, 1000):
        sch = schedules.li(T)
        u_ddim = sch.alpha_bar[-1] / sch.v[-1]
        assert nrm.loc[("eta", 0.0, T), "kl"] == pytest.approx(u_ddim**2 / 4, rel=1e-3)
        u_post = sch.alpha_bar[-1] ** 2 * sch.v[0] / (sch.alpha_bar[0] * sch.v[-1] ** 2)
        assert nrm.loc[("gamma", 1.0, T), "kl"] == pytest.approx(u_post**2 / 4, rel=1e-3,
                                                                abs=1e-28)  # fmt: skip
