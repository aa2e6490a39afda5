"""experiments.schedule_optimal: the optimized DDIM grid, the named sigma grids and the
verdicts of the four claims (issue 31, item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from simulate import sigma_grid
from simulate.experiments import schedule_optimal as so


@pytest.fixture(scope="module")
def quick_table():
    return so.run(so.Config.quick())


def test_named_grids_have_the_stated_ends_and_order() -> None:
    for grid in (sigma_grid.edm(10), sigma_grid.log_snr(10), sigma_grid.tangent(10, 0.5),
                 sigma_grid.li_shape(10)):  # fmt: skip
        assert grid.size == 11 and grid[0] == 80.0 and grid[-1] == 0.002
        assert np.all(np.diff(grid) < 0)
    # the tangent law is uniform in theta = atan(sigma / c)
    theta = np.arctan(sigma_grid.tangent(20, 0.7) / 0.7)
    np.testing.assert_allclose(np.diff(theta), np.diff(theta)[0], rtol=1e-12)


def test_to_schedule_reproduces_the_noise_levels() -> None:
    s = sigma_grid.tangent(12, 1.3)
    sch = sigma_grid.to_schedule(s)
    np.testing.assert_allclose(sch.alpha_bar, 1.0 / (1.0 + s[::-1] ** 2), rtol=1e-13)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="sigma_min"):
        sigma_grid.tangent(10, 1.0, sigma_min=-1.0)
    with pytest.raises(ValueError, match="c"):
        sigma_grid.tangent(10, 0.0)
    with pytest.raises(ValueError, match="decrease"):
        sigma_grid.ddim_kl(np.ones(2), np.array([0.1, 1.0]))
    with pytest.raises(ValueError, match="lam"):
        sigma_grid.ddim_kl(np.array([-1.0]), sigma_grid.edm(5))
    with pytest.raises(ValueError, match="n_values"):
        so.Config(n_values=(5,))


def test_gradient_matches_finite_differences() -> None:
    """The analytic gradient against central differences (step 1e-6 in log sigma: truncation
    ~1e-12 and rounding ~1e-10 relative, so 1e-5 is a wide margin)."""
    lam = np.array([0.0, 1e-4, 0.01, 0.3, 2.0, 50.0])
    s = sigma_grid.edm(8)
    u = np.log(s)
    g = sigma_grid.ddim_kl_grad(lam, s)
    num = []
    for i in range(1, s.size - 1):
        up, dn = u.copy(), u.copy()
        up[i] += 1e-6
        dn[i] -= 1e-6
        num.append((sigma_grid.ddim_kl(lam, np.exp(up)) - sigma_grid.ddim_kl(lam, np.exp(dn)))
                   / 2e-6)  # fmt: skip
    np.testing.assert_allclose(g, num, rtol=1e-5)


def test_optimal_grid_on_a_two_scale_spectrum() -> None:
    """Two scales far apart: the optimum beats each scale's own tangent law and every named
    grid, and its gradient vanishes (converged)."""
    lam = np.array([1e-3, 10.0])
    s, kl = sigma_grid.optimal(lam, 10)
    assert kl == pytest.approx(sigma_grid.ddim_kl(lam, s), rel=1e-15)
    for other in (sigma_grid.tangent(10, 0.1**1.5), sigma_grid.tangent(10, 10**0.5),
                  sigma_grid.edm(10), sigma_grid.log_snr(10), sigma_grid.tangent(10, 1.0)):
        assert kl <= sigma_grid.ddim_kl(lam, other)
    assert np.max(np.abs(sigma_grid.ddim_kl_grad(lam, s))) < 1e-6 * kl


def test_verdicts_on_the_quick_preset(quick_table) -> None:
    verdicts = {(v.claim_id, str(v.setting)): v for v in so.verdicts(quick_table)}
    by_claim: dict[str, list] = {}
    for v in verdicts.values():
        by_claim.setdefault(v.claim_id, []).append(v)
    assert set(by_claim) == set(so.CLAIMS)
    assert by_claim["schedule.tangent_single_scale_optimal"][0].verdict == "holds"
    assert by_claim["schedule.optimal_beats_named"][0].verdict == "holds"
    # c = 1 on a CIFAR-10 spectrum whose median eigenvalue is ~2e-3: far worse than EDM
    assert by_claim["schedule.kl_optimal_transfers"][0].verdict == "fails"
    assert len(by_claim["schedule.tangent_misspecified"]) == 3
    assert all(v.verdict == "holds" for v in by_claim["schedule.tangent_misspecified"])
    assert "optimal" in so.report_section(quick_table)
