"""diffusers' schedulers through simulate.diffusers_adapter (issue 28, item 3): DDPM and DDIM
reproduce our ddpm_posterior / ddim exact laws at float32 precision; every scheduler of the
table runs, is affine at float32 tolerance and has a finite exact W2 that falls with NFE.

Slow (marked) and skipped when the extra is not installed (``pip install -e ".[diffusers]"``).
"""

import sys

import numpy as np
import pytest

from simulate import exact
from simulate.cli import main
from simulate.outside import AFFINE_RTOL, probe_law, verify_sampler

pytest.importorskip("diffusers")
from simulate import diffusers_adapter  # noqa: E402  (after the skip: needs the extra)

pytestmark = pytest.mark.slow

RNG = np.random.default_rng(28)
LAM = np.concatenate([RNG.uniform(0.01, 3.0, 30), np.zeros(3)])
ZERO = np.zeros_like(LAM)
@pytest.mark.parametrize(("key", "ours"), [("DDPM", "ddpm_posterior"), ("DDIM", "ddim")])
@pytest.mark.parametrize("N", [10, 50, 250])
def test_ddpm_ddim_equal_ours(key, ours, N):
    """Up to its last noise level diffusers' scheduler is our sampler on the same abar grid
    (Ho et al. 2020 eq. 7 posterior variance; Song et al. 2021 eq. 12, eta = 0); its last
    step returns x0-hat(Y_1) = lam sqrt(abar_1) Y_1 / (abar_1 lam + v_1), so the final law
    is ours with variances times that factor squared."""
    s = diffusers_adapter.scheduler_sampler(key, N)
    grid = s.our_schedule()
    ref = exact.coordinate_law(LAM, ZERO, grid, ours)
    last = probe_law(s.at_last_level(), LAM)
    assert last.law is not None and last.dtype == "float32"
    rtol = diffusers_adapter.float32_rtol(N)
    np.testing.assert_allclose(last.law.variances, ref.variances, rtol=rtol)
    np.testing.assert_allclose(last.law.mean, 0.0, atol=rtol)
    a1, v1 = float(grid.alpha_bar[0]), float(grid.v[0])
    f = LAM * np.sqrt(a1) / (a1 * LAM + v1)
    final = probe_law(s, LAM)
    np.testing.assert_allclose(final.law.variances, f * f * ref.variances, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("key", list(diffusers_adapter.SCHEDULERS))
def test_every_scheduler_runs_affine_with_finite_w2(key):
    """Every scheduler of the table: affine at float32 tolerance, exact W2 finite, and W2 at
    N = 50 below W2 at N = 10 (each is a convergent scheme of order >= 1)."""
    w2 = {}
    for N in (10, 50):
        report = verify_sampler(diffusers_adapter.scheduler_sampler(key, N), LAM)
        assert report.passed, report.probed.reason
        assert report.probed.affine_error <= AFFINE_RTOL["float32"]
        row = report.table.set_index("against").loc["data"]
        assert np.isfinite(row["w2"])
        last = report.table.set_index("against").loc["last level"]
        assert np.isfinite(last["kl"]) and last["kl"] >= 0.0
        w2[N] = row["w2"]
    assert w2[50] < w2[10]


def test_noise_source_restored_and_used():
    """The scheduler module's randn_tensor is ours only during the run; DDPM's 49 draws at
    N = 50 (none at its last step, t = 0) all come from the suite."""
    import diffusers.schedulers.scheduling_ddpm as module

    before = module.randn_tensor
    probed = probe_law(diffusers_adapter.scheduler_sampler("DDPM", 50), LAM)
    assert module.randn_tensor is before
    assert probed.noise_calls == 49


def test_clip_and_threshold_off_and_prediction_type_honoured():
    """clip_sample is switched off; prediction_type "v_prediction" asks for v-hat and the law
    equals the epsilon one to float32 precision (the same DDIM, another parametrization)."""
    s = diffusers_adapter.scheduler_sampler("DDIM", 20)
    assert s.scheduler.config.clip_sample is False
    v = diffusers_adapter.scheduler_sampler("DDIM", 20, prediction_type="v_prediction")
    assert v.parametrization == "v"
    a, b = probe_law(s, LAM).law, probe_law(v, LAM).law
    np.testing.assert_allclose(b.variances, a.variances, rtol=1e-4, atol=1e-6)


def test_unknown_class_and_key():
    unknown = "'diffusers.NoSuchScheduler' is not a diffusers scheduler; allowed: .*DDIMScheduler"
    with pytest.raises(ValueError, match=unknown):
        diffusers_adapter.scheduler_class("diffusers.NoSuchScheduler")
    with pytest.raises(ValueError, match="has no configuration key 'nope'"):
        diffusers_adapter.scheduler_sampler("DDIM", 10, nope=1)
    with pytest.raises(ValueError, match="num_inference_steps=0"):
        diffusers_adapter.scheduler_sampler("DDIM", 0)


def test_cli_verify_sampler_scheduler(capsys):
    """regdiff verify-sampler --scheduler-class: exit 0 and the W2 row; unknown class: 2."""
    code = main(["verify-sampler", "--scheduler-class", "diffusers.DDIMScheduler", "--steps",
                 "20", "--data", "aligned", "--d", "64", "--s", "4"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "exact" in out and "DDIMScheduler" in out
    assert main(["verify-sampler", "--scheduler-class", "diffusers.Nope"]) == 2
    assert "not a diffusers scheduler" in capsys.readouterr().err
    assert sys.modules["diffusers"] is not None
