"""Outside samplers (simulate.outside): the probed affine map (P) recovers the exact law of
every built-in sampler (SCIENCE.md 3), and bad samplers get clear messages (issue 28)."""

import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simulate import exact, samplers, schedules
from simulate.outside import (
    AFFINE_RTOL,
    BuiltinSampler,
    GaussianPrediction,
    monte_carlo_moments,
    probe_law,
    verify_sampler,
)

#: The probe reads (a, b, c) as differences of float64 sampler outputs of size O(1) after
#: <= 160 model calls; the table law composes the same steps in closed form. Round-off of
#: both stays below 1e-12 relative (measured: 7e-14 worst over the ten samplers), so 1e-11
#: catches any wrong coefficient or missed noise draw (those are O(1e-3) or more).
PROBE_RTOL = 1e-11
#: Monte Carlo band: k standard errors (DESIGN.md: k >= 4), per coordinate, 24 coordinates.
K_SE = 5.0

RNG = np.random.default_rng(20261207)
LAM = np.concatenate([RNG.uniform(0.05, 3.0, 20), np.zeros(4)])  # four pure-noise coordinates
MU = RNG.normal(size=LAM.size)
CASES = [(schedules.li(40), name) for name in samplers.DISCRETE_SAMPLERS] + [
    (schedules.vp_sde(N=30), name) for name in samplers.CONTINUOUS_SAMPLERS
]


@pytest.mark.parametrize(("schedule", "name"), CASES, ids=[c[1] for c in CASES])
def test_probed_law_equals_coefficient_table_law(schedule, name):
    """Every built-in sampler run through the protocol: its probed law N(c, diag(a^2 +
    sum_k b_k^2)) equals exact.coordinate_law (the coefficient tables composed in closed
    form) to round-off, mean and variance, on data with a mean and zero eigenvalues."""
    probed = probe_law(BuiltinSampler(name, schedule), LAM, MU)
    ref = exact.coordinate_law(LAM, MU, schedule, name)
    assert probed.law is not None, probed.reason
    np.testing.assert_allclose(probed.law.mean, ref.mean, rtol=PROBE_RTOL, atol=PROBE_RTOL)
    np.testing.assert_allclose(probed.law.variances, ref.variances, rtol=PROBE_RTOL)
    stochastic = samplers.coefficients(schedule, name).C[1:].any() if name not in \
        samplers.MULTI_STAGE else False  # fmt: skip
    assert probed.noise_calls == (schedule.T - 1 if stochastic else 0)
    assert probed.nfe == samplers.nfe(schedule, name)
    assert probed.affine_error <= AFFINE_RTOL["float64"]


def test_probe_in_column_blocks_is_the_same_law():
    """Columns are independent: probing in blocks of 5 gives the law of one block."""
    s = BuiltinSampler("ddpm_posterior", schedules.li(20))
    whole, blocks = probe_law(s, LAM, MU), probe_law(s, LAM, MU, block=5)
    np.testing.assert_array_equal(whole.law.mean, blocks.law.mean)
    np.testing.assert_array_equal(whole.law.variances, blocks.law.variances)


def test_large_d_is_cheap():
    """d = 10^5 through the probe at T = 10: the probe is O(K d) per step (here under 20 s
    on a shared core; measured ~1 s), and the law matches the closed form."""
    lam = np.concatenate([np.ones(100), np.zeros(99_900)])
    sch = schedules.li(10)
    start = time.perf_counter()
    probed = probe_law(BuiltinSampler("ddpm_beta", sch), lam)
    assert time.perf_counter() - start < 20.0
    ref = exact.coordinate_law(lam, np.zeros_like(lam), sch, "ddpm_beta")
    np.testing.assert_allclose(probed.law.variances, ref.variances, rtol=PROBE_RTOL)


@pytest.mark.parametrize("param", ["epsilon", "sample", "v", "score"])
def test_gaussian_prediction_parametrizations_agree(param):
    """eps-hat, x0-hat, v-hat and the score of the same Gaussian law are one another's
    transforms: x = sqrt(abar) x0 + sqrt(v) eps, v-hat = sqrt(abar) eps - sqrt(v) x0,
    score = -eps / sqrt(v) (Salimans & Ho 2022)."""
    level = schedules.li(10).level(5)
    a, v = math.sqrt(float(level)), level.v
    x = RNG.normal(size=(3, LAM.size))
    out = GaussianPrediction(LAM, MU, param)(x, level)
    x0 = GaussianPrediction(LAM, MU, "sample")(x, level)
    eps = (x - a * x0) / math.sqrt(v)
    want = {"epsilon": eps, "sample": x0, "v": a * eps - math.sqrt(v) * x0,
            "score": -eps / math.sqrt(v)}[param]  # fmt: skip
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


def test_example_sampler_is_ddim_and_ddpm_posterior():
    """examples/my_sampler.py: eta = 0 is DDIM, eta = 1 is Ho's posterior variance."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    try:
        from my_sampler import make_sampler
    finally:
        sys.path.pop(0)
    for eta, name in ((0.0, "ddim"), (1.0, "ddpm_posterior")):
        probed = probe_law(make_sampler(30, eta), LAM, MU)
        ref = exact.coordinate_law(LAM, MU, schedules.linear(30), name)
        np.testing.assert_allclose(probed.law.variances, ref.variances, rtol=PROBE_RTOL)
        np.testing.assert_allclose(probed.law.mean, ref.mean, rtol=PROBE_RTOL, atol=PROBE_RTOL)


def test_verify_sampler_table_and_checks():
    """The report: W2 and KL to the data law (KL infinite: zero eigenvalues) from the law."""
    s = BuiltinSampler("ddim", schedules.li(30))
    report = verify_sampler(s, LAM, MU)
    assert report.passed
    row = report.table.iloc[0]
    assert row["method"] == "exact" and math.isinf(row["kl"])
    from simulate.laws import GaussianLaw
    from simulate.metrics import w2_gaussian

    want = w2_gaussian(exact.coordinate_law(LAM, MU, schedules.li(30), "ddim"),
                       GaussianLaw.diagonal(MU, LAM))  # fmt: skip
    assert row["w2"] == pytest.approx(want, rel=1e-9)


# -- bad samplers -------------------------------------------------------------------------------


class _Base:
    parametrization = "score"

    def __init__(self, T=10):
        self.sch = schedules.li(T)
        self.coef = samplers.coefficients(self.sch, "ddpm_beta")

    def step(self, y, model, t):
        return self.coef.A[t - 1] * y + self.coef.B[t - 1] * model(y, self.sch.level(t))


class WrongShape(_Base):
    def __call__(self, x, model, schedule, noise):
        return x[:, :-1]


class ReturnsNaN(_Base):
    def __call__(self, x, model, schedule, noise):
        return np.full_like(x, np.nan)


class IgnoresNoise(_Base):
    def __call__(self, x, model, schedule, noise):
        for t in range(self.sch.T, 1, -1):
            noise(x.shape)  # drawn, never used
            x = self.step(x, model, t)
        return x


class Thresholded(_Base):
    """Clips the state (not affine: the affine test must see it)."""

    def __call__(self, x, model, schedule, noise):
        for t in range(self.sch.T, 1, -1):
            x = np.clip(self.step(x, model, t), -1.0, 1.0)
            x = x + self.coef.C[t - 1] * noise(x.shape)
        return x


class OwnNoise(_Base):
    """Draws its own noise (no noise source): exact law unavailable, Monte Carlo instead."""

    def __call__(self, x, model, schedule, noise):
        rng = np.random.default_rng()
        for t in range(self.sch.T, 1, -1):
            x = self.step(x, model, t) + self.coef.C[t - 1] * rng.standard_normal(x.shape)
        return x


def test_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"sampler returned shape \(1, 23\); expected \(1, 24\)"):
        probe_law(WrongShape(), LAM)


def test_nan_is_named():
    with pytest.raises(ValueError, match="non-finite"):
        probe_law(ReturnsNaN(), LAM)


def test_ignored_noise_is_named():
    with pytest.raises(ValueError, match="does not depend on them"):
        probe_law(IgnoresNoise(), LAM)


def test_not_affine_falls_back_to_monte_carlo():
    """Clipping at 1 breaks (P) far beyond 1e-8; the report says so and gives moments with
    standard errors, and the moments agree with a direct Monte Carlo run within K_SE SE."""
    report = verify_sampler(Thresholded(), LAM, n_mc=4000)
    assert not report.passed
    assert report.probed.reason.startswith("not an affine sampler, exact law unavailable")
    assert report.table.iloc[0]["method"].startswith("Monte Carlo")
    m = report.moments
    assert np.all(np.abs(m.mean) <= K_SE * m.mean_se + 1e-12)  # zero-mean data, symmetric clip
    assert np.all(m.var <= 1.0 + K_SE * m.var_se)  # clipped to [-1, 1] plus the last noise


def test_own_noise_is_detected_and_monte_carlo_matches_exact_law():
    """A sampler drawing its own noise: 'draws its own noise', then Monte Carlo moments that
    agree with the exact ddpm_beta law within K_SE standard errors per coordinate."""
    s = OwnNoise()
    probed = probe_law(s, LAM)
    assert probed.law is None and "draws its own noise" in probed.reason
    m = monte_carlo_moments(s, LAM, n=4000, seed=3)
    ref = exact.coordinate_law(LAM, np.zeros_like(LAM), s.sch, "ddpm_beta")
    assert np.all(np.abs(m.mean - ref.mean) <= K_SE * m.mean_se)
    assert np.all(np.abs(m.var - ref.variances) <= K_SE * m.var_se)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lam": [-1.0, 1.0]}, "lam must be"),
        ({"lam": [np.nan]}, "lam must be"),
        ({"mu": [1.0]}, "mu must be"),
        ({"block": 0}, "block=0"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"lam": LAM} | kwargs
    lam = args.pop("lam")
    with pytest.raises(ValueError, match=match):
        probe_law(BuiltinSampler("ddim", schedules.li(10)), lam, **args)


def test_bad_parametrization_and_not_callable():
    class NoParam:
        def __call__(self, x, model, schedule, noise):
            return x

    with pytest.raises(ValueError, match=r"parametrization=None .*allowed: epsilon, sample"):
        probe_law(NoParam(), LAM)
    with pytest.raises(TypeError, match="sampler must be callable"):
        probe_law(42, LAM)


# -- regdiff verify-sampler ---------------------------------------------------------------------

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "my_sampler.py")


def test_cli_example_sampler_exit_0(capsys):
    """The README's command on the example sampler: exit 0, the exact row printed."""
    from simulate.cli import main

    code = main(["verify-sampler", f"{EXAMPLE}:make_sampler", "--set", "eta=0.5", "--set",
                 "T=20", "--data", "aligned", "--d", "32", "--s", "4"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "exact" in out and "DDIM(eta=0.5, T=20)" in out


def test_cli_not_affine_exit_1(tmp_path, capsys):
    from simulate.cli import main

    (tmp_path / "clipped.py").write_text(
        "from tests.test_outside import Thresholded\n\ndef make():\n    return Thresholded()\n"
    )
    code = main(["verify-sampler", f"{tmp_path / 'clipped.py'}:make", "--data", "aligned",
                 "--d", "8", "--s", "2"])  # fmt: skip
    assert code == 1
    assert "not an affine sampler, exact law unavailable" in capsys.readouterr().out


def test_cli_bad_input_exit_2(monkeypatch, capsys):
    """A missing factory, both target and class, and a missing diffusers extra: exit 2, the
    last naming what to install."""
    from simulate.cli import main

    assert main(["verify-sampler", f"{EXAMPLE}:nope"]) == 2
    assert "has no attribute 'nope'" in capsys.readouterr().err
    assert main(["verify-sampler", f"{EXAMPLE}:make_sampler", "--scheduler-class", "X"]) == 2
    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if the extra were not installed
    assert main(["verify-sampler", "--scheduler-class", "diffusers.DDIMScheduler"]) == 2
    assert 'pip install -e ".[diffusers]"' in capsys.readouterr().err
