"""Intrinsic dimension of point clouds: scikit-dimension's TwoNN and MLE estimators.

Notation (code -> SCIENCE.md 7): ``x`` -> samples (n, d) of data or of a sampler's output;
the estimate is the "intrinsic dimension" k (or s) that the paper's bound is read in.

- TwoNN (Facco, d'Errico, Rodriguez & Laio 2017, Sci. Rep. 7): the ratio mu = r_2 / r_1 of
  the distances to the two nearest neighbours is Pareto(k) on a k-dimensional manifold;
  k is fitted by the line through the origin of -log(1 - F(mu)) against log mu, discarding
  the largest 10% of ratios (scikit-dimension's defaults).
- MLE (Levina & Bickel 2005, NIPS): per point, 1 / mean_j log(r_K / r_j) over the K nearest
  neighbours, averaged over points; K = ``n_neighbors``.

Both assume distinct points: exact duplicates (zero distances) are removed first.

Estimates on the catalogue (n = 2000 draws, seed 0; the digits: the 1797 images), checked by
``tests/test_models_intrinsic_sparsity.py`` within 15% where a dimension is declared:

======================================  ========  =====  ==========
model                                   declared  TwoNN  MLE (K=20)
======================================  ========  =====  ==========
SubspaceGaussian(20, 3)                 3         2.98   3.02
SubspaceGaussian(20, 3, rotate=True)    3         2.98   3.02
LowRankMixture.random(20, 4, 3)         4         4.04   3.99
Sphere(10, 3)                           2         1.97   1.98
Sphere(10, 6)                           5         4.87   4.89
Torus(8, 2)                             2         2.02   1.98
Rotated(Torus(8, 3))                    3         2.99   3.07
Box(10, 4)                              4         3.84   3.76
PaperToy3D()                            2         1.98   2.03
RandomSupportSparse(6, 2)               2         2.23   2.89
RandomSupportSparse(20, 3)              3         5.91   6.18
SpikeSlab(20, 0.15)                     None      4.79   4.68
Digits() (1797 images)                  None      8.91   6.84
======================================  ========  =====  ==========

A union of C(d, s) coordinate s-planes is only seen as s-dimensional when each plane holds
many points: at d = 20, s = 3 (1140 planes, about 2 points each) both estimators report
about 2 s; at d = 6, s = 2 (15 planes) TwoNN is close to s while MLE, whose K = 20
neighbourhoods straddle planes, is not.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from simulate._validation import checked, check_choice, check_finite_array, check_int

__all__ = ["ID_METHODS", "estimate_intrinsic_dim"]

ID_METHODS: tuple[str, ...] = ("twonn", "mle")


@checked
def estimate_intrinsic_dim(x: Any, method: str = "twonn", n_neighbors: int = 20) -> float:
    """Estimate the intrinsic dimension of the rows of ``x``.

    Parameters
    ----------
    x : array (n, d)
        Finite points; duplicate rows are dropped. At least ``n_neighbors + 2`` distinct
        rows are needed (3 for TwoNN).
    method : {"twonn", "mle"}
        ``skdim.id.TwoNN`` or ``skdim.id.MLE`` (module docstring).
    n_neighbors : int
        K of the MLE estimator (ignored by TwoNN), >= 2.

    Returns
    -------
    float
        The global estimate.
    """
    import skdim

    method = check_choice("method", method, ID_METHODS)
    n_neighbors = check_int("n_neighbors", n_neighbors, low=2)
    pts = check_finite_array("x", x, ndim=2)
    pts = np.unique(pts, axis=0)
    need = 3 if method == "twonn" else n_neighbors + 2
    if pts.shape[0] < need:
        raise ValueError(f"x has {pts.shape[0]} distinct rows; {method} needs at least {need}")
    with warnings.catch_warnings():
        # scikit-dimension's internals raise numpy/sklearn deprecation warnings on some
        # versions; they do not change the estimate.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        if method == "twonn":
            est = skdim.id.TwoNN().fit(pts)
        else:
            est = skdim.id.MLE().fit(pts, n_neighbors=n_neighbors)
    return float(est.dimension_)
