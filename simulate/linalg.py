"""Structured matrices and the small linear-algebra helpers every module shares.

The exact laws of SCIENCE.md 3 are Gaussian with covariances of three shapes, and the affine
scores S_t x + b_t have matrices of the same three shapes:

=============  ==========================================================================
structure      the (d, d) matrix
=============  ==========================================================================
"diagonal"     diag(D)                               (aligned data with diagonal Sigma)
"block"        diag(D) off ``index``, a dense (k, k) block on ``index``  (aligned data,
               correlated Sigma: the support block plus the pure-noise coordinates)
"dense"        a dense (d, d) matrix                 (rotated data, fitted estimators)
=============  ==========================================================================

All three are one type, :class:`StructuredMatrix` (diagonal = a block on no coordinate,
dense = a block on every coordinate), so a consumer never branches on an array's ``ndim``
and the exact recursion costs O(T (k^3 + d)) on aligned data instead of O(T d^3).

Notation: ``diag`` -> D (its entries on ``index`` are unused and kept at 0), ``index`` -> the
sorted coordinates of the block, ``block`` -> the (k, k) block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg

from simulate._validation import check_finite_array, check_int, check_real, checked

__all__ = [
    "MATRIX_RTOL",
    "StructuredMatrix",
    "check_covariance",
    "haar_orthonormal",
    "least_squares",
    "psd_sqrt",
    "union_index",
]

#: Relative tolerance of "symmetric" and "positive semidefinite" for a matrix assembled by a
#: user: a few ulps of float64 round-off times its largest entry.
MATRIX_RTOL = 1e-10
#: ``least_squares`` solves the normal equations by Cholesky only when LAPACK's estimate of
#: 1 / cond_1(G) is at least this: the normal equations lose about cond(G) * 2.2e-16 of
#: relative accuracy, so at most ~2e-10 here (the SVD answers the rest, and every
#: rank-deficient problem, with its minimum-norm solution).
NORMAL_EQUATIONS_MIN_RCOND = 1e-6
#: Largest dimension of a dense (d, d) float64 matrix drawn here (0.8 GB at the cap).
MAX_DENSE_D = 10_000


@dataclass(frozen=True, eq=False)
class StructuredMatrix:
    """A (d, d) matrix: diagonal off ``index``, a dense block on ``index``.

    Build one with :meth:`diagonal`, :meth:`dense` or :meth:`with_block`; every accessor
    returns the same shape whatever the structure.
    """

    diag: np.ndarray
    index: np.ndarray
    block: np.ndarray

    def __post_init__(self) -> None:
        diag = check_finite_array("diag", self.diag, ndim=1)
        index = np.asarray(self.index, dtype=np.int64).reshape(-1)
        block = check_finite_array("block", self.block)
        d, k = diag.shape[0], index.shape[0]
        if block.shape != (k, k):
            raise ValueError(f"block must have shape ({k}, {k}) for {k} indices, got {block.shape}")
        if k and (np.any(np.diff(index) <= 0) or index[0] < 0 or index[-1] >= d):
            raise ValueError(f"index must be sorted, unique and in [0, {d - 1}]; got {index}")
        if k:
            diag = diag.copy()
            diag[index] = 0.0
        object.__setattr__(self, "diag", diag)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "block", block)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def diagonal(cls, diag: Any) -> StructuredMatrix:
        """diag(D)."""
        return cls(np.asarray(diag, dtype=np.float64), np.empty(0, np.int64), np.empty((0, 0)))

    @classmethod
    def dense(cls, matrix: Any) -> StructuredMatrix:
        """A dense (d, d) matrix."""
        m = check_finite_array("matrix", matrix, ndim=2)
        if m.shape[0] != m.shape[1]:
            raise ValueError(f"matrix must be square, got shape {m.shape}")
        d = m.shape[0]
        return cls(np.zeros(d), np.arange(d), m)

    @classmethod
    def with_block(cls, diag: Any, index: Any, block: Any) -> StructuredMatrix:
        """diag(D) off ``index`` and ``block`` on it."""
        return cls(np.asarray(diag, dtype=np.float64), index, block)

    # -- accessors (fixed shapes) ----------------------------------------------------------
    @property
    def d(self) -> int:
        return int(self.diag.shape[0])

    @property
    def structure(self) -> str:
        """"diagonal", "block" or "dense"."""
        k = self.index.shape[0]
        return "diagonal" if k == 0 else ("dense" if k == self.d else "block")

    def diagonal_entries(self) -> np.ndarray:
        """The (d,) diagonal of the matrix."""
        out = self.diag.copy()
        out[self.index] = np.diag(self.block)
        return out

    def to_dense(self) -> np.ndarray:
        """The (d, d) matrix."""
        if self.structure == "dense":
            return self.block.copy()
        out = np.diag(self.diag)
        out[np.ix_(self.index, self.index)] = self.block
        return out

    def off_block(self) -> np.ndarray:
        """Boolean (d,) mask of the coordinates outside the block."""
        mask = np.ones(self.d, dtype=bool)
        mask[self.index] = False
        return mask

    def right_multiply(self, a: np.ndarray) -> np.ndarray:
        """A M for an (m, d) matrix A, in O(m d + m k^2) (the block's k columns dense)."""
        out = a * self.diag
        if self.index.shape[0]:
            out[:, self.index] = a[:, self.index] @ self.block
        return out

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """M x for a (d,) vector."""
        out = self.diag * x
        if self.index.shape[0]:
            out[self.index] = self.block @ x[self.index]
        return out

    # -- algebra used by the exact recursion -----------------------------------------------
    def expand(self, index: np.ndarray) -> StructuredMatrix:
        """The same matrix with its block widened to ``index`` (a superset of self.index)."""
        index = np.asarray(index, dtype=np.int64)
        if np.array_equal(index, self.index):
            return self
        pos = np.searchsorted(index, self.index)
        block = np.diag(self.diag[index])
        block[np.ix_(pos, pos)] = self.block
        return StructuredMatrix(self.diag, index, block)

    def scaled_plus_identity(self, scale: float, shift: float) -> StructuredMatrix:
        """scale M + shift I (the sampler's M_t = A_t I + B_t S_t)."""
        diag = shift + scale * self.diag
        block = scale * self.block + shift * np.eye(self.index.shape[0])
        return StructuredMatrix(diag, self.index, block)

    def congruence(self, m: StructuredMatrix, shift: float) -> StructuredMatrix:
        """m C m^T + shift I for this symmetric C, symmetrized (C_{t-1} of SCIENCE.md 3)."""
        index = np.union1d(self.index, m.index)
        c, m = self.expand(index), m.expand(index)
        diag = m.diag * m.diag * c.diag + shift
        if index.shape[0]:
            block = m.block @ c.block @ m.block.T + shift * np.eye(index.shape[0])
            block = 0.5 * (block + block.T)
        else:
            block = c.block
        return StructuredMatrix(diag, index, block)


@checked
def union_index(*matrices: StructuredMatrix) -> np.ndarray:
    """The sorted union of the matrices' block coordinates."""
    index = matrices[0].index
    for m in matrices[1:]:
        index = np.union1d(index, m.index)
    return index


@checked
def least_squares(
    X: np.ndarray | None, Y: np.ndarray | None, G: np.ndarray, C: np.ndarray
) -> np.ndarray:
    """argmin_B ||Y - X B||_F, the minimum-norm one when it is not unique (``lstsq``).

    ``G = X^T X`` and ``C = X^T Y`` (any common positive scale) are given by the caller, who
    has them or needs them anyway. A well-conditioned G (``NORMAL_EQUATIONS_MIN_RCOND``) is
    solved by Cholesky, about 7x faster than ``numpy.linalg.lstsq``'s SVD at n = 1024,
    p = 287 (the answers agree to ~1e-15 there); otherwise the SVD of X (of G when X is None:
    a problem known only by its moments) gives the minimum-norm solution.
    """
    from scipy.linalg import lapack

    p = G.shape[0]
    if p:
        factor, info = lapack.dpotrf(G, lower=False, clean=True)
        if info == 0:
            rcond, info = lapack.dpocon(factor, float(np.max(np.sum(np.abs(G), axis=0))))
            if info == 0 and rcond >= NORMAL_EQUATIONS_MIN_RCOND:
                B, info = lapack.dpotrs(factor, C, lower=False)
                if info == 0:
                    return B
    if X is not None:
        return np.linalg.lstsq(X, Y, rcond=None)[0]
    return np.linalg.lstsq(G, C, rcond=None)[0]


@checked
def psd_sqrt(c: np.ndarray) -> np.ndarray:
    """The symmetric square root of a PSD matrix (eigenvalues below 0 clipped to 0)."""
    c = check_finite_array("c", c, ndim=2)
    if c.shape[0] != c.shape[1]:
        raise ValueError(f"c must be square, got shape {c.shape}")
    w, v = linalg.eigh(0.5 * (c + c.T))
    return (v * np.sqrt(np.maximum(w, 0.0))) @ v.T


@checked
def check_covariance(name: str, c: Any, rtol: float = MATRIX_RTOL) -> np.ndarray:
    """A finite, symmetric, positive semidefinite square matrix (within ``rtol`` of its scale).

    Raises ValueError naming ``name`` with the asymmetry or the smallest eigenvalue.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    rtol = check_real("rtol", rtol, low=0.0)
    c = check_finite_array(name, c, ndim=2)
    if c.shape[0] != c.shape[1]:
        raise ValueError(f"{name} must be square, got shape {c.shape}")
    scale = max(float(np.max(np.abs(c))), 1.0) if c.size else 1.0
    if c.size and np.max(np.abs(c - c.T)) > rtol * scale:
        raise ValueError(f"{name} must be symmetric; got an asymmetric matrix")
    eig_min = float(np.linalg.eigvalsh(c)[0]) if c.size else 0.0
    if eig_min < -rtol * scale:
        raise ValueError(
            f"{name} must be positive semidefinite; smallest eigenvalue {eig_min:.3g} < 0"
        )
    return c


@checked
def haar_orthonormal(rng: np.random.Generator, d: int, k: int) -> np.ndarray:
    """k Haar-distributed orthonormal columns in R^d: QR of a (d, k) Gaussian, signs fixed.

    Fixing the signs of R's diagonal makes the law exactly Haar (Mezzadri 2007).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    d = check_int("d", d, low=1, high=MAX_DENSE_D)
    k = check_int("k", k, low=1, high=d)
    q, r = np.linalg.qr(rng.standard_normal((d, k)))
    return np.ascontiguousarray(q * np.sign(np.diag(r)))
