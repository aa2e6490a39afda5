"""Mixtures of Gaussians: full-rank, low-rank, and point masses (SCIENCE.md 4.2).

Notation (code -> SCIENCE.md 4.2):

=================  ================================================================
``weights``        pi_j, the mixture weights (non-negative, summing to 1)
``means``          mu_j (J, d)
``bases, lams``    Sigma_j = U_j diag(lam_j) U_j^T, U_j (d, r) orthonormal columns
``C_j``            a^2 Sigma_j + v I, the covariance of component j of q_t
``w_j(x)``         posterior component probabilities, softmax_j(log pi_j + log N(x; a mu_j, C_j))
=================  ================================================================

score(x) = -sum_j w_j(x) C_j^(-1) (x - a mu_j),
D_t(x)   = sum_j w_j(x) (mu_j + a Sigma_j C_j^(-1) (x - a mu_j)).
Weights are formed by log-sum-exp (the largest log-weight subtracted), so they stay finite
for alpha_bar near 1, where the log-densities are of order 1/v.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulate._kernels.models import _score_lowrank_mixture
from simulate._validation import check_finite_array, check_int, check_rng
from simulate.linalg import check_covariance, haar_orthonormal
from simulate.models.base import DataModel
from simulate.noise_level import noise_scales

__all__ = ["GaussianMixture", "LowRankMixture"]

#: Tolerance of "the weights sum to 1": float64 round-off of a sum of J weights.
WEIGHT_ATOL = 1e-10
#: Tolerance of U^T U = I for user-supplied bases (round-off of a QR or a hand-made basis).
ORTHONORMAL_ATOL = 1e-8
#: Eigenvalues below this fraction of the largest count as zero when reading off the rank.
RANK_RTOL = 1e-12


def check_weights(weights: Any, n_components: int) -> np.ndarray:
    """Mixture weights: shape (J,), every entry >= 0, sum 1 (within ``WEIGHT_ATOL``)."""
    if weights is None:
        return np.full(n_components, 1.0 / n_components)
    w = check_finite_array("weights", weights, ndim=1)
    if w.shape != (n_components,):
        raise ValueError(f"weights must have shape ({n_components},), got {w.shape}")
    if np.any(w < 0):
        raise ValueError(
            f"weights must be non-negative; got min {float(w.min()):g} (allowed: [0, 1])"
        )
    if abs(float(w.sum()) - 1.0) > WEIGHT_ATOL:
        raise ValueError(f"weights must sum to 1, got sum {float(w.sum()):.12g}")
    return w


class _Mixture(DataModel):
    """Shared machinery: validated (means, bases, lams, weights), kernel, NumPy denoiser."""

    means: np.ndarray
    bases: np.ndarray
    lams: np.ndarray
    weights: np.ndarray

    def _setup(
        self, means: np.ndarray, bases: np.ndarray, lams: np.ndarray, weights: np.ndarray
    ) -> None:
        self.n_components, self.d = means.shape
        self.means = np.ascontiguousarray(means, dtype=np.float64)
        self.bases = np.ascontiguousarray(bases, dtype=np.float64)
        self.lams = np.ascontiguousarray(np.maximum(lams, 0.0), dtype=np.float64)
        self.weights = weights
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(weights)
        top = float(self.lams.max()) if self.lams.size else 0.0
        self.intrinsic_dim = int(np.max(np.sum(self.lams > RANK_RTOL * top, axis=1))) if top else 0
        active = np.any(self.means != 0, axis=0)
        if self.lams.size:
            active |= np.any((np.abs(self.bases) * (self.lams[:, None, :] > 0)) > 0, axis=(0, 2))
        self.support = None if bool(np.all(active)) else active
        self._params = (self.means, self.bases, self.lams, self.log_weights)

    def score_kernel(self) -> tuple[Any, tuple]:
        return _score_lowrank_mixture, self._params

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        comp = rng.choice(self.n_components, size=n, p=self.weights)
        r = self.lams.shape[1]
        x = self.means[comp].copy()
        if r:
            z = rng.standard_normal((n, r)) * np.sqrt(self.lams[comp])
            for j in np.unique(comp):  # memory O(n d), not O(n d r)
                rows = comp == j
                x[rows] += z[rows] @ self.bases[j].T
        return x

    def responsibilities(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        """w_j(x), the posterior probabilities of the components given X_t = x, (n, J)."""
        x = self._check_points(x)
        a, v = noise_scales(alpha_bar)
        log_w = np.empty((x.shape[0], self.n_components))
        for j in range(self.n_components):
            quad, log_det, _, _ = self._component(x, j, a, v)
            log_w[:, j] = self.log_weights[j] - 0.5 * quad - 0.5 * log_det
        log_w -= log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        return w / w.sum(axis=1, keepdims=True)

    def _component(
        self, x: np.ndarray, j: int, a: float, v: float
    ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """Quadratic form, log det C_j, u = U_j^T (x - a mu_j) and the residual, per row."""
        diff = x - a * self.means[j]
        basis, lam = self.bases[j], self.lams[j]
        u = diff @ basis
        prec = a * a * lam + v
        resid = np.zeros_like(diff) if basis.shape[1] == self.d else diff - u @ basis.T
        quad = np.sum(u * u / prec, axis=1) + np.sum(resid * resid, axis=1) / v
        log_det = (self.d - lam.size) * math.log(v) + float(np.sum(np.log(prec)))
        return quad, log_det, u, resid

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        a, v = noise_scales(alpha_bar)
        w = self.responsibilities(x, alpha_bar)
        out = np.zeros_like(x)
        for j in range(self.n_components):
            _, _, u, _ = self._component(x, j, a, v)
            lam = self.lams[j]
            shrink = a * lam / (a * a * lam + v)
            out += w[:, j : j + 1] * (self.means[j] + (u * shrink) @ self.bases[j].T)
        return out


class GaussianMixture(_Mixture):
    """Mixture of J Gaussians N(mu_j, Sigma_j) with weights pi_j in R^d (SCIENCE.md 4.2).

    Parameters
    ----------
    means : array (J, d)
        Component means.
    covs : array (J, d, d) or (J, d), optional
        Component covariances (a (J, d) array means diagonal ones); each symmetric positive
        semidefinite. Default: identities.
    weights : array (J,), optional
        Non-negative, summing to 1. Default: uniform.

    Notes
    -----
    Each covariance is stored as its eigendecomposition (r = d columns), so the score costs
    O(J d^2) per point; ``intrinsic_dim`` is the largest rank of a covariance.
    """

    def __init__(self, means: Any, covs: Any = None, weights: Any = None) -> None:
        means = check_finite_array("means", means)
        if means.ndim == 1:
            means = means[None, :]
        if means.ndim != 2:
            raise ValueError(f"means must have shape (J, d), got {means.shape}")
        n_comp, d = means.shape
        if n_comp < 1 or d < 1:
            raise ValueError(f"means must have J >= 1 rows and d >= 1 columns, got {means.shape}")
        if covs is None:
            lams = np.ones((n_comp, d))
            bases = np.broadcast_to(np.eye(d), (n_comp, d, d)).copy()
        else:
            c = check_finite_array("covs", covs)
            if c.shape == (n_comp, d):
                if np.any(c < 0):
                    raise ValueError(f"covs (diagonal) must be >= 0; got min {float(c.min()):g}")
                lams = c.copy()
                bases = np.broadcast_to(np.eye(d), (n_comp, d, d)).copy()
            elif c.shape == (n_comp, d, d):
                lams = np.empty((n_comp, d))
                bases = np.empty((n_comp, d, d))
                for j in range(n_comp):
                    check_covariance(f"covs[{j}]", c[j])
                    lams[j], bases[j] = np.linalg.eigh(0.5 * (c[j] + c[j].T))
            else:
                raise ValueError(
                    f"covs must have shape ({n_comp}, {d}, {d}) or ({n_comp}, {d}), got {c.shape}"
                )
        self._setup(means, bases, lams, check_weights(weights, n_comp))
        self.name = f"gaussian_mixture(d={d}, J={n_comp})"


class LowRankMixture(_Mixture):
    """Mixture of J low-rank Gaussians N(mu_j, U_j diag(lam_j) U_j^T) (SCIENCE.md 4.2).

    Parameters
    ----------
    means : array (J, d)
        Component means.
    bases : array (J, d, r)
        Orthonormal columns U_j (r <= d; r = 0 gives point masses).
    variances : array (J, r), optional
        lam_j >= 0, the variances along the columns. Default: ones.
    weights : array (J,), optional
        Non-negative, summing to 1. Default: uniform.

    Notes
    -----
    The score costs O(J d r) per point. ``intrinsic_dim`` is the largest number of positive
    variances of a component (a union of affine r-dimensional pieces has dimension r).
    Use :meth:`random` for a mixture of random subspaces.
    """

    def __init__(self, means: Any, bases: Any, variances: Any = None, weights: Any = None) -> None:
        means = check_finite_array("means", means, ndim=2)
        n_comp, d = means.shape
        if n_comp < 1 or d < 1:
            raise ValueError(f"means must have J >= 1 rows and d >= 1 columns, got {means.shape}")
        bases = check_finite_array("bases", bases, ndim=3)
        if bases.shape[:2] != (n_comp, d) or bases.shape[2] > d:
            raise ValueError(
                f"bases must have shape ({n_comp}, {d}, r) with r <= {d}, got {bases.shape}"
            )
        r = bases.shape[2]
        for j in range(n_comp):
            gram = bases[j].T @ bases[j]
            if r and np.max(np.abs(gram - np.eye(r))) > ORTHONORMAL_ATOL:
                raise ValueError(f"bases[{j}] must have orthonormal columns (U^T U = I)")
        if variances is None:
            lams = np.ones((n_comp, r))
        else:
            lams = check_finite_array("variances", variances)
            if lams.shape != (n_comp, r):
                raise ValueError(f"variances must have shape ({n_comp}, {r}), got {lams.shape}")
            if np.any(lams < 0):
                raise ValueError(f"variances must be >= 0; got min {float(lams.min()):g}")
        self._setup(means, bases, lams, check_weights(weights, n_comp))
        self.name = f"lowrank_mixture(d={d}, J={n_comp}, r={r})"

    @classmethod
    def random(
        cls,
        d: int,
        k: int,
        n_components: int = 3,
        seed: int = 0,
        mean_scale: float = 2.0,
        aligned: bool = False,
    ) -> LowRankMixture:
        """J components on random k-dimensional subspaces, unit variances, uniform weights.

        Means are drawn N(0, mean_scale^2 I) inside each component's subspace. With
        ``aligned`` every component uses the first k coordinates (s-sparse data with a fixed
        support); otherwise each subspace is Haar-random (dense in the coordinates).
        """
        d = check_int("d", d, low=1)
        k = check_int("k", k, low=1, high=d)
        n_components = check_int("n_components", n_components, low=1)
        rng = check_rng(seed)
        bases = np.empty((n_components, d, k))
        means = np.empty((n_components, d))
        for j in range(n_components):
            if aligned:
                bases[j] = np.eye(d, k)
            else:
                bases[j] = haar_orthonormal(rng, d, k)
            means[j] = bases[j] @ (mean_scale * rng.standard_normal(k))
        return cls(means, bases)
