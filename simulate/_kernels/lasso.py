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
"""

from __future__ import annotations

import numpy as np
from numba import prange

from simulate._kernels.config import jit


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
def _lasso_column(G, c, yy, lam, w, q, tol, max_iter):
    """Coordinate descent for one column, in place on ``w`` and ``q``.

    Returns ``(gap, rr, sweeps)``; ``sweeps == max_iter`` with ``gap > tol * yy`` means the
    iteration cap was hit.
    """
    p = w.shape[0]
    threshold = tol * yy
    gap, rr = _lasso_gap(c, w, q, yy, lam)
    if gap <= threshold:
        return gap, rr, 0
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
