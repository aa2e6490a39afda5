"""Score estimators s_t, fitted per step of a schedule (SCIENCE.md section 5).

Notation (code -> SCIENCE.md):

=====================  ===========================================================
``t``                  step index 1..T of the fitted schedule; abar_t = alpha_bar[t-1]
``score(x, t)``        s_t(x), the estimate of grad log q_t(x)
``denoiser(x, t)``     the estimate of D_t(x) = E[X_0 | X_t = x] (Tweedie-linked)
``affine_score(t)``    (S_t, b_t) with s_t(y) = S_t y + b_t, for ``simulate.exact``
=====================  ===========================================================

Every estimator follows one protocol: ``fit(schedule)`` (the samplers call it when needed),
``score``, ``denoiser``, ``numba_score()`` -> ``(kernel, params)`` or None for the fused
sampler path, and ``affine_score(t)`` where the estimate is affine in x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._validation import check_int
from simulate.models.base import DataModel, as_model, denoiser_from_score
from simulate.schedules import Schedule

__all__ = ["Estimator", "Exact", "as_estimator"]


class Estimator:
    """Base class: holds the fitted schedule and checks the step index."""

    schedule: Schedule | None = None
    d: int

    def fit(self, schedule: Schedule) -> Estimator:
        """Fit (or re-fit) the per-step estimates for ``schedule``; returns self."""
        if not isinstance(schedule, Schedule):
            raise TypeError(
                f"schedule must be a simulate.schedules.Schedule, got {type(schedule).__name__}"
            )
        if not self.is_fitted_for(schedule):
            self._fit(schedule)
            self.schedule = schedule
        return self

    def _fit(self, schedule: Schedule) -> None:
        """Per-step fitting; the default (closed-form estimators) has nothing to fit."""

    def is_fitted_for(self, schedule: Schedule) -> bool:
        s = self.schedule
        return s is not None and (s is schedule or np.array_equal(s.beta, schedule.beta))

    def alpha_bar(self, t: int) -> float:
        """abar_t of the fitted schedule, after checking 1 <= t <= T."""
        if self.schedule is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(schedule) first")
        t = check_int("t", t, low=1, high=self.schedule.T)
        return float(self.schedule.alpha_bar[t - 1])

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        raise NotImplementedError

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        """Estimate of E[X_0 | X_t = x] by Tweedie from :meth:`score`."""
        return denoiser_from_score(
            np.asarray(x, dtype=np.float64), self.score(x, t), self.alpha_bar(t)
        )

    def numba_score(self) -> tuple[Any, tuple] | None:
        """``(kernel, params)`` for the fused sampler path, or None (batch path only)."""
        return None

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(S_t, b_t) with s_t(y) = S_t y + b_t; S_t diagonal (d,) or full (d, d)."""
        raise TypeError(f"{type(self).__name__} is not an affine score estimate")


class Exact(Estimator):
    """The oracle: the model's closed-form score grad log q_t (SCIENCE.md 5, "Exact").

    Parameters
    ----------
    model : DataModel or any object following the data-model protocol
        ``score(x, alpha_bar)`` of the model is evaluated at alpha_bar = abar_t.
    """

    def __init__(self, model: Any) -> None:
        self.model: DataModel = as_model(model)
        self.d = self.model.d

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        return self.model.score(x, self.alpha_bar(t))

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        return self.model.denoiser(x, self.alpha_bar(t))

    def numba_score(self) -> tuple[Any, tuple] | None:
        return self.model.numba_score()

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self.model, "affine_score"):
            raise TypeError(f"the exact score of {self.model!r} is not affine in x")
        return self.model.affine_score(self.alpha_bar(t))

    def __repr__(self) -> str:
        return f"Exact({self.model!r})"


def as_estimator(obj: Any) -> Estimator:
    """An estimator as is; a data model (built-in or user's) as its :class:`Exact` oracle."""
    return obj if isinstance(obj, Estimator) else Exact(obj)
