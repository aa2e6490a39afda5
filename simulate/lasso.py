"""The lasso in scikit-learn's scaling, by coordinate descent on the Gram matrix.

Public face of ``simulate._kernels.lasso``: :func:`lasso` for one design and many outputs, and
:class:`GramProblem`, the sufficient statistics the l1 estimators solve many times (warm
starts, paths of levels). The paper's regularized DSM objective
(1/n) sum ||Y - f||^2 + r ||theta||_1 is this problem with alpha = r / 2.

Notation: ``X`` (n, p) the design, ``Y`` (n, m) the outputs, ``W`` (m, p) the coefficients,
``lam``/``alpha`` the level per output, ``G = X^T X / n``, ``C = Y^T X / n``.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate._kernels.lasso import _lasso_gap, _lasso_gram, _lasso_gram_serial
from simulate._validation import checked, check_finite_array, check_int, check_real
from simulate.linalg import least_squares

__all__ = [
    "LASSO_MAX_SWEEPS",
    "LASSO_PARALLEL_WORK",
    "LASSO_TOL",
    "POLISH_KKT_RTOL",
    "POLISH_MAX_ACTIVE",
    "POLISH_PRUNE_PASSES",
    "POLISH_ZERO_RTOL",
    "GramProblem",
    "LassoConvergenceWarning",
    "LassoResult",
    "lasso",
]

#: Relative duality-gap tolerance of the lasso: stop when gap <= tol * ||y||^2 / n (the
#: semantics of scikit-learn's ``tol``). 1e-10 is far below any statistical error here and
#: costs a few sweeps more than 1e-4 thanks to the linear convergence of coordinate descent.
LASSO_TOL = 1e-10
#: Iteration cap (full sweeps over the coordinates) per lasso problem.
LASSO_MAX_SWEEPS = 100_000
#: Smallest m p^2 (outputs x squared features) for which the lasso runs its parallel build
#: (the numbers are identical either way). Measured (benchmarks/bench_lasso.py, 2 cores
#: shared with other jobs): at d = 200 (m p^2 = 8e6) the serial build is faster, since a
#: warm-started step is a few milliseconds of work and thread wake-ups cost as much.
LASSO_PARALLEL_WORK = 2**26

#: Polishing (``GramProblem.solve``): after coordinate descent, each output's active set A
#: and signs are taken from its solution and the lasso's KKT equations on A,
#: G_AA w_A = c_A - lam sign(w_A), are solved by Cholesky. The result is kept only when it
#: keeps every sign and every inactive coordinate satisfies |c_j - G_jA w_A| <= lam (1 +
#: POLISH_KKT_RTOL) + POLISH_KKT_RTOL max|c|; it is then the exact lasso solution to round-off
#: (~1e-15 cond(G_AA)), instead of a point within the duality-gap tolerance (~sqrt(tol) in
#: the coefficients, 1e-5 at tol = 1e-10) whose last digits depend on where the sweeps
#: stopped, i.e. on the BLAS round-off of G (issue 32: that noise flipped the scaled rule's
#: stopping iteration and cross-validation's argmin).
POLISH_KKT_RTOL = 1e-9
#: A polished coefficient at most POLISH_ZERO_RTOL times its row's scale (its largest, or
#: sqrt(||y||^2 / n / max G_kk) when all are tiny, as at lam = lam_max) is set to zero
#: and the KKT system solved again without it (at most POLISH_PRUNE_PASSES times): such a
#: coefficient sits at the KKT boundary (|c_k - G_kA w_A| = lam to ~1e-9 relative), where
#: coordinate descent leaves it exactly 0 or tiny depending on round-off, and the number of
#: non-zeros (nnz_mean) jumped with it (4.3% in one r_sensitivity row, measured).
POLISH_ZERO_RTOL = 1e-9
POLISH_PRUNE_PASSES = 3
#: Largest active set polished (a Cholesky of |A|^3 / 3 flops per output; above it the
#: coordinate-descent solution is kept as it is).
POLISH_MAX_ACTIVE = 512


class LassoConvergenceWarning(UserWarning):
    """A lasso fit stopped at its iteration cap with a duality gap above tolerance."""


@dataclass(frozen=True, eq=False)
class LassoResult:
    """Solution of :func:`lasso`.

    Attributes
    ----------
    coef : numpy.ndarray
        (p,) for a single output, (m, p) for m outputs.
    intercept : float or numpy.ndarray
        The unpenalized intercept (0 when ``fit_intercept`` is False).
    gap : numpy.ndarray
        Duality gap per output, in the 1/(2n) scaling (``simulate._kernels.lasso``).
    sweeps : numpy.ndarray
        Coordinate-descent sweeps per output.
    converged : bool
        Every output reached gap <= tol * ||y_j||^2 / n.
    """

    coef: np.ndarray
    intercept: Any
    gap: np.ndarray
    sweeps: np.ndarray
    converged: bool


class GramProblem:
    """Sufficient statistics of a multi-output lasso: G = X^T X / n, C = Y^T X / n, yy.

    With ``fit_intercept`` the columns are centred first and the intercept is recovered
    as ybar - W xbar (it is not penalized), as scikit-learn does.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, fit_intercept: bool) -> None:
        n = X.shape[0]
        if fit_intercept:
            self.x_mean = X.mean(axis=0)
            self.y_mean = Y.mean(axis=0)
            Xc = X - self.x_mean
            Yc = Y - self.y_mean
        else:
            self.x_mean = np.zeros(X.shape[1])
            self.y_mean = np.zeros(Y.shape[1])
            Xc, Yc = X, Y
        self.n = n
        self._Xc, self._Yc = Xc, Yc  # kept for the least-squares case lam = 0
        self.G = np.ascontiguousarray(Xc.T @ Xc) / n
        self.C = np.ascontiguousarray(Yc.T @ Xc) / n
        self.yy = np.ascontiguousarray(np.einsum("ij,ij->j", Yc, Yc)) / n

    @classmethod
    def from_moments(
        cls, G: np.ndarray, C: np.ndarray, yy: np.ndarray, x_mean: np.ndarray,
        y_mean: np.ndarray, n: int,
    ) -> GramProblem:  # fmt: skip
        """The same problem from its sufficient statistics (centred G, C, yy and the means),
        without the data: an output with lam = 0 is then solved from the normal equations
        G w = c (``simulate.linalg.least_squares``: minimum norm when G is singular)."""
        self = cls.__new__(cls)
        self.x_mean, self.y_mean, self.n = x_mean, y_mean, int(n)
        self._Xc = self._Yc = None
        self.G = np.ascontiguousarray(G)
        self.C = np.ascontiguousarray(C)
        self.yy = np.ascontiguousarray(yy)
        return self

    @property
    def lam_max(self) -> float:
        """The smallest common level at which every coefficient is zero: max |C|."""
        return float(np.max(np.abs(self.C))) if self.C.size else 0.0

    def solve(
        self,
        lam: np.ndarray,
        W: np.ndarray,
        tol: float,
        max_iter: int,
        where: str,
        parallel: bool = True,
        failures: list[str] | None = None,
        polish: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Solve all outputs at levels ``lam`` (m,), warm-started from ``W`` (modified).

        ``polish`` (default) replaces each coordinate-descent solution by the exact KKT
        solution on its active set when valid (``POLISH_KKT_RTOL``); cross-validation's fold
        paths skip it (their losses are compared within ``CV_TIE_RTOL`` instead).

        Outputs with lam = 0 are solved as least squares (``simulate.linalg.least_squares``).

        Returns ``(W, gap, rr, sweeps)``. When an output hits the iteration cap, a message
        naming ``where`` and the gap is appended to ``failures``, or, if that is None, warned
        at once as a :class:`LassoConvergenceWarning`.
        """
        m = self.C.shape[0]
        gap = np.zeros(m)
        rr = np.empty(m)
        sweeps = np.zeros(m, dtype=np.int64)
        zero = lam == 0.0
        if np.any(zero):
            # lam = 0 is least squares, where the duality gap is the residual itself and never
            # vanishes: solve it directly (minimum norm when not unique, as LinearDSM does).
            if self._Xc is not None:
                B = least_squares(self._Xc, self._Yc[:, zero], self.G, self.C[zero].T)
                R = self._Yc[:, zero] - self._Xc @ B
                rr[zero] = np.einsum("ij,ij->j", R, R) / self.n
            else:  # from moments: ||y - X b||^2 / n = yy - 2 c.b + b.G b
                B = least_squares(None, None, self.G, self.C[zero].T)
                rr[zero] = (
                    self.yy[zero] - 2.0 * np.einsum("ji,ij->j", self.C[zero], B)
                    + np.einsum("ij,ij->j", B, self.G @ B)
                )
            W[zero] = B.T
        rest = np.flatnonzero(~zero)
        if rest.size:
            p = self.G.shape[0]
            parallel = parallel and rest.size * p * p >= LASSO_PARALLEL_WORK
            kernel = _lasso_gram if parallel else _lasso_gram_serial
            every = rest.size == m
            C = self.C if every else np.ascontiguousarray(self.C[rest])
            yy = self.yy if every else np.ascontiguousarray(self.yy[rest])
            lam_r = np.ascontiguousarray(lam if every else lam[rest])
            W_r = W if every else np.ascontiguousarray(W[rest])
            g, r, sw = np.empty(rest.size), np.empty(rest.size), np.empty(rest.size, np.int64)
            kernel(self.G, C, yy, lam_r, W_r, tol, max_iter, g, r, sw)
            if polish:
                self._polish(C, yy, lam_r, W_r, r, g)
            if not every:
                W[rest] = W_r
            gap[rest], rr[rest], sweeps[rest] = g, r, sw
        bad = np.flatnonzero(gap > tol * self.yy)
        if bad.size:
            j = int(bad[np.argmax(gap[bad])])
            message = (
                f"lasso did not converge {where}: after {max_iter} sweeps the duality gap "
                f"of output j={j} is {gap[j]:.3g} > tol * ||y_j||^2 / n = "
                f"{tol * self.yy[j]:.3g} ({bad.size} of {m} outputs above tolerance); "
                "raise max_iter or tol"
            )
            if failures is None:
                warnings.warn(message, LassoConvergenceWarning, stacklevel=3)
            else:
                failures.append(message)
        return W, gap, rr, sweeps

    def _polish(
        self,
        C: np.ndarray,
        yy: np.ndarray,
        lam: np.ndarray,
        W: np.ndarray,
        rr: np.ndarray,
        gap: np.ndarray,
    ) -> None:
        """Replace each row of ``W`` by the KKT solution on its active set when it is valid
        (``POLISH_KKT_RTOL``); update its ``rr`` and duality ``gap`` (the kernel's
        ``_lasso_gap`` at the polished point). In place."""
        from scipy.linalg import LinAlgError, cho_factor, cho_solve

        G = self.G
        for j in range(W.shape[0]):
            w = W[j]
            active = np.flatnonzero(w)
            if active.size == 0 or active.size > POLISH_MAX_ACTIVE:
                continue
            sign = np.sign(w[active])
            w_a = None
            for _ in range(POLISH_PRUNE_PASSES):
                if active.size == 0:
                    w_a = np.empty(0)
                    break
                try:
                    factor = cho_factor(
                        G[np.ix_(active, active)], lower=True, check_finite=False
                    )
                except LinAlgError:
                    w_a = None  # G_AA singular: not unique; keep coordinate descent
                    break
                w_a = cho_solve(factor, C[j, active] - lam[j] * sign, check_finite=False)
                if not np.all(np.isfinite(w_a)):
                    w_a = None
                    break
                # the coefficients' scale: the largest, or sqrt(yy / G_kk) (y per unit of x)
                g_max = float(np.max(np.diag(G)[active]))
                natural = np.sqrt(yy[j] / g_max) if g_max > 0 else 0.0
                scale = max(float(np.max(np.abs(w_a))), natural)
                small = np.abs(w_a) <= POLISH_ZERO_RTOL * scale
                if np.any((np.sign(w_a) != sign) & ~small):
                    w_a = None  # a sign flipped: the active set is not the solution's
                    break
                if not small.any():
                    break
                active, sign = active[~small], sign[~small]  # at the boundary: zero them
                w_a = None
            if w_a is None:
                continue
            grad = C[j] - G[:, active] @ w_a if active.size else C[j].copy()
            inactive = np.ones(w.shape[0], dtype=bool)
            inactive[active] = False
            bound = lam[j] * (1.0 + POLISH_KKT_RTOL)
            bound += POLISH_KKT_RTOL * float(np.max(np.abs(C[j])))
            if inactive.any() and float(np.max(np.abs(grad[inactive]))) > bound:
                continue
            w[:] = 0.0
            w[active] = w_a
            gap[j], rr[j] = _lasso_gap(C[j], w, grad, yy[j], lam[j])

    def intercept(self, W: np.ndarray) -> np.ndarray:
        return self.y_mean - W @ self.x_mean


@checked
def lasso(
    X: Any,
    y: Any,
    alpha: Any,
    *,
    fit_intercept: bool = True,
    tol: float = LASSO_TOL,
    max_iter: int = LASSO_MAX_SWEEPS,
    coef_init: Any = None,
    parallel: bool = True,
) -> LassoResult:
    """Lasso in scikit-learn's scaling, by coordinate descent on the Gram matrix.

    Solves, for every output column y_j,

        minimize_w  1/(2n) ||y_j - X w - b_j||^2 + alpha_j ||w||_1

    (b_j the unpenalized intercept), i.e. ``sklearn.linear_model.Lasso(alpha)``. The paper's
    regularized DSM objective (1/n) sum ||Y - f||^2 + r ||theta||_1 is this with
    alpha = r / 2. Algorithm and stopping rule: ``simulate._kernels.lasso``.

    Parameters
    ----------
    X : array (n, p)
    y : array (n,) or (n, m)
    alpha : float or array (m,)
        Non-negative levels, one per output or shared.
    fit_intercept : bool
    tol : float
        Stop when the duality gap <= tol * ||y_j - ybar_j||^2 / n.
    max_iter : int
        Cap on full sweeps; hitting it warns (:class:`LassoConvergenceWarning`).
    coef_init : array (p,) or (m, p), optional
        Warm start.
    parallel : bool
        Parallel loop over outputs (identical numbers to the serial build).
    """
    X = check_finite_array("X", X, ndim=2)
    y_arr = check_finite_array("y", y)
    single = y_arr.ndim == 1
    Y = y_arr[:, None] if single else y_arr
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, m), got {y_arr.shape}"
        )
    n, p = X.shape
    check_int("n (rows of X)", n, low=1)
    m = Y.shape[1]
    lam = _levels("alpha", alpha, m)
    tol = check_real("tol", tol, low=0.0)
    max_iter = check_int("max_iter", max_iter, low=1)
    prob = GramProblem(X, Y, bool(fit_intercept))
    if coef_init is None:
        W = np.zeros((m, p))
    else:
        W = np.array(check_finite_array("coef_init", coef_init), dtype=np.float64)
        if W.shape not in ((p,), (m, p)) or (W.ndim == 1 and m != 1):
            raise ValueError(
                f"coef_init must have shape ({p},) for one output or ({m}, {p}); got {W.shape}"
            )
        W = W.reshape(m, p)
    W, gap, _, sweeps = prob.solve(lam, W, tol, max_iter, "in lasso()", parallel)
    intercept = prob.intercept(W) if fit_intercept else np.zeros(m)
    converged = bool(np.all(gap <= tol * prob.yy))
    if single:
        return LassoResult(W[0], float(intercept[0]), gap, sweeps, converged)
    return LassoResult(W, intercept, gap, sweeps, converged)


def _levels(name: str, value: Any, m: int) -> np.ndarray:
    """A non-negative finite level per output from a scalar or an (m,) array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        check_real(name, value, low=0.0)
        return np.full(m, float(value))
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (m,):
        raise ValueError(f"{name} must be a non-negative real or an array of shape ({m},)")
    for j, a in enumerate(arr):
        check_real(f"{name}[{j}]", float(a), low=0.0)
    return np.ascontiguousarray(arr)


