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

from typing import Any

from simulate.estimators import AffineScore, as_estimator
from simulate.laws import GaussianLaw
from simulate.models.base import GaussianModel
from simulate.samplers import coefficients
from simulate.schedules import Schedule

__all__ = ["GaussianLaw", "output_law", "target_law"]


def target_law(model: Any, schedule: Schedule, t: int = 1) -> GaussianLaw:
    """q_t = law(X_t) of a Gaussian model (default t = 1: the law p_1 is compared with)."""
    if not isinstance(model, GaussianModel):
        raise TypeError(f"target_law needs a Gaussian model with noised_law(); got {model!r}")
    return model.noised_law(schedule.level(t))


def output_law(
    estimator: Any, schedule: Schedule, variance: str = "beta", init: GaussianLaw | None = None
) -> GaussianLaw:
    """Exact law of Y_1 for an affine score estimate (SCIENCE.md 3).

    The covariance keeps the structure of the scores and the start: diagonal scores from a
    diagonal start cost O(T d); a support block of size k plus a diagonal, O(T (k^3 + d));
    dense scores, O(T d^3).

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
    if not isinstance(est, AffineScore):
        raise TypeError(f"{est!r} is not an affine score estimate: its exact law is not Gaussian")
    fitted = est.fit(schedule)
    assert isinstance(fitted, AffineScore)  # a fitted copy keeps the class
    coef = coefficients(schedule, variance)
    start = GaussianLaw.standard(est.d) if init is None else init
    if start.d != est.d:
        raise ValueError(f"init has d={start.d}, the estimator has d={est.d} (must match)")
    mean, cov = start.mean.copy(), start.cov
    for t in range(schedule.T, 1, -1):
        S, b = fitted.affine_score(t)
        A_t, B_t, C_t = coef.A[t - 1], coef.B[t - 1], coef.C[t - 1]
        M = S.scaled_plus_identity(B_t, A_t)  # M_t = A_t I + B_t S_t
        mean = M.matvec(mean) + B_t * b
        cov = cov.congruence(M, C_t * C_t)
    return GaussianLaw(mean, cov)
