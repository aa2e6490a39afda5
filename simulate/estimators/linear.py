"""Per-step affine score by least squares: the unregularized DSM estimator (SCIENCE.md 5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._validation import check_choice, check_real
from simulate.estimators.base import (
    NOISE_MODES,
    SharedNoiseMoments,
    _AffineFitted,
    _training_points,
    training_pairs,
)
from simulate.linalg import least_squares
from simulate.noise_level import noise_scales
from simulate.schedules import Schedule

__all__ = ["LinearDSM"]


class LinearDSM(_AffineFitted):
    """Per-step affine denoiser by least squares: the unregularized DSM estimator.

    At each step t (SCIENCE.md 5, "Linear DSM"), regress x_0 on x_t over the n training
    pairs (fresh noise per step): D_t(x) = W_t x + c_t with (W_t, c_t) minimizing
    (1/n) sum_i ||x_0^(i) - W x_t^(i) - c||^2 (+ ``ridge`` ||W||_F^2); d^2 + d parameters
    per step. By Tweedie the score is affine, s_t(x) = S_t x + b_t with
    S_t = (a W_t - I) / v, b_t = a c_t / v; least squares on the DSM target gives the same
    fit.

    For n <= d (the centred design has rank < d) the least-squares solution is not unique;
    with ``ridge=0`` the minimum-norm solution is returned (``simulate.linalg.least_squares``:
    Cholesky of the normal equations when they are well conditioned, else the SVD), which is
    the limit of the ridge solution as ridge -> 0+. With ``ridge > 0`` the normal
    equations (X^T X / n + ridge I) W^T = X^T Y / n are solved.

    Parameters
    ----------
    data : data model or array (n, d)
        A model is sampled ``n`` times with ``seed``; an array is the training points.
    n : int, optional
        Number of training points to draw from a model (n >= 2).
    points : array (n, d), optional
        Training points by keyword.
    fit_intercept : bool
        Fit c_t (unpenalized); False forces c_t = 0.
    ridge : float
        Ridge level >= 0 (0: least squares, minimum norm when not unique).
    seed : int
        Seeds the points (model) and the per-step noise (:func:`training_noise`).
    noise : {"per_step", "shared"}
        Fresh training noise at every step (default) or one noise draw shared by all steps
        (:func:`~simulate.estimators.base.training_pairs`).
    """

    def __init__(
        self,
        data: Any = None,
        n: Any = None,
        *,
        points: Any = None,
        fit_intercept: bool = True,
        ridge: float = 0.0,
        seed: int = 0,
        noise: str = "per_step",
    ) -> None:
        self.noise = check_choice("noise", noise, NOISE_MODES)
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.fit_intercept = bool(fit_intercept)
        self.ridge = check_real("ridge", ridge, low=0.0)
        self.seed = int(seed)

    def _fit(self, schedule: Schedule) -> None:
        T, d = schedule.T, self.d
        S = np.empty((T, d, d))
        b = np.empty((T, d))
        eye = np.eye(d)
        moments = (
            SharedNoiseMoments(self.points, self.seed, self.fit_intercept)
            if self.noise == "shared"
            else None
        )
        for t in range(1, T + 1):
            alpha_bar_t = schedule.level(t)
            a, v = noise_scales(alpha_bar_t)
            if moments is not None:
                W, c = self._from_moments(moments.problem(alpha_bar_t, "x0"))
            else:
                xt, _ = training_pairs(self.points, self.seed, t, alpha_bar_t)
                W, c = self._least_squares(xt, self.points)
            S[t - 1] = (a * W - eye) / v
            b[t - 1] = a * c / v
        self._S, self._b = S, b

    def _from_moments(self, prob: Any) -> tuple[np.ndarray, np.ndarray]:
        """(W, c) from the step's sufficient statistics (shared noise): the normal equations
        (G + ridge I) W^T = C^T (``lstsq`` on them: minimum norm when G is singular)."""
        G = prob.G + self.ridge * np.eye(self.d) if self.ridge > 0.0 else prob.G
        W = np.ascontiguousarray(least_squares(None, None, G, prob.C.T).T)
        return W, prob.intercept(W)

    def _least_squares(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, d = X.shape
        if self.fit_intercept:
            x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
            Xc, Yc = X - x_mean, Y - y_mean
        else:
            x_mean, y_mean = np.zeros(d), np.zeros(Y.shape[1])
            Xc, Yc = X, Y
        if self.ridge > 0.0:
            B = np.linalg.solve(Xc.T @ Xc / n + self.ridge * np.eye(d), Xc.T @ Yc / n)
        else:
            B = least_squares(Xc, Yc, Xc.T @ Xc, Xc.T @ Yc)
        W = np.ascontiguousarray(B.T)
        return W, y_mean - W @ x_mean

    def __repr__(self) -> str:
        shared = ", noise='shared'" if self.noise == "shared" else ""
        return f"LinearDSM(n={self.n}, d={self.d}, ridge={self.ridge:g}{shared})"
