"""Empirical distributions: given points, and the scikit-learn digits (SCIENCE.md 4.2, 5).

Notation (code -> SCIENCE.md):

===========  ===============================================================
``points``   x^(1..n), the support of the empirical law (n, d), weight 1/n each
``a, v``     a = sqrt(abar_t), v = 1 - abar_t
``w_j(x)``   softmax_j(-||x - a x^(j)||^2 / (2 v)), the posterior over points
===========  ===============================================================

The empirical law is the mixture of point masses (Sigma_j = 0 in SCIENCE.md 4.2), so its
noised law is the Gaussian-smoothed empirical distribution and
score(x) = -sum_j w_j(x) (x - a x^(j)) / v,   D_t(x) = sum_j w_j(x) x^(j).
This is the exact score that the unregularized DSM minimizer over all functions attains
(SCIENCE.md 5, "Empirical"): it memorizes the points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._kernels.estimators import (
    _denoiser_empirical,
    _score_empirical,
    empirical_params,
)
from simulate._validation import check_finite_array, check_real
from simulate.kernels import apply_row_kernel
from simulate.models.mixtures import _Mixture

__all__ = ["DIGITS_N", "Digits", "Empirical"]

#: Number of 8 x 8 images in scikit-learn's copy of the UCI optical digits test set.
DIGITS_N = 1797


class Empirical(_Mixture):
    """The empirical distribution of given points, (1/n) sum_j delta_{x^(j)}.

    Parameters
    ----------
    points : array (n, d)
        Finite points (NaN or inf is an error). Duplicates are allowed (they add weight).

    Notes
    -----
    ``intrinsic_dim`` is 0 (a finite set); ``support`` marks the coordinates where some
    point is non-zero (None if all are). Score and denoiser cost O(n d) per query point.
    """

    def __init__(self, points: Any) -> None:
        pts = check_finite_array("points", points, ndim=2)
        n, d = pts.shape
        if n < 1 or d < 1:
            raise ValueError(f"points must have n >= 1 rows and d >= 1 columns, got {pts.shape}")
        self._setup(pts, np.empty((n, d, 0)), np.empty((n, 0)), np.full(n, 1.0 / n))
        self.points = self.means
        self._params = empirical_params(self.points)
        self.name = f"empirical(n={n}, d={d})"

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.points[rng.integers(0, self.n_components, size=n)]

    def score_kernel(self) -> tuple[Any, tuple]:
        """The one empirical-law kernel, shared with ``simulate.estimators.Empirical``."""
        return _score_empirical, self._params

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        return apply_row_kernel(_denoiser_empirical, x, 0, alpha_bar, self._params)


class Digits(Empirical):
    """The 8 x 8 handwritten digits shipped with scikit-learn, as an empirical model.

    d = 64 pixels, n = 1797 real images (``sklearn.datasets.load_digits``; no download).
    Pixel values 0..16 are mapped linearly to [low, high]: x = low + (high - low) p / 16.

    Parameters
    ----------
    low, high : float
        The stated range of the pixels, low < high. The default [0, 1] keeps the background
        at exactly 0, so the images are coordinate-sparse (about half the pixels are 0).

    Notes
    -----
    ``intrinsic_dim`` is None: the data set has no declared dimension (scikit-dimension's
    estimates are reported by ``estimate_intrinsic_dim``). ``labels`` holds the digit of
    each image.
    """

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        from sklearn.datasets import load_digits

        low = check_real("low", low)
        high = check_real("high", high)
        if not low < high:
            raise ValueError(f"low must be < high, got low={low:g}, high={high:g}")
        data = load_digits()
        pixels = np.asarray(data.data, dtype=np.float64)
        super().__init__(low + (high - low) * pixels / 16.0)
        self.low, self.high = low, high
        self.labels = np.asarray(data.target)
        self.intrinsic_dim = None
        self.name = f"digits(range=[{low:g}, {high:g}])"
