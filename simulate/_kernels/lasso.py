"""Lasso by cyclic coordinate descent on the Gram matrix (SCIENCE.md section 5).

Problem (scikit-learn's scaling, one output column j at a time):

    minimize_w  P(w) = 1/(2n) ||y_j - X w||^2 + lam_j ||w||_1,

where X (n, p) and y_j are already centred when an intercept is fitted. The solver never
touches X: it works with the sufficient statistics

=========  ===============================  =========================================
code       symbol                           shape
=========  ===============================  =========================================
``G``      X^T X / n                        (p, p)
``C``      X^T Y / n                        (m, p): row j is c_j = X^T y_j / n
``yy``     ||y_j||^2 / n                    (m,)
``lam``    lam_j                            (m,)
``W``      w_j (coefficients)               (m, p): warm start in, solution out
``Q``      q_j = c_j - G w_j = X^T r_j / n  (m, p): the correlation with the residual
=========  ===============================  =========================================

Coordinate step (Friedman, Hastie & Tibshirani 2010, eq. 5, without the elastic-net term):
with z = q_k + G_kk w_k, the new w_k = S(z, lam) / G_kk, S the soft-threshold, and q is
updated by q <- q - G[:, k] (w_k_new - w_k). One sweep costs O(p) plus O(p) per changed
coordinate, so the inactive coordinates are checked at O(1) each.

Stopping rule: the duality gap. With residual r = y - X w, the dual point
theta = s r, s = min(1, lam / ||q||_inf), is feasible for the dual
D(theta) = ||y||^2/(2n) - ||y - theta||^2/(2n) s.t. ||X^T theta / n||_inf <= lam, and

    gap = P(w) - D(theta) = rr (1 + s^2) / 2 - s (yy - c.w) + lam ||w||_1,
    rr = ||r||^2 / n = yy - c.w - q.w,

which is scikit-learn's gap (``enet_coordinate_descent_gram``) divided by n. A column stops
when gap <= tol * yy (scikit-learn's relative tolerance). Columns are independent, so the
parallel loop over them gives the same numbers as the serial one.

Active set: coordinate descent converges slowly on ill-conditioned designs (strongly
correlated features: rotated data at low noise), but it gets near the final active set A
early. When the sweeps have not converged after ``FEATURE_SIGN_FIRST_SWEEP`` (then 2x,
4x, ...) sweeps, feature-sign search (``_feature_sign``, an exact active-set method: the
KKT system G_AA w_A = c_A - lam sign(w_A) solved by Cholesky, with a line search over sign
changes) finishes from the current point.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulate._kernels.config import jit

#: Coordinate-descent sweeps before the first feature-sign attempt (then 2x, 4x, ...): a
#: well-conditioned problem has converged by then and never pays for the exact solves.
FEATURE_SIGN_FIRST_SWEEP = 8
#: Iteration cap of one feature-sign run, per coordinate.
FEATURE_SIGN_MAX_ITER_PER_COORD = 4
#: Round-off slack of its KKT checks, relative to max(lam, max_j |c_j|).
FEATURE_SIGN_RTOL = 1e-11


@jit
def _soft_threshold(z, lam):
    """S(z, lam) = sign(z) max(|z| - lam, 0)."""
    if z > lam:
        return z - lam
    if z < -lam:
        return z + lam
    return 0.0


@jit
def _lasso_gap(c, w, q, yy, lam):
    """Duality gap and rr = ||r||^2 / n of one column (module docstring)."""
    p = w.shape[0]
    cw = 0.0
    qw = 0.0
    l1 = 0.0
    qmax = 0.0
    for k in range(p):
        cw += c[k] * w[k]
        qw += q[k] * w[k]
        l1 += abs(w[k])
        if abs(q[k]) > qmax:
            qmax = abs(q[k])
    rr = yy - cw - qw
    if rr < 0.0:  # round-off when the fit is (nearly) exact
        rr = 0.0
    s = 1.0
    if qmax > lam:
        s = lam / qmax
    gap = 0.5 * rr * (1.0 + s * s) - s * (yy - cw) + lam * l1
    return gap, rr


@jit
def _cholesky_solve(M, b):
    """Solve M x = b in place (x -> b, the factor -> M) for symmetric positive definite M.

    Returns False, leaving garbage, when a pivot is not positive (M singular or indefinite
    to round-off): the caller then keeps iterating coordinate descent instead.
    """
    k = M.shape[0]
    for j in range(k):
        pivot = M[j, j]
        for m in range(j):
            pivot -= M[j, m] * M[j, m]
        if not pivot > 0.0:
            return False
        root = math.sqrt(pivot)
        M[j, j] = root
        for i in range(j + 1, k):
            acc = M[i, j]
            for m in range(j):
                acc -= M[i, m] * M[j, m]
            M[i, j] = acc / root
    for i in range(k):  # L y = b
        acc = b[i]
        for m in range(i):
            acc -= M[i, m] * b[m]
        b[i] = acc / M[i, i]
    for i in range(k - 1, -1, -1):  # L^T x = y
        acc = b[i]
        for m in range(i + 1, k):
            acc -= M[m, i] * b[m]
        b[i] = acc / M[i, i]
    return True


@jit
def _objective(G, c, lam, w, idx, k):
    """f(w) = w^T G w / 2 - c.w + lam ||w||_1 over the coordinates idx[:k] (others zero).

    f = P(w) - yy/2 in the Gram form (module docstring).
    """
    quad = 0.0
    lin = 0.0
    l1 = 0.0
    for a in range(k):
        i = idx[a]
        wi = w[i]
        acc = 0.0
        for b in range(k):
            acc += G[i, idx[b]] * w[idx[b]]
        quad += wi * acc
        lin += c[i] * wi
        l1 += abs(wi)
    return 0.5 * quad - lin + lam * l1


@jit
def _feature_sign(G, c, lam, w, q, max_iter):
    """Feature-sign search (Lee, Battle, Raina & Ng, NIPS 2006, Algorithm 1) from w.

    An active-set method: with signs theta fixed on the active set A, the lasso is a
    quadratic whose minimizer x solves G_AA x = c_A - lam theta_A (Cholesky); a discrete line
    search from w_A to x over the points where a coordinate changes sign takes the lowest
    objective, zeroed coordinates leave A, and a zero coordinate with |q_j| > lam enters A
    with theta_j = sign(q_j). Every step lowers the objective, so it ends after finitely
    many sign patterns at the exact solution (up to round-off). Used after coordinate
    descent has found a near-final active set on an ill-conditioned design, where the
    sweeps would take thousands of iterations. Works in place on w and q; returns True
    when the KKT conditions hold, False on the iteration cap or a singular G_AA.
    """
    p = w.shape[0]
    theta = np.zeros(p)
    for j in range(p):
        if w[j] > 0.0:
            theta[j] = 1.0
        elif w[j] < 0.0:
            theta[j] = -1.0
    idx = np.empty(p, dtype=np.int64)
    trial = np.empty(p)
    scale = lam
    for j in range(p):
        scale = max(scale, abs(c[j]))
    slack = FEATURE_SIGN_RTOL * scale
    for _ in range(max_iter):
        # optimality on the non-zero coordinates: q_j = lam theta_j
        nonzero_ok = True
        for j in range(p):
            if theta[j] != 0.0 and abs(q[j] - lam * theta[j]) > slack:
                nonzero_ok = False
                break
        if nonzero_ok:
            best, best_j = lam + slack, -1
            for j in range(p):
                if theta[j] == 0.0 and abs(q[j]) > best:
                    best, best_j = abs(q[j]), j
            if best_j < 0:
                return True
            theta[best_j] = 1.0 if q[best_j] > 0.0 else -1.0
        k = 0
        for j in range(p):
            if theta[j] != 0.0:
                idx[k] = j
                k += 1
        M = np.empty((k, k))
        x = np.empty(k)
        for a in range(k):
            i = idx[a]
            x[a] = c[i] - lam * theta[i]
            for b in range(k):
                M[a, b] = G[i, idx[b]]
        if not _cholesky_solve(M, x):
            return False
        # discrete line search: t = 1 and every sign change of a non-zero coordinate; no
        # decrease below the current objective means no progress: leave it to the sweeps.
        current = _objective(G, c, lam, w, idx, k)
        for a in range(k):
            trial[idx[a]] = x[a]
        best_t = 1.0
        best_f = _objective(G, c, lam, trial, idx, k)
        for a in range(k):
            i = idx[a]
            if w[i] != 0.0 and (x[a] > 0.0) != (w[i] > 0.0):
                t = w[i] / (w[i] - x[a])
                for b in range(k):
                    ib = idx[b]
                    trial[ib] = w[ib] + t * (x[b] - w[ib])
                trial[i] = 0.0
                f = _objective(G, c, lam, trial, idx, k)
                if f < best_f:
                    best_f, best_t = f, t
        if not best_f < current:
            return False
        for b in range(k):
            ib = idx[b]
            new = x[b] if best_t == 1.0 else w[ib] + best_t * (x[b] - w[ib])
            if best_t != 1.0 and w[ib] != 0.0 and (x[b] > 0.0) != (w[ib] > 0.0):
                if w[ib] / (w[ib] - x[b]) == best_t:
                    new = 0.0
            w[ib] = new
            if new == 0.0 or (new > 0.0) != (theta[ib] > 0.0):
                theta[ib] = 0.0 if new == 0.0 else (1.0 if new > 0.0 else -1.0)
        for j in range(p):
            acc = c[j]
            row = G[j]
            for a in range(k):
                acc -= row[idx[a]] * w[idx[a]]
            q[j] = acc
    return False


@jit
def _lasso_column(G, c, yy, lam, w, q, tol, max_iter):
    """Coordinate descent for one column, in place on ``w`` and ``q``.

    After sweeps FEATURE_SIGN_FIRST_SWEEP, twice that, four times that, ... without
    convergence, :func:`_feature_sign` is run from the current point (it only lowers the
    objective, so a failed attempt costs time, never progress). Returns
    ``(gap, rr, sweeps)``; ``sweeps == max_iter`` with ``gap > tol * yy`` means the iteration
    cap was hit.
    """
    p = w.shape[0]
    threshold = tol * yy
    gap, rr = _lasso_gap(c, w, q, yy, lam)
    if gap <= threshold:
        return gap, rr, 0
    next_exact = FEATURE_SIGN_FIRST_SWEEP
    for sweep in range(max_iter):
        for k in range(p):
            gkk = G[k, k]
            if gkk <= 0.0:  # a constant feature: its coefficient stays 0
                continue
            wk = w[k]
            new = _soft_threshold(q[k] + gkk * wk, lam) / gkk
            if new != wk:
                delta = new - wk
                w[k] = new
                row = G[k]
                for i in range(p):
                    q[i] -= row[i] * delta
        gap, rr = _lasso_gap(c, w, q, yy, lam)
        if gap <= threshold:
            return gap, rr, sweep + 1
        if sweep + 1 == next_exact:
            next_exact *= 2
            if _feature_sign(G, c, lam, w, q, FEATURE_SIGN_MAX_ITER_PER_COORD * p + 10):
                gap, rr = _lasso_gap(c, w, q, yy, lam)
                if gap <= threshold:
                    return gap, rr, sweep + 1
    return gap, rr, max_iter


def _make_lasso_gram(parallel):
    def lasso_gram(G, C, yy, lam, W, tol, max_iter, gap, rr, sweeps):
        """Solve every column j: W[j] <- argmin; writes gap[j], rr[j] and sweeps[j].

        ``W`` holds the warm start on entry. Q = C - W G is recomputed from it, so a warm
        start never carries stale residual correlations.
        """
        m, p = W.shape
        for j in prange(m):
            w = W[j]
            q = np.empty(p)
            for i in range(p):
                acc = C[j, i]
                for k in range(p):
                    if w[k] != 0.0:
                        acc -= G[i, k] * w[k]
                q[i] = acc
            g, r, s = _lasso_column(G, C[j], yy[j], lam[j], w, q, tol, max_iter)
            gap[j] = g
            rr[j] = r
            sweeps[j] = s

    return jit(lasso_gram, parallel=parallel)


#: ``_lasso_gram(G, C, yy, lam, W, tol, max_iter, gap, rr, sweeps)``: parallel and serial.
_lasso_gram = _make_lasso_gram(parallel=True)
_lasso_gram_serial = _make_lasso_gram(parallel=False)
