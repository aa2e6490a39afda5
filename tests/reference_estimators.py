"""Slow NumPy twins of the estimator kernels, written from the equations (SCIENCE.md 4-5).

Each function is the obviously-correct version of a numba kernel in
``simulate._kernels.lasso`` or ``simulate._kernels.estimators``; the tests compare them.
(To be merged into ``tests/reference.py``.)

Notation: a = sqrt(abar_t), v = 1 - abar_t, P (n, d) training points, x rows of inputs.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def soft_threshold(z: np.ndarray, tau: float) -> np.ndarray:
    """S(z, tau) = sign(z) max(|z| - tau, 0)."""
    return np.sign(z) * np.maximum(np.abs(z) - tau, 0.0)


def lasso_objective(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lam: float) -> float:
    """P(w, b) = 1/(2n) ||y - X w - b||^2 + lam ||w||_1 (scikit-learn's scaling)."""
    r = y - X @ w - b
    return float(r @ r / (2 * y.shape[0]) + lam * np.sum(np.abs(w)))


def lasso_gap(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> float:
    """Duality gap with the explicit residual (centred X, y): P(w) - D(s r).

    D(theta) = ||y||^2/(2n) - ||y - theta||^2/(2n), feasible when ||X^T theta / n||_inf <= lam;
    theta = s r with s = min(1, lam / ||X^T r / n||_inf).
    """
    n = y.shape[0]
    r = y - X @ w
    qmax = np.max(np.abs(X.T @ r / n)) if X.shape[1] else 0.0
    s = min(1.0, lam / qmax) if qmax > 0 else 1.0
    primal = r @ r / (2 * n) + lam * np.sum(np.abs(w))
    dual = y @ y / (2 * n) - (y - s * r) @ (y - s * r) / (2 * n)
    return float(primal - dual)


def lasso_cd(
    X: np.ndarray,
    y: np.ndarray,
    lam: float,
    fit_intercept: bool = True,
    tol: float = 1e-13,
    max_sweeps: int = 100_000,
) -> tuple[np.ndarray, float]:
    """Cyclic coordinate descent on the residual (Friedman et al. 2010, eq. 5).

    w_k <- S(x_k^T (r + x_k w_k) / n, lam) / (x_k^T x_k / n), sweeping until the largest
    change is below ``tol``. Returns (w, intercept).
    """
    n, p = X.shape
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
    y_mean = float(y.mean()) if fit_intercept else 0.0
    Xc, yc = X - x_mean, y - y_mean
    w = np.zeros(p)
    r = yc.copy()
    norms = np.einsum("ij,ij->j", Xc, Xc) / n
    for _ in range(max_sweeps):
        largest = 0.0
        for k in range(p):
            if norms[k] == 0.0:
                continue
            z = Xc[:, k] @ (r + Xc[:, k] * w[k]) / n
            new = float(soft_threshold(np.array(z), lam)) / norms[k]
            if new != w[k]:
                r -= Xc[:, k] * (new - w[k])
                largest = max(largest, abs(new - w[k]))
                w[k] = new
        if largest <= tol:
            break
    return w, y_mean - float(x_mean @ w)


def affine_score(x: np.ndarray, S: np.ndarray, b: np.ndarray) -> np.ndarray:
    """s(x) = S x + b at the rows of x."""
    return x @ S.T + b


def empirical_denoiser(
    x: np.ndarray, points: np.ndarray, alpha_bar: float, exclude: int = -1
) -> np.ndarray:
    """E[X_0 | X_t = x] under the empirical law of ``points`` (SCIENCE.md 4.2, Sigma_j = 0).

    Posterior weights w_i proportional to N(x; a P_i, v I), normalized with logsumexp;
    ``exclude`` drops one point (leave-one-out).
    """
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    keep = np.ones(points.shape[0], dtype=bool)
    if exclude >= 0:
        keep[exclude] = False
    P = points[keep]
    sq = np.sum((x[:, None, :] - a * P[None, :, :]) ** 2, axis=2)
    logw = -sq / (2 * v)
    w = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
    return w @ P


def empirical_score(x: np.ndarray, points: np.ndarray, alpha_bar: float) -> np.ndarray:
    """grad log of (1/n) sum_i N(x; a P_i, v I): -sum_i w_i (x - a P_i) / v."""
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    return -(x - a * empirical_denoiser(x, points, alpha_bar)) / v


def empirical_soft_score(
    x: np.ndarray, points: np.ndarray, alpha_bar: float, tau: float, on: str
) -> np.ndarray:
    """Soft-thresholded empirical minimizer: on the score, or on the denoiser + Tweedie."""
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    if on == "score":
        return soft_threshold(empirical_score(x, points, alpha_bar), tau)
    return (a * soft_threshold(empirical_denoiser(x, points, alpha_bar), tau) - x) / v
