"""simulate.stats: the joint power-law fit used by experiment paper_bound."""

from __future__ import annotations

import numpy as np
import pytest

from simulate.stats import fit_power_law, fit_power_laws


def test_exact_power_law_is_recovered() -> None:
    rng = np.random.default_rng(0)
    d, s, T = (rng.uniform(1, 100, 20) for _ in range(3))
    y = 3.0 * d**1.5 * s**-2.0 * T**0.25
    fits = fit_power_laws({"d": d, "s": s, "T": T}, y)
    for name, p in (("d", 1.5), ("s", -2.0), ("T", 0.25)):
        assert fits[name].slope == pytest.approx(p, abs=1e-10)
        assert fits[name].r2 == pytest.approx(1.0)


def test_one_regressor_agrees_with_fit_power_law() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 50, 15)
    y = x**0.7 * np.exp(0.1 * rng.standard_normal(15))
    joint = fit_power_laws({"x": x}, y)["x"]
    single = fit_power_law(x, y)
    assert joint.slope == pytest.approx(single.slope, rel=1e-10)
    assert joint.ci_low == pytest.approx(single.ci_low, rel=1e-8)


def test_interval_covers_the_truth_at_its_level() -> None:
    """95% intervals over 400 noisy replicates cover the true exponent ~95% of the time."""
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(400):
        d, s = rng.uniform(1, 100, 12), rng.uniform(1, 10, 12)
        y = d**1.0 * s**-1.0 * np.exp(0.2 * rng.standard_normal(12))
        hits += fit_power_laws({"d": d, "s": s}, y)["d"].contains(1.0)
    # Binomial(400, 0.95): sd 4.4 hits; 4 sd band.
    assert abs(hits - 380) <= 4 * 4.4


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="needs > 3 paired points"):
        fit_power_laws({"a": np.ones(3), "b": np.ones(3)}, np.ones(3))
    with pytest.raises(ValueError, match="positive finite"):
        fit_power_laws({"a": np.array([1.0, 2, 3, -1])}, np.ones(4))
