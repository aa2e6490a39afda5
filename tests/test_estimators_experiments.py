"""Experiments of issue 4 on tiny grids: the contract (tidy rows, verdict dicts, figures)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from simulate import judge, plotting
from simulate.experiments import r_sensitivity, sample_complexity

matplotlib.use("Agg")


def _check_verdicts(rows: list[judge.Verdict]) -> None:
    assert rows
    for row in rows:
        assert isinstance(row, judge.Verdict)
        if row.verdict != "not applicable":
            lo, hi = row.interval  # an interval is reported
            assert lo <= hi


def test_sample_complexity_tiny() -> None:
    config = sample_complexity.Config(
        n_grid=(32, 64, 128),
        d_grid=(3, 4, 6),
        s_grid=(1, 2, 3),
        n0=64,
        d0=4,
        s0=1,
        d_for_s=4,
        T=10,
        geometries=("aligned", "rotated"),
        replicates=2,
        n_eval=20,
    )
    df = sample_complexity.run(config)
    assert len(df) == len(sample_complexity.cells(config)) == 9 * 2 * 4 * 2
    for column in ("sweep", "geometry", "estimator", "n", "d", "s", "seed", "eps2", "pred_ls"):
        assert column in df
    assert np.all(np.isfinite(df["eps2"])) and np.all(df["eps2"] > 0)
    # paired design: the estimators of one grid point and replicate share the training seed
    assert (
        df.groupby(["sweep", "geometry", "n", "d", "s", "replicate"])["seed"].nunique().max() == 1
    )
    again = sample_complexity.run_cell(config, sample_complexity.cells(config)[5])
    assert again["eps2"] == df.iloc[5]["eps2"]  # reproducible
    rows = sample_complexity.verdicts(df)
    _check_verdicts(rows)
    assert {"estim.ls_rate", "estim.lasso_rate", "estim.ls_formula"} <= {r.claim_id for r in rows}
    # a sparse-estimation rate on rotated data: its premise is false
    rotated = [
        r for r in rows if r.claim_id == "estim.lasso_rate" and r.setting["geometry"] == "rotated"
    ]
    assert rotated and {(r.verdict, r.reason) for r in rotated} == {
        ("not applicable", "premise_false")
    }
    fig = plotting.plot_sample_complexity(df)
    assert len(fig.axes) == 3 * 2


def test_r_sensitivity_tiny() -> None:
    config = r_sensitivity.Config(factors=(0.1, 1.0, 10.0), d=4, s=1, n=40, T=10, replicates=2)
    df = r_sensitivity.run(config)
    per_rep = 2 + 2 * (3 + 1)  # exact, ls; per parametrization 3 factors and cv
    assert len(df) == per_rep * 2 * 2
    rule = df[df["choice"] == "rule"]
    assert np.all(rule["factor"] == 1.0) and np.all(rule["r_mean"] > 0)
    assert np.all(df[df["choice"] == "exact"]["eps2"] == 0.0)
    assert np.all(np.isfinite(df["kl_posterior"])) and np.all(df["kl_beta"] > 0)
    _check_verdicts(r_sensitivity.verdicts(df))
    fig = plotting.plot_r_sensitivity(df)
    assert len(fig.axes) == 2 * 3


def test_experiment_configs_validate() -> None:
    with pytest.raises(ValueError, match="estimators contains"):
        sample_complexity.Config(estimators=("mlp",))
    with pytest.raises(ValueError, match="need s <= d"):
        sample_complexity.Config(s_grid=(1, 100))
    with pytest.raises(ValueError, match=r"factors must contain 1\.0"):
        r_sensitivity.Config(factors=(0.1, 10.0))
    for module in (sample_complexity, r_sensitivity):
        assert module.Config.quick() != module.Config.full()
        assert isinstance(module.NAME, str)


def test_tables_are_tidy() -> None:
    """Every parameter and metric is a column; a row is one fit (pandas round trip)."""
    config = r_sensitivity.Config(factors=(1.0, 2.0), d=3, s=1, n=20, T=10, replicates=2, cv=False)
    df = r_sensitivity.run(config)
    back = pd.read_csv(pd.io.common.StringIO(df.to_csv(index=False)))
    assert list(back.columns) == list(df.columns)
