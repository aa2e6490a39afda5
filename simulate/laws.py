"""Gaussian laws on R^d with a structured covariance (SCIENCE.md 3 and 4.1).

One type, :class:`GaussianLaw`, for the target q_t of a Gaussian model and for the exact output
law p_1 of an affine sampler. Its covariance is a :class:`simulate.linalg.StructuredMatrix`
(diagonal; support block + diagonal; dense), and its accessors return one shape each:

==================  ======================================================
``mean``            m, (d,)
``cov``             C, a StructuredMatrix
``variances``       diag(C), (d,)
``cov_matrix()``    C as a dense (d, d) array
==================  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate._validation import check_finite_array
from simulate.linalg import MATRIX_RTOL, StructuredMatrix, check_covariance

__all__ = ["GaussianLaw"]


@dataclass(frozen=True, eq=False)
class GaussianLaw:
    """N(mean, cov) on R^d, ``cov`` a :class:`~simulate.linalg.StructuredMatrix`.

    The covariance is validated at construction: its diagonal part non-negative and its dense
    block symmetric and positive semidefinite, each within ``MATRIX_RTOL`` times the matrix's
    largest entry (:func:`simulate.linalg.check_covariance`); otherwise ValueError naming
    ``cov``.
    """

    mean: np.ndarray
    cov: StructuredMatrix

    def __post_init__(self) -> None:
        mean = check_finite_array("mean", self.mean, ndim=1)
        if not isinstance(self.cov, StructuredMatrix):
            raise TypeError(
                f"cov must be a simulate.linalg.StructuredMatrix, got {type(self.cov).__name__}"
                " (use GaussianLaw.diagonal or GaussianLaw.dense for arrays)"
            )
        if self.cov.d != mean.shape[0]:
            raise ValueError(f"cov has d={self.cov.d}, mean has d={mean.shape[0]} (must match)")
        _check_psd(self.cov)
        object.__setattr__(self, "mean", mean)

    @classmethod
    def diagonal(cls, mean: Any, variances: Any) -> GaussianLaw:
        """N(mean, diag(variances))."""
        return cls(np.asarray(mean, dtype=np.float64), StructuredMatrix.diagonal(variances))

    @classmethod
    def dense(cls, mean: Any, cov: Any) -> GaussianLaw:
        """N(mean, cov) with a dense (d, d) covariance."""
        return cls(np.asarray(mean, dtype=np.float64), StructuredMatrix.dense(cov))

    @classmethod
    def standard(cls, d: int) -> GaussianLaw:
        """N(0, I_d), the sampler's Y_T."""
        return cls.diagonal(np.zeros(d), np.ones(d))

    @property
    def d(self) -> int:
        return int(self.mean.shape[0])

    @property
    def variances(self) -> np.ndarray:
        """The (d,) marginal variances diag(C)."""
        return self.cov.diagonal_entries()

    def cov_matrix(self) -> np.ndarray:
        """The covariance as a dense (d, d) array."""
        return self.cov.to_dense()


def _check_psd(cov: StructuredMatrix) -> None:
    """Diagonal part >= 0 and block symmetric PSD, within MATRIX_RTOL of the largest entry."""
    diag = cov.diag[cov.off_block()]
    scale = max(
        float(np.max(np.abs(diag))) if diag.size else 0.0,
        float(np.max(np.abs(cov.block))) if cov.block.size else 0.0,
        1.0,
    )
    if diag.size and float(np.min(diag)) < -MATRIX_RTOL * scale:
        i = int(np.flatnonzero(cov.off_block())[int(np.argmin(diag))])
        raise ValueError(
            f"cov must be positive semidefinite; variance {cov.diag[i]:.3g} < 0 at coordinate {i}"
        )
    if cov.block.size:
        check_covariance("cov", cov.block, rtol=MATRIX_RTOL)
