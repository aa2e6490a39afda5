"""Sampler kernels: the reverse chain Y_T -> Y_1 (SCIENCE.md sections 1.1 and 2).

Every variant is written as one affine step with per-step coefficients

    Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t,     t = T, T-1, ..., 2,

(``simulate.samplers.coefficients`` gives A, B, C for "beta", "posterior" and "ddim"), and
Y_T ~ N(0, I_d). Z_t and Y_T come from the counter-based generator (step 0 for Y_T).

A *score kernel* is a jitted function ``score(x, t, alpha_bar_t, v_t, params, out)`` writing
s_t(x) for one row ``x`` (d,) into ``out`` (d,); ``params`` is a tuple of arrays.
Models ignore ``t``; fitted estimators use it to select their step-t coefficients.

Two paths with identical arithmetic (so identical numbers):
- fused: ``fused_sampler(score_fn)`` runs the whole trajectory of each sample in one
  parallel loop over samples;
- batch: per step, a Python score callable fills an (n, d) array and ``_apply_step`` updates.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from simulate._kernels.config import jit
from simulate._kernels.rng import STREAM_SAMPLER, _fill_normals_row


@jit
def _affine_update_row(y, s, z, a_t, b_t, c_t):
    """y <- a_t y + b_t s + c_t z (in place), the one arithmetic of every sampler step."""
    for j in range(y.shape[0]):
        y[j] = a_t * y[j] + b_t * s[j] + c_t * z[j]


@jit
def _affine_update_row_noiseless(y, s, a_t, b_t):
    """y <- a_t y + b_t s (DDIM steps, C_t = 0)."""
    for j in range(y.shape[0]):
        y[j] = a_t * y[j] + b_t * s[j]


def _make_init(parallel):
    def init(y, seed, first_sample):
        """Y_T ~ N(0, I): y[i] = normals of (seed, first_sample + i, step 0)."""
        for i in prange(y.shape[0]):
            _fill_normals_row(seed, first_sample + i, 0, STREAM_SAMPLER, y[i])

    return jit(init, parallel=parallel)


def _make_apply_step(parallel):
    def apply_step(y, s, t, a_t, b_t, c_t, seed, first_sample):
        """Batch path, one step t: y <- a_t y + b_t s + c_t Z_t row by row (in place)."""
        n, d = y.shape
        for i in prange(n):
            if c_t != 0.0:
                z = np.empty(d)
                _fill_normals_row(seed, first_sample + i, t, STREAM_SAMPLER, z)
                _affine_update_row(y[i], s[i], z, a_t, b_t, c_t)
            else:
                _affine_update_row_noiseless(y[i], s[i], a_t, b_t)

    return jit(apply_step, parallel=parallel)


_init_normal = _make_init(parallel=True)
_init_normal_serial = _make_init(parallel=False)
_apply_step = _make_apply_step(parallel=True)
_apply_step_serial = _make_apply_step(parallel=False)

_FUSED_CACHE: dict = {}
_ROWWISE_CACHE: dict = {}


def fused_sampler(score_fn, parallel=True):
    """The fused kernel for one score kernel (compiled once per (score_fn, parallel)).

    The returned kernel has signature
    ``kernel(y, seed, first_sample, alpha_bar, v, A, B, C, params, path_steps, path)``:
    ``y`` (n, d) is overwritten with Y_1; for each k, if ``path_steps[k] = t`` then
    ``path[k]`` receives Y_t (pass empty arrays for no path).
    """
    key = (score_fn, bool(parallel))
    kernel = _FUSED_CACHE.get(key)
    if kernel is not None:
        return kernel

    def fused(y, seed, first_sample, alpha_bar, v, A, B, C, params, path_steps, path):
        n, d = y.shape
        T = alpha_bar.shape[0]
        n_path = path_steps.shape[0]
        for i in prange(n):
            row = y[i]
            s = np.empty(d)
            z = np.empty(d)
            sample = first_sample + i
            _fill_normals_row(seed, sample, 0, STREAM_SAMPLER, row)
            for k in range(n_path):
                if path_steps[k] == T:
                    path[k, i, :] = row
            for t in range(T, 1, -1):
                score_fn(row, t, alpha_bar[t - 1], v[t - 1], params, s)
                c_t = C[t - 1]
                if c_t != 0.0:
                    _fill_normals_row(seed, sample, t, STREAM_SAMPLER, z)
                    _affine_update_row(row, s, z, A[t - 1], B[t - 1], c_t)
                else:
                    _affine_update_row_noiseless(row, s, A[t - 1], B[t - 1])
                for k in range(n_path):
                    if path_steps[k] == t - 1:
                        path[k, i, :] = row

    kernel = jit(fused, parallel=parallel)
    _FUSED_CACHE[key] = kernel
    return kernel


def rowwise_score(score_fn, parallel=True):
    """Kernel ``apply(x, t, alpha_bar_t, v_t, params, out)`` applying ``score_fn`` to every row.

    This is how built-in models and estimators implement their vectorized ``score``: the
    same row kernel as the fused path, so the batch path reproduces it bit for bit.
    """
    key = (score_fn, bool(parallel))
    kernel = _ROWWISE_CACHE.get(key)
    if kernel is not None:
        return kernel

    def apply(x, t, alpha_bar_t, v_t, params, out):
        for i in prange(x.shape[0]):
            score_fn(x[i], t, alpha_bar_t, v_t, params, out[i])

    kernel = jit(apply, parallel=parallel)
    _ROWWISE_CACHE[key] = kernel
    return kernel


# -- explicit Runge-Kutta on the probability-flow ODE (pf_heun, pf_rk4) ----------------------
#
# One step of dY/dr = g (Y + s(Y)) with stages k_i = g_i (Y_i + s(Y_i)),
# Y_i = Y + h sum_{j<i} a_ij k_j, and Y <- Y + h sum_i b_i k_i (``samplers.ode_stages``).
# The fused kernel and the batch path share the three row helpers below, so their numbers
# are identical.


@jit
def _ode_stage_input_row(y, ks, h, a_row, stage, out):
    """out = y + h sum_{j < stage} a_row[j] ks[j] (the input of stage ``stage``)."""
    for j in range(y.shape[0]):
        acc = 0.0
        for q in range(stage):
            acc += a_row[q] * ks[q, j]
        out[j] = y[j] + h * acc


@jit
def _ode_slope_row(y_stage, s, g, k_out):
    """k = g (y_stage + s): the probability-flow drift at one stage."""
    for j in range(y_stage.shape[0]):
        k_out[j] = g * (y_stage[j] + s[j])


@jit
def _ode_combine_row(y, ks, h, b_row, n_stages):
    """y <- y + h sum_i b_row[i] ks[i] (in place)."""
    for j in range(y.shape[0]):
        acc = 0.0
        for q in range(n_stages):
            acc += b_row[q] * ks[q, j]
        y[j] = y[j] + h * acc


_FUSED_ODE_CACHE: dict = {}


def fused_ode_sampler(score_fn, parallel=True):
    """The fused multi-stage kernel for one score kernel (cached per (score_fn, parallel)).

    Signature ``kernel(y, seed, first_sample, a, b, h, stage_ab, stage_v, stage_g, n_stages,
    params, path_steps, path)`` with the arrays of ``samplers.OdeStages``; ``y`` (n, d) is
    overwritten with Y_1. Y_T comes from the counter-based normals of step 0, as in every
    sampler; the ODE adds no noise. The score kernel gets the step index t at every stage.
    """
    key = (score_fn, bool(parallel))
    kernel = _FUSED_ODE_CACHE.get(key)
    if kernel is not None:
        return kernel

    def fused(y, seed, first_sample, a, b, h, stage_ab, stage_v, stage_g, n_stages, params,
              path_steps, path):  # fmt: skip
        n, d = y.shape
        T = h.shape[0]
        S = a.shape[0]
        n_path = path_steps.shape[0]
        for i in prange(n):
            row = y[i]
            ks = np.empty((S, d))
            y_stage = np.empty(d)
            s = np.empty(d)
            _fill_normals_row(seed, first_sample + i, 0, STREAM_SAMPLER, row)
            for k in range(n_path):
                if path_steps[k] == T:
                    path[k, i, :] = row
            for t in range(T, 1, -1):
                m = n_stages[t - 1]
                for st in range(m):
                    _ode_stage_input_row(row, ks, h[t - 1], a[st], st, y_stage)
                    score_fn(y_stage, t, stage_ab[t - 1, st], stage_v[t - 1, st], params, s)
                    _ode_slope_row(y_stage, s, stage_g[t - 1, st], ks[st])
                _ode_combine_row(row, ks, h[t - 1], b[t - 1], m)
                for k in range(n_path):
                    if path_steps[k] == t - 1:
                        path[k, i, :] = row

    kernel = jit(fused, parallel=parallel)
    _FUSED_ODE_CACHE[key] = kernel
    return kernel


def _make_ode_batch(parallel):
    def stage_input(y, ks, h, a_row, stage, out):
        """Batch path: stage inputs of every row."""
        for i in prange(y.shape[0]):
            _ode_stage_input_row(y[i], ks[i], h, a_row, stage, out[i])

    def slope(y_stage, s, g, ks, stage):
        for i in prange(y_stage.shape[0]):
            _ode_slope_row(y_stage[i], s[i], g, ks[i, stage])

    def combine(y, ks, h, b_row, n_stages):
        for i in prange(y.shape[0]):
            _ode_combine_row(y[i], ks[i], h, b_row, n_stages)

    return (jit(stage_input, parallel=parallel), jit(slope, parallel=parallel),
            jit(combine, parallel=parallel))  # fmt: skip


_ode_batch = _make_ode_batch(parallel=True)
_ode_batch_serial = _make_ode_batch(parallel=False)
