"""Counter-based normal generator: the noise is a pure function of its coordinates.

Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC 2011) maps a 128-bit counter and a 64-bit key to 128 random bits. Here

    counter = (pair index j // 2, step t, sample index i mod 2^32, stream),
    key     = (seed mod 2^32, seed div 2^32),

and the four output words become two uniforms in (0, 1) and, by the Box-Muller transform,
two standard normals, of which coordinate j takes number j mod 2. The normal for
(seed, sample, step, coordinate) therefore never depends on the thread count, the chunking
of samples, or the order in which they are computed.

Notation: ``seed`` -> the user's seed; ``sample`` -> i; ``step`` -> t (0 for the initial
draw Y_T); ``coord`` -> j; ``stream`` separates independent uses of one seed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulate._kernels.config import jit

# Philox4x32 multipliers and Weyl key increments (Salmon et al. 2011, table 2).
_PHILOX_M0 = np.uint64(0xD2511F53)
_PHILOX_M1 = np.uint64(0xCD9E8D57)
_PHILOX_W0 = np.uint64(0x9E3779B9)
_PHILOX_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT11 = np.uint64(11)
_TWO_POW_M53 = 2.0**-53
_TWO_PI = 2.0 * math.pi

#: Stream of the sampler's noise (initial Y_T at step 0, then Z_t at step t).
STREAM_SAMPLER = 0


@jit
def _philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint64 words holding 32-bit values; returns four 32-bit words."""
    for _ in range(10):
        p0 = _PHILOX_M0 * c0
        p1 = _PHILOX_M1 * c2
        hi0 = p0 >> _SHIFT32
        lo0 = p0 & _MASK32
        hi1 = p1 >> _SHIFT32
        lo1 = p1 & _MASK32
        c0 = hi1 ^ c1 ^ k0
        c1 = lo1
        c2 = hi0 ^ c3 ^ k1
        c3 = lo0
        k0 = (k0 + _PHILOX_W0) & _MASK32
        k1 = (k1 + _PHILOX_W1) & _MASK32
    return c0, c1, c2, c3


@jit
def _uniform_open(w_hi, w_lo):
    """Two 32-bit words -> a double in the open interval (0, 1) (53 random bits, centred)."""
    x = (w_hi << _SHIFT32) | w_lo
    return (float(x >> _SHIFT11) + 0.5) * _TWO_POW_M53


@jit
def _normal_pair(seed, sample, step, pair, stream):
    """The two standard normals of coordinates 2*pair and 2*pair + 1 (Box-Muller)."""
    s = np.uint64(seed)
    i = np.uint64(sample)
    w0, w1, w2, w3 = _philox4x32(
        np.uint64(pair) & _MASK32,
        np.uint64(step) & _MASK32,
        i & _MASK32,
        (np.uint64(stream) & _MASK32) ^ ((i >> _SHIFT32) & _MASK32),
        s & _MASK32,
        s >> _SHIFT32,
    )
    u1 = _uniform_open(w0, w1)
    u2 = _uniform_open(w2, w3)
    radius = math.sqrt(-2.0 * math.log(u1))
    angle = _TWO_PI * u2
    return radius * math.cos(angle), radius * math.sin(angle)


@jit
def _fill_normals_row(seed, sample, step, stream, out):
    """Write the normals of coordinates 0..d-1 for (seed, sample, step) into ``out``."""
    d = out.shape[0]
    for pair in range(d // 2):
        z0, z1 = _normal_pair(seed, sample, step, pair, stream)
        out[2 * pair] = z0
        out[2 * pair + 1] = z1
    if d % 2 == 1:
        z0, _ = _normal_pair(seed, sample, step, d // 2, stream)
        out[d - 1] = z0


def _make_fill_normals(parallel):
    def fill(seed, first_sample, step, stream, out):
        n = out.shape[0]
        for i in prange(n):
            _fill_normals_row(seed, first_sample + i, step, stream, out[i])

    return jit(fill, parallel=parallel)


#: ``out[i, j]`` = normal(seed, first_sample + i, step, j); parallel and serial builds.
_fill_normals = _make_fill_normals(parallel=True)
_fill_normals_serial = _make_fill_normals(parallel=False)


@jit
def _philox_words(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on explicit words, as a uint64 array (for known-answer tests)."""
    out = np.empty(4, dtype=np.uint64)
    w = _philox4x32(
        np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3), np.uint64(k0), np.uint64(k1)
    )
    out[0] = w[0]
    out[1] = w[1]
    out[2] = w[2]
    out[3] = w[3]
    return out
