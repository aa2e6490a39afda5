"""simulate.experiments._common: running cells and stamping provenance."""

from __future__ import annotations

import numpy as np
import pytest

from simulate.experiments._common import (
    code_version,
    correlated_subspace_gaussian,
    fitted_estimator,
    run_cells,
)


def _cell(config: dict, cell: tuple) -> dict | list[dict]:
    (i,) = cell
    row = {"i": i, "scale": config["scale"] * i}
    return row if i % 2 else [row, {**row, "twice": True}]


def test_run_cells_keeps_order_flattens_and_stamps_provenance(capsys) -> None:
    config = {"scale": 3}
    quiet = run_cells("demo", config, [(1,), (2,), (3,)], _cell)
    assert list(quiet["i"]) == [1, 2, 2, 3]
    assert list(quiet["scale"]) == [3, 6, 6, 9]
    assert set(quiet["code_version"]) == {code_version()}
    for col in ("numba_threads", "numpy_version", "numba_version"):
        assert col in quiet
    loud = run_cells("demo", config, [(1,), (2,), (3,)], _cell, progress=True, unit="x")
    assert loud.equals(quiet)
    assert "demo" in capsys.readouterr().err


def test_correlated_subspace_gaussian_has_the_stated_covariance() -> None:
    model = correlated_subspace_gaussian(10, 3, 0.5)
    lam = np.sort(np.asarray(model.lam, dtype=float))
    np.testing.assert_allclose(lam, [0.5, 0.5, 2.0], rtol=1e-12)  # 1 - rho, 1 + (s-1) rho
    x = model.sample(4000, 0)
    assert np.all(x[:, 3:] == 0.0)  # aligned: the support is the first s coordinates


def test_fitted_estimator_names() -> None:
    model = correlated_subspace_gaussian(6, 2, 0.5)
    assert type(fitted_estimator("ls", model, 0, n=32)).__name__ == "LinearDSM"
    l1 = fitted_estimator("l1_score", model, 0, n=32)
    assert (type(l1).__name__, l1.parametrization) == ("L1DSM", "score")
    with pytest.raises(ValueError, match="estimator 'nope' is not known; allowed: ls"):
        fitted_estimator("nope", model, 0, n=32)
