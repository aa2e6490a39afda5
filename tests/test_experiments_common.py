"""simulate.experiments._common: the shared model and estimator helpers."""

from __future__ import annotations

import numpy as np
import pytest

from simulate.experiments._common import correlated_subspace_gaussian, fitted_estimator


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
    assert (type(l1).__name__, l1.parametrization) == ("L1LinearDSM", "score")
    with pytest.raises(ValueError, match="estimator 'nope' is not known; allowed: ls"):
        fitted_estimator("nope", model, 0, n=32)
