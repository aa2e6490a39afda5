"""Score kernels of the fitted estimators (SCIENCE.md section 5).

Same signature as every score kernel (``simulate._kernels.sampling``):
``score(x, t, alpha_bar_t, v_t, params, out)`` for one row ``x`` (d,). Fitted estimators use
the step index t (1..T) to select their step-t coefficients. Notation: a = sqrt(abar_t),
v = 1 - abar_t, P (n, d) the training points x_0^(i).

==========================  ==================================================  ==========
kernel                      s_t(x)                                              params
==========================  ==================================================  ==========
``_score_affine``           S_t x + b_t                                         (S, b)
``_score_empirical``        (a Dhat(x) - x) / v, Dhat(x) = sum_i w_i P_i,       (P, P^T)
                            w = softmax_i(-||x - a P_i||^2 / (2 v))
``_denoiser_empirical``     Dhat(x) (the denoiser, not a score)                 (P, P^T)
``_score_empirical_soft``   mode 0: S(score_emp(x), tau_t) (penalty on score)   (P, P^T,
                            mode 1: (a S(Dhat(x), tau_t) - x) / v (denoiser)    tau, mode)
``perturbed_kernel(base)``  base(x) + G_t x + h_t  (or + h_t only)              (G, h, *base)
==========================  ==================================================  ==========

S(z, tau) is the soft-threshold sign(z) max(|z| - tau, 0), applied coordinatewise (the
pointwise minimizer of E[||s - Y||^2 | x] + r ||s||_1 is S(E[Y | x], r / 2), SCIENCE.md 5).
"""

from __future__ import annotations

import math

import numpy as np

from simulate._kernels.config import jit
from simulate._kernels.lasso import _soft_threshold
from simulate._kernels.models import _EXP_UNDERFLOW


@jit
def _score_affine(x, t, alpha_bar_t, v_t, params, out):
    """s_t(x) = S_t x + b_t with ``params = (S (T, d, d), b (T, d))``."""
    S, b = params
    St = S[t - 1]
    bt = b[t - 1]
    d = x.shape[0]
    for i in range(d):
        acc = 0.0
        row = St[i]
        for j in range(d):
            acc += row[j] * x[j]
        out[i] = acc + bt[i]


def empirical_params(points):
    """Kernel params ``(P, P^T)`` of the empirical kernels: the points and a C-contiguous copy
    of their transpose (d, n), which the distance pass reads column by column."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    return points, np.ascontiguousarray(points.T)


@jit
def _empirical_denoiser_row(x, alpha_bar_t, v_t, points, points_t, exclude, out):
    """Dhat(x) = E[X_0 | X_t = x] under the empirical law of ``points`` (SCIENCE.md 4.2).

    The Gaussian-smoothed empirical law is the mixture (1/n) sum_i N(a P_i, v I), whose
    posterior weights are w_i = softmax_i(-||x - a P_i||^2 / (2 v)), computed with the
    maximum subtracted. Point ``exclude`` (an index, or -1 for none) gets weight 0: the
    leave-one-out posterior mean used by the residual-scale rule.

    The squared distances are accumulated coordinate by coordinate over all points at once
    (``points_t`` = P^T, so the inner loop over points is contiguous and vectorizes); each
    point's sum still adds its d terms in the order j = 0..d-1 from 0.0, so the distances,
    and every number downstream, are bit for bit those of the point-by-point loop (tested).
    """
    a = math.sqrt(alpha_bar_t)
    v = v_t
    n, d = points.shape
    logw = np.zeros(n)
    for j in range(d):
        xj = x[j]
        pj = points_t[j]
        for i in range(n):
            diff = xj - a * pj[i]
            logw[i] += diff * diff
    top = -np.inf
    for i in range(n):
        if i == exclude:
            logw[i] = -np.inf
            continue
        logw[i] = -logw[i] / (2.0 * v)
        if logw[i] > top:
            top = logw[i]
    for j in range(d):
        out[j] = 0.0
    total = 0.0
    for i in range(n):
        if i == exclude or logw[i] - top < -_EXP_UNDERFLOW:
            # its weight exp(logw - top) is exactly 0.0 (float64 exp underflows below -745.13),
            # so skipping it leaves every sum bit for bit the same and saves the exponentials
            # of the far points, most of them once v_t is small
            continue
        w = math.exp(logw[i] - top)
        total += w
        for j in range(d):
            out[j] += w * points[i, j]
    for j in range(d):
        out[j] /= total


@jit
def _score_empirical(x, t, alpha_bar_t, v_t, params, out):
    """Exact score of the Gaussian-smoothed empirical law: (a Dhat(x) - x) / v."""
    points, points_t = params
    _empirical_denoiser_row(x, alpha_bar_t, v_t, points, points_t, -1, out)
    a = math.sqrt(alpha_bar_t)
    v = v_t
    for j in range(x.shape[0]):
        out[j] = (a * out[j] - x[j]) / v


@jit
def _denoiser_empirical(x, t, alpha_bar_t, v_t, params, out):
    """Dhat(x) itself (same signature as a score kernel, for the rowwise applier)."""
    _empirical_denoiser_row(x, alpha_bar_t, v_t, params[0], params[1], -1, out)


@jit
def _score_empirical_soft(x, t, alpha_bar_t, v_t, params, out):
    """Soft-thresholded empirical minimizer; ``params = (P, P^T, tau (T,), mode (1,) int64)``.

    mode 0 ("score"): S(score_emp(x), tau_t); mode 1 ("denoiser"): Tweedie applied to
    S(Dhat(x), tau_t). tau_t = r_t / 2.
    """
    points, points_t, tau, mode = params
    _empirical_denoiser_row(x, alpha_bar_t, v_t, points, points_t, -1, out)
    a = math.sqrt(alpha_bar_t)
    v = v_t
    thr = tau[t - 1]
    d = x.shape[0]
    if mode[0] == 0:
        for j in range(d):
            out[j] = _soft_threshold((a * out[j] - x[j]) / v, thr)
    else:
        for j in range(d):
            out[j] = (a * _soft_threshold(out[j], thr) - x[j]) / v


@jit
def _loo_denoiser_rows(xt, rows, alpha_bar_t, v_t, points, out):
    """out[k] = leave-one-out Dhat(xt[k]) without training point ``rows[k]``."""
    points_t = np.ascontiguousarray(points.T)
    for k in range(xt.shape[0]):
        _empirical_denoiser_row(xt[k], alpha_bar_t, v_t, points, points_t, rows[k], out[k])


_PERTURBED_CACHE: dict = {}


def perturbed_kernel(base_fn, linear):
    """Kernel of base score + error field (``simulate.estimators.Perturbed``).

    ``params = (G (T, d, d), h (T, d)) + base_params`` (flat: numba's parallel loops do not
    accept nested tuples); with ``linear=False`` the field is the constant h_t and ``G`` is
    ignored (pass a (T, 0, 0) array). Compiled once per (base kernel, linear).
    """
    key = (base_fn, bool(linear))
    kernel = _PERTURBED_CACHE.get(key)
    if kernel is not None:
        return kernel

    if linear:

        def perturbed(x, t, alpha_bar_t, v_t, params, out):
            base_fn(x, t, alpha_bar_t, v_t, params[2:], out)
            Gt = params[0][t - 1]
            ht = params[1][t - 1]
            d = x.shape[0]
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += Gt[i, j] * x[j]
                out[i] += acc + ht[i]

    else:

        def perturbed(x, t, alpha_bar_t, v_t, params, out):
            base_fn(x, t, alpha_bar_t, v_t, params[2:], out)
            ht = params[1][t - 1]
            for i in range(x.shape[0]):
                out[i] += ht[i]

    kernel = jit(perturbed)
    _PERTURBED_CACHE[key] = kernel
    return kernel
