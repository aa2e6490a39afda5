"""The exact score of the Gaussian-smoothed empirical law, and memorization (SCIENCE.md 5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._kernels.estimators import (
    _denoiser_empirical,
    _score_empirical,
    empirical_params,
)
from simulate._validation import check_finite_array, check_real
from simulate.estimators.base import _KernelEstimator, _training_points
from simulate.kernels import apply_row_kernel

__all__ = ["Empirical", "memorization"]


class Empirical(_KernelEstimator):
    """Exact score of the Gaussian-smoothed empirical law of n points (SCIENCE.md 5).

    q_t^emp = (1/n) sum_i N(a x_0^(i), v I), so (SCIENCE.md 4.2 with Sigma_j = 0)
    score(x) = (a Dhat(x) - x) / v, Dhat(x) = sum_i w_i(x) x_0^(i),
    w = softmax_i(-||x - a x_0^(i)||^2 / (2 v)). This is the minimizer of the DSM objective
    over all functions for these n points (with every noise draw): it reproduces the
    training points, i.e. it memorizes (:func:`memorization` measures how much).
    Nothing is fitted: the estimate is the same closed form at every step.

    Parameters
    ----------
    data : data model or array (n, d)
        A model is sampled ``n`` times with ``seed``; an array is the points themselves.
    n : int, optional
        Number of points to draw from a model (n >= 2).
    points : array (n, d), optional
        The training points by keyword.
    seed : int
    """

    def __init__(
        self, data: Any = None, n: Any = None, *, points: Any = None, seed: int = 0
    ) -> None:
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.seed = int(seed)
        self._params = empirical_params(self.points)

    def _kernel(self) -> tuple[Any, tuple]:
        return _score_empirical, self._params

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        """Dhat(x) = sum_i w_i(x) x_0^(i), computed directly (not through Tweedie)."""
        alpha_bar_t = self.alpha_bar(t)
        x = self._check_x(x)
        return apply_row_kernel(_denoiser_empirical, x, t, alpha_bar_t, self._params)

    def memorization(self, samples: Any, ratio: float = 1.0 / 3.0) -> dict[str, float]:
        """:func:`memorization` of ``samples`` against this estimator's training points."""
        return memorization(samples, self.points, ratio)

    def __repr__(self) -> str:
        return f"Empirical(n={self.n}, d={self.d})"


def memorization(samples: Any, points: Any, ratio: float = 1.0 / 3.0) -> dict[str, float]:
    """How much generated samples copy the training points.

    A sample counts as memorized when its distance to the nearest training point is below
    ``ratio`` times the distance to the second nearest (the criterion of Yoon, Choi, Kwon &
    Ryu, "Diffusion probabilistic models generalize when they fail to memorize", 2023,
    with ratio 1/3).

    Returns
    -------
    dict with ``memorized_fraction``, ``nn_distance_mean`` (mean distance to the nearest
    training point) and ``nn_ratio_median`` (median of nearest / second-nearest).
    """
    x = check_finite_array("samples", samples, ndim=2)
    p = check_finite_array("points", points, ndim=2)
    ratio = check_real("ratio", ratio, low=0.0, high=1.0, low_open=True)
    if x.shape[1] != p.shape[1]:
        raise ValueError(f"samples have width {x.shape[1]}, points {p.shape[1]} (must match)")
    if p.shape[0] < 2:
        raise ValueError("memorization needs at least 2 training points")
    nearest = np.empty(x.shape[0])
    second = np.empty(x.shape[0])
    p2 = np.einsum("ij,ij->i", p, p)
    chunk = max(1, 2**22 // max(p.shape[0], 1))
    for start in range(0, x.shape[0], chunk):
        xc = x[start : start + chunk]
        d2 = np.einsum("ij,ij->i", xc, xc)[:, None] - 2.0 * xc @ p.T + p2[None, :]
        two = np.partition(np.maximum(d2, 0.0), 1, axis=1)[:, :2]
        nearest[start : start + chunk] = np.sqrt(two[:, 0])
        second[start : start + chunk] = np.sqrt(two[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(second > 0.0, nearest / second, 0.0)
    return {
        "memorized_fraction": float(np.mean(r < ratio)),
        "nn_distance_mean": float(np.mean(nearest)),
        "nn_ratio_median": float(np.median(r)),
    }
