"""Why fastmath stays off: the project's jit keeps IEEE semantics (NaN and inf are seen)."""

import math

import numba
import numpy as np

from simulate._kernels import JIT_OPTIONS, jit


def _absorb(x, y):
    return (x - y) + y


def test_project_jit_keeps_ieee_semantics():
    assert JIT_OPTIONS["fastmath"] is False
    strict = jit(_absorb)
    assert math.isnan(strict(np.inf, np.inf))  # (inf - inf) + inf is NaN under IEEE


def test_fastmath_would_hide_the_nan():
    """With full fastmath LLVM may fold (x - y) + y to x: a diverging chain would look finite."""
    fast = numba.njit(fastmath=True)(_absorb)
    assert not math.isnan(fast(np.inf, np.inf))
