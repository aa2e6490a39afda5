"""Score kernels of the built-in data models (SCIENCE.md section 4).

Signature of every score kernel: ``score(x, t, alpha_bar_t, params, out)`` for one row
``x`` (d,); models ignore the step index ``t``. Notation: a = sqrt(abar_t), v = 1 - abar_t.
"""

from __future__ import annotations

import math

import numpy as np

from simulate._kernels.config import jit


@jit
def _score_subspace_gaussian(x, t, alpha_bar_t, params, out):
    """Score of x_0 = V w, w ~ N(nu, diag(lam)), V (d, k) orthonormal (SCIENCE.md 4.1).

    With u = V^T x and D = diag(1 / (a^2 lam + v)):
        score(x) = -(x - V u) / v - V D (u - a nu).
    ``params = (rows, v_rows, lam, nu)``: ``rows`` (m,) int64 lists the coordinates where
    V has non-zero rows, ``v_rows`` (m, k) holds them. Off those rows score = -x / v. The
    residual x - V u is formed first so that aligned data (V rows = identity) give an exact
    zero there, not a difference of two large numbers.
    """
    rows, v_rows, lam, nu = params
    a = math.sqrt(alpha_bar_t)
    v = 1.0 - alpha_bar_t
    d = x.shape[0]
    m, k = v_rows.shape
    for j in range(d):
        out[j] = -x[j] / v
    u = np.zeros(k)
    for r in range(m):
        xr = x[rows[r]]
        for c in range(k):
            u[c] += v_rows[r, c] * xr
    w = np.empty(k)
    for c in range(k):
        w[c] = (u[c] - a * nu[c]) / (a * a * lam[c] + v)
    for r in range(m):
        proj = 0.0
        corr = 0.0
        for c in range(k):
            proj += v_rows[r, c] * u[c]
            corr += v_rows[r, c] * w[c]
        out[rows[r]] = -(x[rows[r]] - proj) / v - corr
