"""The oracle estimator: the data model's closed-form score (SCIENCE.md 5, "Exact")."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate.estimators.base import Estimator
from simulate.linalg import StructuredMatrix
from simulate.models.base import DataModel, GaussianModel, as_model

__all__ = ["Exact"]


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

    def score_kernel(self) -> tuple[Any, tuple] | None:
        return self.model.score_kernel()

    def affine_score(self, t: int) -> tuple[StructuredMatrix, np.ndarray]:
        """The model's exact (S_t, b_t); only Gaussian models (``GaussianModel``) have one."""
        if not isinstance(self.model, GaussianModel):
            raise TypeError(f"the exact score of {self.model!r} is not affine in x")
        return self.model.affine_score(self.alpha_bar(t))

    def __repr__(self) -> str:
        return f"Exact({self.model!r})"
