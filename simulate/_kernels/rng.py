"""Counter-based normal generator: the noise is a pure function of its coordinates.

Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC 2011) maps a 128-bit counter and a 64-bit key to four 32-bit words. Here

    counter = (quad index j // 4, step t, sample index i mod 2^32, stream ^ (i div 2^32)),
    key     = (seed mod 2^32, seed div 2^32),

and the four words give the normals of coordinates 4q, ..., 4q + 3 by the Box-Muller
transform, two from each pair of words: a word w becomes the uniform u = (w + 1/2) / 2^32
in (0, 1), the first word of a pair gives the radius R = sqrt(-2 ln u1), the second the
angle 2 pi u2, and (R cos, R sin) are two independent standard normals. Every output of
Philox is used, and the normal of (seed, sample, step, coordinate) never depends on the
thread count, the chunking of samples, the row length d, or the order of computation.

Speed: the transform is written without libm calls or data-dependent branches, so that
LLVM vectorizes the loop over a row's counters (``tests/test_rng.py`` checks the result
against libm, ``benchmarks/bench_sampler.py`` measures it):

* ln u1 = ln(2 w + 1) - 33 ln 2, with ln of the odd integer x = 2 w + 1 < 2^33 from its
  binary exponent k (found by six branch-free halvings) and the mantissa m in
  [1/sqrt 2, sqrt 2): ln m = 2 atanh((m - 1) / (m + 1)), the series to degree 21
  (truncation below 1e-17);
* the angle's top two bits pick the quadrant, the other 30 bits x in (0, pi/2), and sin x,
  cos x are their Taylor polynomials to degree 21 and 20 (truncation below 2e-17).

Measured on 4e6 random word pairs and every pair of edge words (0, 1, 2^30, 2^31, 2^32 - 1,
...): at most 3.8e-15 absolute from NumPy's log, cos and sin on the same uniforms and
9e-16 of the radius; at most 1.3e-15 from a 40-digit mpmath reference on the worst of
them (``tests/test_rng.py``). The 32-bit uniforms bound |Z| by
sqrt(66 ln 2) = 6.77 (P(|Z| > 6.77) = 1.3e-11 for an exact normal), and the radius takes
2^32 distinct values.

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
_MASK30 = np.uint64(0x3FFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT30 = np.uint64(30)
_ONE = np.uint64(1)

_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
#: x = (30-bit word + 1/2) * _QUARTER_STEP in (0, pi / 2).
_QUARTER_STEP = 0.5 * math.pi * 2.0**-30
#: 2 atanh(z) / z = sum_k 2 z^(2k) / (2k + 1), k = 0..10.
_L = tuple(2.0 / (2 * k + 1) for k in range(11))
#: sin x / x = sum_k (-1)^k x^(2k) / (2k + 1)!, cos x = sum_k (-1)^k x^(2k) / (2k)!, k = 0..10.
_S = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(11))
_C = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(11))
_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8, _L9, _L10 = _L
_S0, _S1, _S2, _S3, _S4, _S5, _S6, _S7, _S8, _S9, _S10 = _S
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10 = _C

#: Stream of the sampler's noise (initial Y_T at step 0, then Z_t at step t).
STREAM_SAMPLER = 0


@jit(inline="always")
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


@jit(inline="always")
def _radius2(w):
    """-2 ln u for u = (w + 1/2) / 2^32 = (2 w + 1) / 2^33 (module docstring)."""
    f = float((w << _ONE) | _ONE)  # exact: an odd integer below 2^33
    k = 0.0
    big = f >= 4294967296.0
    k += 32.0 if big else 0.0
    f *= 2.0**-32 if big else 1.0
    big = f >= 65536.0
    k += 16.0 if big else 0.0
    f *= 2.0**-16 if big else 1.0
    big = f >= 256.0
    k += 8.0 if big else 0.0
    f *= 2.0**-8 if big else 1.0
    big = f >= 16.0
    k += 4.0 if big else 0.0
    f *= 0.0625 if big else 1.0
    big = f >= 4.0
    k += 2.0 if big else 0.0
    f *= 0.25 if big else 1.0
    big = f >= 2.0
    k += 1.0 if big else 0.0
    f *= 0.5 if big else 1.0
    big = f > _SQRT2  # m in [1 / sqrt 2, sqrt 2)
    k += 1.0 if big else 0.0
    f *= 0.5 if big else 1.0
    z = (f - 1.0) / (f + 1.0)
    z2 = z * z
    p = _L10
    p = p * z2 + _L9
    p = p * z2 + _L8
    p = p * z2 + _L7
    p = p * z2 + _L6
    p = p * z2 + _L5
    p = p * z2 + _L4
    p = p * z2 + _L3
    p = p * z2 + _L2
    p = p * z2 + _L1
    p = p * z2 + _L0
    # (k - 33) is exact, so ln u = (k - 33) ln 2 + ln m keeps full relative accuracy near u = 1
    return -2.0 * ((k - 33.0) * _LN2 + z * p)


@jit(inline="always")
def _box_muller(w_radius, w_angle):
    """The two standard normals of a pair of 32-bit words (module docstring)."""
    r = math.sqrt(_radius2(w_radius))
    quadrant = w_angle >> _SHIFT30
    x = (float(w_angle & _MASK30) + 0.5) * _QUARTER_STEP
    x2 = x * x
    s = _S10
    s = s * x2 + _S9
    s = s * x2 + _S8
    s = s * x2 + _S7
    s = s * x2 + _S6
    s = s * x2 + _S5
    s = s * x2 + _S4
    s = s * x2 + _S3
    s = s * x2 + _S2
    s = s * x2 + _S1
    s = s * x2 + _S0
    s = s * x
    c = _C10
    c = c * x2 + _C9
    c = c * x2 + _C8
    c = c * x2 + _C7
    c = c * x2 + _C6
    c = c * x2 + _C5
    c = c * x2 + _C4
    c = c * x2 + _C3
    c = c * x2 + _C2
    c = c * x2 + _C1
    c = c * x2 + _C0
    # angle = quadrant * pi / 2 + x: rotate (cos x, sin x) by quadrant quarter turns
    odd = (quadrant & _ONE) == _ONE
    cos_q = s if odd else c
    sin_q = c if odd else s
    cos_sign = -1.0 if ((quadrant + _ONE) >> _ONE) & _ONE == _ONE else 1.0
    sin_sign = -1.0 if (quadrant >> _ONE) == _ONE else 1.0
    return r * (cos_sign * cos_q), r * (sin_sign * sin_q)


@jit
def _fill_normals_row(seed, sample, step, stream, out):
    """Write the normals of coordinates 0..d-1 for (seed, sample, step) into ``out``."""
    d = out.shape[0]
    s = np.uint64(seed)
    i = np.uint64(sample)
    c1 = np.uint64(step) & _MASK32
    c2 = i & _MASK32
    c3 = (np.uint64(stream) & _MASK32) ^ ((i >> _SHIFT32) & _MASK32)
    k0 = s & _MASK32
    k1 = s >> _SHIFT32
    quads = d // 4
    for q in range(quads):
        w0, w1, w2, w3 = _philox4x32(np.uint64(q), c1, c2, c3, k0, k1)
        z0, z1 = _box_muller(w0, w1)
        z2, z3 = _box_muller(w2, w3)
        out[4 * q] = z0
        out[4 * q + 1] = z1
        out[4 * q + 2] = z2
        out[4 * q + 3] = z3
    rest = d - 4 * quads
    if rest > 0:
        w0, w1, w2, w3 = _philox4x32(np.uint64(quads), c1, c2, c3, k0, k1)
        z0, z1 = _box_muller(w0, w1)
        z2, _ = _box_muller(w2, w3)
        out[4 * quads] = z0
        if rest > 1:
            out[4 * quads + 1] = z1
        if rest > 2:
            out[4 * quads + 2] = z2


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


@jit
def _box_muller_words(w_radius, w_angle, out):
    """``out[k, :]`` = the two normals of the word pair k (for the accuracy tests)."""
    for k in range(w_radius.shape[0]):
        z0, z1 = _box_muller(w_radius[k], w_angle[k])
        out[k, 0] = z0
        out[k, 1] = z1
