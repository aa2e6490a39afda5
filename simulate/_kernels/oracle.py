"""Kernels of the grid oracles (``simulate.oracle``, ``simulate.oracle_plane``).

``_smooth_gaussian_1d(weight, m, c, lo, h, chunks, out)`` is one stochastic step of the
oracle on a block of one coordinate: out_i = sum_k w_k N(x_i; m_k, c^2) at the nodes
x_i = lo + i h. Each source's Gaussian is evaluated along the uniform nodes by a recurrence
instead of one exponential per node: from the node nearest m_k, with z = (x - m_k) / c and
dz = h / c, g(z + dz) = g(z) r and r <- r exp(-dz^2): two products per node instead of an
exponential, with an exact exponential every ``ANCHOR`` nodes to bound the rounding walked
(measured against the dense twin: below 1e-13 relative). A source's walk stops where its term
falls below ``SMOOTH_CUTOFF`` of its peak (|z| ~ 16.6): terms that small are beyond every
tolerance of the oracle (its grid error is ~1e-5, ``tests/test_oracle.py``). The sources are
cut into ``chunks`` consecutive runs with private outputs summed in run order, so the result
does not depend on the number of threads. Twin: ``tests/reference.py::smooth_gaussian_1d``.

Two-dimensional blocks:

``_scatter_gaussian_2d(weight, m1, m2, lo, h, c, reach, chunks, out)`` adds, for every source
k with weight w_k, the isotropic Gaussian density N(x; (m1_k, m2_k), c^2 I) times w_k at the
nodes x = (lo + i h, lo + j h) of an (n, n) grid within ``reach`` (in units of c) of the
source's centre. It is the trapezoid sum of one stochastic sampler step (SCIENCE.md 3):
p_{t-1}(x) = sum_y h^2 p_t(y) N(x; m_t(y), C_t^2 I).

The sources are cut into ``chunks`` consecutive runs, one private output per run, summed in
run order: the result does not depend on the number of threads (tests/test_oracle_plane.py).
Twin: ``tests/reference.py::scatter_gaussian_2d``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulate._kernels.config import jit

#: A source's Gaussian is followed out to where it falls below this share of its peak.
SMOOTH_CUTOFF = 1e-60
#: Nodes between exact exponentials in a source's recurrence.
ANCHOR = 64


@jit
def _walk_nodes(acc, w, g0, centre, direction, lo, h, mk, c, dz, shrink):
    """acc[i] += w g(x_i) at the nodes i = centre + direction, centre + 2 direction, ... of
    the Gaussian g(x) = exp(-((x - mk) / c)^2 / 2), g0 = g(x_centre), by the recurrence
    g_{i + direction} = g_i r_i, r_i = exp(-direction z_i dz - dz^2 / 2), r <- r exp(-dz^2),
    re-anchored by exact exponentials every ``ANCHOR`` nodes, until g < ``SMOOTH_CUTOFF``."""
    n = acc.shape[0]
    z0 = (lo + centre * h - mk) / c
    g = g0
    ratio = math.exp(-direction * z0 * dz - 0.5 * dz * dz)
    i = centre + direction
    walked = 1
    while 0 <= i < n:
        if walked % ANCHOR == 0:
            z = (lo + i * h - mk) / c
            g = math.exp(-0.5 * z * z)
            ratio = math.exp(-direction * z * dz - 0.5 * dz * dz)
        else:
            g *= ratio
            ratio *= shrink
        if g < SMOOTH_CUTOFF:
            break
        acc[i] += w * g
        i += direction
        walked += 1


def _make_smooth_1d(parallel):
    def smooth_gaussian_1d(weight, m, c, lo, h, chunks, out):
        n = out.shape[0]
        count = weight.shape[0]
        private = np.zeros((chunks, n))
        norm = 1.0 / (math.sqrt(2.0 * math.pi) * c)
        dz = h / c
        shrink = math.exp(-dz * dz)  # r_{i+1} / r_i along the nodes
        for r in prange(chunks):
            start = r * count // chunks
            stop = (r + 1) * count // chunks
            acc = private[r]
            for k in range(start, stop):
                w = weight[k] * norm
                if w == 0.0:
                    continue
                centre = min(max(round((m[k] - lo) / h), 0), n - 1)
                z0 = (lo + centre * h - m[k]) / c
                g0 = math.exp(-0.5 * z0 * z0)
                if g0 < SMOOTH_CUTOFF:  # the source lies far outside the grid
                    continue
                acc[centre] += w * g0
                _walk_nodes(acc, w, g0, centre, 1, lo, h, m[k], c, dz, shrink)
                _walk_nodes(acc, w, g0, centre, -1, lo, h, m[k], c, dz, shrink)
        for r in range(chunks):
            out += private[r]

    return jit(smooth_gaussian_1d, parallel=parallel)


#: Parallel and serial builds (bit-identical: the chunking fixes the order of every sum).
_smooth_gaussian_1d = _make_smooth_1d(True)
_smooth_gaussian_1d_serial = _make_smooth_1d(False)


def _make_scatter(parallel):
    def scatter_gaussian_2d(weight, m1, m2, lo, h, c, reach, chunks, out):
        n = out.shape[0]
        count = weight.shape[0]
        private = np.zeros((chunks, n, n))
        norm = 1.0 / (2.0 * math.pi * c * c)
        half = reach * c
        for r in prange(chunks):
            start = r * count // chunks
            stop = (r + 1) * count // chunks
            acc = private[r]
            width = int(2.0 * half / h) + 3
            g1 = np.empty(width)
            g2 = np.empty(width)
            for k in range(start, stop):
                w = weight[k]
                if w == 0.0:
                    continue
                i0 = max(0, int(math.ceil((m1[k] - half - lo) / h)))  # noqa: RUF046 (numba)
                i1 = min(n - 1, int(math.floor((m1[k] + half - lo) / h)))  # noqa: RUF046 (numba)
                j0 = max(0, int(math.ceil((m2[k] - half - lo) / h)))  # noqa: RUF046 (numba)
                j1 = min(n - 1, int(math.floor((m2[k] + half - lo) / h)))  # noqa: RUF046 (numba)
                if i1 < i0 or j1 < j0:
                    continue
                for i in range(i0, i1 + 1):
                    z = (lo + i * h - m1[k]) / c
                    g1[i - i0] = math.exp(-0.5 * z * z)
                for j in range(j0, j1 + 1):
                    z = (lo + j * h - m2[k]) / c
                    g2[j - j0] = w * norm * math.exp(-0.5 * z * z)
                for i in range(i0, i1 + 1):
                    a = g1[i - i0]
                    for j in range(j0, j1 + 1):
                        acc[i, j] += a * g2[j - j0]
        for r in range(chunks):
            out += private[r]

    return jit(scatter_gaussian_2d, parallel=parallel)


#: Parallel and serial builds (bit-identical: the chunking fixes the order of every sum).
_scatter_gaussian_2d = _make_scatter(True)
_scatter_gaussian_2d_serial = _make_scatter(False)
