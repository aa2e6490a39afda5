"""Exact law of affine samplers on Gaussian models, without Monte Carlo (SCIENCE.md 3).

With an affine score estimate s_t(y) = S_t y + b_t, every sampler step
Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t is an affine-Gaussian map, so with
M_t = A_t I + B_t S_t (= (I + eta_t S_t)/sqrt(alpha_t) for the DDPM-type samplers):

    m_{t-1} = M_t m_t + B_t b_t,            C_{t-1} = M_t C_t M_t^T + C_t^2 I,

from m_T = 0, C_T = I (the convention Y_T ~ N(0, I)). When every S_t is diagonal this is d
independent scalar recursions, O(T d); otherwise full matrices, O(T d^3).

Notation: ``mean``, ``cov`` -> m, C; ``A, B, C`` -> the sampler coefficients of
``simulate.samplers.coefficients``; ``S, b`` -> ``estimator.affine_score(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate._validation import check_finite_array
from simulate.estimators import as_estimator
from simulate.samplers import coefficients
from simulate.schedules import Schedule

__all__ = ["GaussianLaw", "output_law", "target_law"]


@dataclass(frozen=True, eq=False)
class GaussianLaw:
    """N(mean, cov) on R^d; ``cov`` is (d,) when diagonal, else (d, d)."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        mean = check_finite_array("mean", self.mean, ndim=1)
        cov = check_finite_array("cov", self.cov)
        d = mean.shape[0]
        if cov.shape not in ((d,), (d, d)):
            raise ValueError(f"cov must have shape ({d},) or ({d}, {d}), got {cov.shape}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)

    @property
    def d(self) -> int:
        return int(self.mean.shape[0])

    @property
    def is_diagonal(self) -> bool:
        return self.cov.ndim == 1

    def full_cov(self) -> np.ndarray:
        """The covariance as a (d, d) matrix."""
        return np.diag(self.cov) if self.is_diagonal else self.cov


def target_law(model: Any, schedule: Schedule, t: int = 1) -> GaussianLaw:
    """q_t = law(X_t) of a Gaussian model (default t = 1: the law p_1 is compared with)."""
    if not hasattr(model, "noised_law"):
        raise TypeError(f"target_law needs a Gaussian model with noised_law(); got {model!r}")
    law = model.noised_law(float(schedule.alpha_bar[t - 1]))
    return GaussianLaw(law.mean, law.cov)


def output_law(
    estimator: Any, schedule: Schedule, variance: str = "beta", init: GaussianLaw | None = None
) -> GaussianLaw:
    """Exact law of Y_1 for an affine score estimate (SCIENCE.md 3).

    Parameters
    ----------
    estimator : Estimator or Gaussian model
        Must provide ``affine_score(t)``; a model means its exact score.
    schedule : Schedule
    variance : {"beta", "posterior", "ddim"}
    init : GaussianLaw, optional
        Law of Y_T; default N(0, I) (the convention). Passing q_T isolates the
        discretization error from the initialization error.
    """
    est = as_estimator(estimator)
    est.fit(schedule)
    coef = coefficients(schedule, variance)
    d, T = est.d, schedule.T
    mean = np.zeros(d) if init is None else init.mean.copy()
    diagonal = init is None or init.is_diagonal
    cov: np.ndarray = np.ones(d) if init is None else init.cov.copy()
    for t in range(T, 1, -1):
        S, b = est.affine_score(t)
        A_t, B_t, C_t = coef.A[t - 1], coef.B[t - 1], coef.C[t - 1]
        if diagonal and S.ndim == 1:
            M = A_t + B_t * S
            mean = M * mean + B_t * b
            cov = M * M * cov + C_t * C_t
            continue
        if diagonal:  # switch to full matrices from here on
            cov, diagonal = np.diag(cov), False
        M = B_t * (np.diag(S) if S.ndim == 1 else S) + A_t * np.eye(d)
        mean = M @ mean + B_t * b
        cov = M @ cov @ M.T + C_t * C_t * np.eye(d)
        cov = 0.5 * (cov + cov.T)
    return GaussianLaw(mean, cov)
