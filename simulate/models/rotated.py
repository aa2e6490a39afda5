"""Any model embedded by a random orthogonal matrix (SCIENCE.md 4, last paragraph).

Notation (code -> SCIENCE.md):

=========  ======================================================
``Q``      a Haar-random orthogonal matrix (d, d)
``inner``  the model of X_0; this model is the law of Q X_0
=========  ======================================================

score_Q(x) = Q score(Q^T x) and D_Q(x) = Q D(Q^T x) (orthogonal maps have Jacobian 1).
Rotation keeps every distance, hence the intrinsic dimension, and destroys coordinate
sparsity: the ablation that shows that an l1 penalty is basis dependent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._kernels.models import rotated_score_kernel
from simulate._validation import checked, check_alpha_bar, check_int, check_rng
from simulate.kernels import apply_row_kernel
from simulate.linalg import haar_orthonormal
from simulate.models.base import DataModel, as_model

__all__ = ["Rotated", "haar_orthogonal"]


#: Largest dimension of a Haar matrix (a dense (d, d) float64 array: 0.8 GB at the cap).
MAX_HAAR_D = 10_000


@checked
def haar_orthogonal(d: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A Haar-distributed orthogonal (d, d) matrix: QR of a Gaussian matrix, signs fixed."""
    d = check_int("d", d, low=1, high=MAX_HAAR_D)
    return haar_orthonormal(check_rng(seed), d, d)


class Rotated(DataModel):
    """The law of Q X_0 for a data model of X_0 and a Haar-random orthogonal Q.

    Parameters
    ----------
    model : DataModel or any object following the data-model protocol
        The model of X_0.
    seed : int
        Seed of Q.

    Notes
    -----
    Q is dense: memory O(d^2) and O(d^2) work per point on top of the inner model's.
    ``intrinsic_dim`` is the inner model's; ``support`` is None. The fused sampler path is
    available when the inner model has a numba kernel.
    """

    def __init__(self, model: Any, seed: int = 0) -> None:
        self.inner = as_model(model)
        self.d = self.inner.d
        self.seed = seed
        self.Q = haar_orthogonal(self.d, seed)
        self.intrinsic_dim = self.inner.intrinsic_dim
        self.support = None
        self.name = f"rotated({self.inner.name}, seed={seed})"

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.inner.sample(n, rng) @ self.Q.T

    def score_kernel(self) -> tuple[Any, tuple] | None:
        kernel = self.inner.score_kernel()
        if kernel is None:
            return None
        fn, params = kernel
        return rotated_score_kernel(fn), (self.Q, *params)

    def score(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        x = self._check_points(x)
        alpha_bar = check_alpha_bar(alpha_bar)
        kernel = self.score_kernel()
        if kernel is None:
            return self.inner.score(x @ self.Q, alpha_bar) @ self.Q.T
        fn, params = kernel
        return apply_row_kernel(fn, x, 0, alpha_bar, params)

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        return self.inner.denoiser(np.ascontiguousarray(x @ self.Q), alpha_bar) @ self.Q.T
