"""Gaussian data on a k-dimensional subspace of R^d (SCIENCE.md 4.1).

Notation (code -> SCIENCE.md 4.1):

=========  ===============================================================
``U``      orthonormal basis (d, k) of the subspace; x_0 = U z
``mean``   mu, the mean of z (k,)
``cov``    Sigma, the covariance of z (k, k), = Q diag(lam) Q^T
``V``      U Q: the eigenbasis of the data covariance inside R^d
``nu``     Q^T mu
=========  ===============================================================

score(x) = -(I - U U^T) x / v - U (a^2 Sigma + v I)^(-1) (U^T x - a mu),
D_t(x)   = U (mu + a Sigma (a^2 Sigma + v I)^(-1) (U^T x - a mu)).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from simulate._kernels import _score_subspace_gaussian
from simulate._validation import check_alpha_bar, check_finite_array, check_int, check_rng
from simulate.laws import GaussianLaw
from simulate.linalg import StructuredMatrix, check_covariance, haar_orthonormal
from simulate.models.base import DataModel
from simulate.noise_level import noise_scales, noise_variance

__all__ = ["SubspaceGaussian"]


class SubspaceGaussian(DataModel):
    """x_0 = U z, z ~ N(mean, cov): Gaussian data of intrinsic dimension k in R^d.

    Parameters
    ----------
    d : int
        Ambient dimension, d >= 1.
    k : int
        Intrinsic dimension, 1 <= k <= d.
    rotate : bool
        False: U = the first k coordinate vectors ("aligned": s-sparse data with the fixed
        support {0..k-1}). True: U = a random orthonormal basis drawn from ``seed``
        ("rotated": same intrinsic dimension, dense in the coordinates).
    mean : array (k,), optional
        Mean of z; default 0.
    cov : array (k, k) or (k,), optional
        Covariance of z (a vector means a diagonal); symmetric PSD; default identity.
    seed : int
        Seed of the random rotation (ignored when ``rotate`` is False).
    """

    def __init__(
        self,
        d: int,
        k: int,
        rotate: bool = False,
        mean: Any = None,
        cov: Any = None,
        seed: int = 0,
    ) -> None:
        self.d = d = check_int("d", d, low=1)
        self.k = k = check_int("k", k, low=1, high=d)
        self.rotate = bool(rotate)
        self.mean = np.zeros(k) if mean is None else check_finite_array("mean", mean, ndim=1)
        if self.mean.shape != (k,):
            raise ValueError(f"mean must have shape ({k},), got {self.mean.shape}")
        self.cov = self._check_cov(cov, k)
        diagonal_cov = np.count_nonzero(self.cov - np.diag(np.diag(self.cov))) == 0
        if diagonal_cov:
            lam, Q = np.diag(self.cov).copy(), np.eye(k)
        else:
            lam, Q = np.linalg.eigh(self.cov)
            lam = np.maximum(lam, 0.0)
        if self.rotate:
            U = haar_orthonormal(check_rng(seed), d, k)
            rows = np.arange(d)
        else:
            U = np.eye(d, k)
            rows = np.arange(k)
        self.U = np.ascontiguousarray(U)
        self.lam = lam
        self.V = np.ascontiguousarray(U if diagonal_cov else U @ Q)  # U I = U: skip O(d k^2)
        self.nu = Q.T @ self.mean
        self.intrinsic_dim = k
        self.support = None if self.rotate else np.arange(d) < k
        self.name = f"subspace_gaussian(d={d}, k={k}, {'rotated' if self.rotate else 'aligned'})"
        self._params = (
            np.ascontiguousarray(rows, dtype=np.int64),
            np.ascontiguousarray(self.V[rows]),
            np.ascontiguousarray(lam),
            np.ascontiguousarray(self.nu),
        )

    @staticmethod
    def _check_cov(cov: Any, k: int) -> np.ndarray:
        if cov is None:
            return np.eye(k)
        c = check_finite_array("cov", cov)
        if c.ndim == 1:  # variances: PSD iff each >= 0 (no O(k^3) eigenvalue check)
            if c.shape != (k,):
                raise ValueError(f"cov must have shape ({k}, {k}) or ({k},), got {c.shape}")
            if np.any(c < 0):
                raise ValueError(
                    f"cov must be positive semidefinite; smallest variance {c.min():.3g} < 0"
                )
            return np.diag(c)
        if c.shape != (k, k):
            raise ValueError(f"cov must have shape ({k}, {k}) or ({k},), got {c.shape}")
        return check_covariance("cov", c)

    # -- DataModel interface ----------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        w = self.nu + np.sqrt(self.lam) * rng.standard_normal((n, self.k))
        return w @ self.V.T

    def score_kernel(self) -> tuple[Any, tuple]:
        return _score_subspace_gaussian, self._params

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        a, v = noise_scales(alpha_bar)
        u = x @ self.V
        w = self.nu + a * self.lam / (a * a * self.lam + v) * (u - a * self.nu)
        return w @ self.V.T

    # -- Gaussian structure (used by simulate.exact) ----------------------------------------
    @functools.cached_property
    def is_diagonal(self) -> bool:
        """True when data covariance and every score matrix are diagonal in the coordinates
        (computed once: counting V's nonzeros is O(d k), and the exact law asks at every step)."""
        return not self.rotate and bool(np.all(np.count_nonzero(self.V, axis=0) == 1))

    @functools.cached_property
    def _diagonal_map(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values): column c of V is values[c] e_{rows[c]} when :attr:`is_diagonal`, so
        V diag(x) V^T and V x cost O(k), not O(d k) (d = k = 3072 in the CIFAR-10 table)."""
        rows = np.argmax(np.abs(self.V), axis=0)
        return rows, self.V[rows, np.arange(self.k)]

    def _apply_V(self, x: np.ndarray) -> np.ndarray:
        """V x, in O(k) for diagonal data."""
        if not self.is_diagonal:
            return self.V @ x
        rows, vals = self._diagonal_map
        out = np.zeros(self.d)
        out[rows] = vals * x
        return out

    def _structured(
        self, off_value: float, inside: np.ndarray, scale: float = 1.0
    ) -> StructuredMatrix:
        """off_value I + scale V diag(inside) V^T with the structure of the data.

        Diagonal when :attr:`is_diagonal`; aligned data with a correlated Sigma: a block on
        the support {0..k-1} and off_value on the d - k pure-noise coordinates, so the exact
        law costs O(T (k^3 + d)); rotated data: dense.
        """
        if self.is_diagonal:
            rows, vals = self._diagonal_map
            diag = np.full(self.d, off_value)
            diag[rows] += scale * (vals * vals * inside)
            return StructuredMatrix.diagonal(diag)
        if not self.rotate:
            Vs = self.V[: self.k]
            block = scale * (Vs * inside) @ Vs.T + off_value * np.eye(self.k)
            return StructuredMatrix.with_block(np.full(self.d, off_value), np.arange(self.k), block)
        return StructuredMatrix.dense(
            scale * (self.V * inside) @ self.V.T + off_value * np.eye(self.d)
        )

    def noised_law(self, alpha_bar: float) -> GaussianLaw:
        """Law of X_t = a X_0 + sqrt(v) W: N(a V nu, a^2 V diag(lam) V^T + v I)."""
        if float(alpha_bar) == 1.0 and noise_variance(alpha_bar) == 0.0:  # the data law
            a, v = 1.0, 0.0
        else:
            a, v = noise_scales(check_alpha_bar(alpha_bar))
        mean = a * self._apply_V(self.nu)
        return GaussianLaw(mean, self._structured(v, self.lam, scale=a * a))

    def affine_score(self, alpha_bar: float) -> tuple[StructuredMatrix, np.ndarray]:
        """score(x) = S x + b exactly: S = -I/v + V (I/v - D) V^T, b = a V D nu."""
        alpha_bar = check_alpha_bar(alpha_bar)
        a, v = noise_scales(alpha_bar)
        D = 1.0 / (a * a * self.lam + v)
        b = self._apply_V(a * D * self.nu)
        return self._structured(-1.0 / v, 1.0 / v - D), b
