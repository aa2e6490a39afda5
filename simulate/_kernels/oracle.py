"""Kernel of the grid oracle on two-dimensional blocks (``simulate.oracle``).

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
