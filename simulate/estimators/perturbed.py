"""A base score plus an injected error field of prescribed L2 size (SCIENCE.md 5)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulate._kernels.estimators import perturbed_kernel
from simulate._validation import check_choice, check_int, check_seed
from simulate.estimators.base import (
    STREAM_PERTURBATION,
    AffineScore,
    _check_per_step_input,
    _KernelEstimator,
    _per_step,
    as_estimator,
)
from simulate.linalg import StructuredMatrix
from simulate.models.base import GaussianModel
from simulate.schedules import Schedule

__all__ = ["Perturbed"]


class Perturbed(_KernelEstimator):
    """A base score plus an error field of prescribed L2 size (SCIENCE.md 5, "Perturbed").

    s_t(x) = base_t(x) + e_t(x), with E_{q_t} ||e_t(X_t)||^2 = eps_t^2 exactly. How the
    field is made (u_t drawn from ``default_rng([seed, STREAM_PERTURBATION, t])``):

    - ``field="constant"``: e_t(x) = eps_t u_t / ||u_t||. A constant vector has the same
      norm at every x, so its L2 size is eps_t under *any* law q_t (no model needed).
    - ``field="linear"``: e_t(x) = G_t (x - m_t) scaled so that
      tr(G_t C_t G_t^T) = eps_t^2, where (m_t, C_t) are the mean and covariance of q_t
      (from ``model.noised_law``, so Gaussian models only); then
      E ||e_t||^2 = tr(G_t C_t G_t^T) = eps_t^2 exactly.

    ``kind="dense"``: u_t ~ N(0, I_d), G_t with iid N(0, 1) entries. ``kind="sparse"``:
    u_t non-zero on ``n_nonzero`` coordinates drawn at random (per step), G_t = diag(u_t)
    there. Both fields are affine, so an affine base stays affine (``affine_score``).

    Parameters
    ----------
    base : Estimator or data model
        A model means its exact score.
    eps : float or array (T,)
        eps_t >= 0 (a scalar: the same at every step), so eps_score^2 of SCIENCE.md 1.1 is
        mean_t eps_t^2 exactly.
    kind : {"dense", "sparse"}
    seed : int
    field : {"constant", "linear"}
    n_nonzero : int
        Non-zero coordinates of a sparse field, 1 <= n_nonzero <= d.
    model : data model, optional
        Source of q_t for ``field="linear"``; default the base's model (``Exact``).
    """

    def __init__(
        self,
        base: Any,
        eps: Any,
        kind: str = "dense",
        seed: int = 0,
        *,
        field: str = "constant",
        n_nonzero: int = 1,
        model: Any = None,
    ) -> None:
        self.base = as_estimator(base)
        self.d = self.base.d
        self.eps = _check_per_step_input("eps", eps)
        self.kind = check_choice("kind", kind, ("dense", "sparse"))
        self.field = check_choice("field", field, ("constant", "linear"))
        self.seed = check_seed(seed)
        self.n_nonzero = check_int("n_nonzero", n_nonzero, low=1, high=self.d)
        self.model = model if model is not None else getattr(self.base, "model", None)
        if self.field == "linear" and not isinstance(self.model, GaussianModel):
            raise TypeError(
                "field='linear' needs the law of q_t: pass model= a Gaussian model with "
                f"noised_law() (got {self.model!r}); field='constant' works for any model"
            )
        self.eps_per_step: np.ndarray | None = None

    def _fit(self, schedule: Schedule) -> None:
        self.base = self.base.fit(schedule)
        T, d = schedule.T, self.d
        eps = _per_step("eps", self.eps, T)
        linear = self.field == "linear"
        G = np.zeros((T, d, d)) if linear else np.zeros((T, 0, 0))
        h = np.zeros((T, d))
        for t in range(1, T + 1):
            rng = np.random.default_rng([self.seed, STREAM_PERTURBATION, t])
            if self.kind == "dense":
                u = rng.standard_normal(d)
            else:
                u = np.zeros(d)
                idx = rng.choice(d, size=self.n_nonzero, replace=False)
                u[idx] = rng.standard_normal(self.n_nonzero)
            if not linear:
                h[t - 1] = eps[t - 1] * u / np.linalg.norm(u)
                continue
            Gt = rng.standard_normal((d, d)) if self.kind == "dense" else np.diag(u)
            law = self.model.noised_law(schedule.level(t))
            cov = law.cov_matrix()
            size2 = float(np.trace(Gt @ cov @ Gt.T))
            Gt = Gt * (eps[t - 1] / math.sqrt(size2))
            G[t - 1] = Gt
            h[t - 1] = -Gt @ law.mean
        self._G, self._h = G, h
        self.eps_per_step = eps

    def _kernel(self) -> tuple[Any, tuple]:
        base = self.base.score_kernel()
        if base is None:
            raise TypeError("the base estimator has no numba kernel")
        fn, params = base
        return perturbed_kernel(fn, self.field == "linear"), (self._G, self._h, *params)

    def score_kernel(self) -> tuple[Any, tuple] | None:
        if self.schedule is None:
            raise RuntimeError("Perturbed is not fitted: call fit(schedule) first")
        return self._kernel() if self.base.score_kernel() is not None else None

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        self.alpha_bar(t)  # fitted, and 1 <= t <= T
        if self.base.score_kernel() is not None:
            return super().score(x, t)
        x = self._check_x(x)
        out = np.array(self.base.score(x, t), dtype=np.float64)
        if self.field == "linear":
            out += x @ self._G[t - 1].T
        out += self._h[t - 1]
        return out

    def affine_score(self, t: int) -> tuple[StructuredMatrix, np.ndarray]:
        """The base's (S_t, b_t) plus the field's: b_t + h_t, and S_t + G_t (linear field)."""
        self.alpha_bar(t)
        if not isinstance(self.base, AffineScore):
            raise TypeError(f"the base estimate {self.base!r} is not affine in x")
        S, b = self.base.affine_score(t)
        b = b + self._h[t - 1]
        if self.field == "constant":
            return S, b
        return StructuredMatrix.dense(S.to_dense() + self._G[t - 1]), b

    def __repr__(self) -> str:
        return f"Perturbed({self.base!r}, eps={self.eps}, kind={self.kind!r}, field={self.field!r})"
