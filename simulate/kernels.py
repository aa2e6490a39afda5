"""The public face for score kernels, the built-in ones and a user's.

A *score kernel* is a numba-jitted function of one row,

    kernel(x, t, alpha_bar_t, params, out) -> None

writing s_t(x) for the row ``x`` (d,) into ``out`` (d,); ``t`` is the step index (models
ignore it; fitted estimators select their step-t coefficients with it), ``alpha_bar_t`` is
abar_t, and ``params`` is a tuple of arrays. Compile it with :func:`jit` (the project's one
set of numba options: no fastmath, NumPy's error model), and a model or estimator hands it to
the samplers through ``score_kernel() -> (kernel, params)``. Then the fused sampler runs
the whole trajectory in one parallel loop, and :func:`apply_row_kernel` gives the batch path
the same numbers bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._kernels.config import JIT_OPTIONS, jit
from simulate._kernels.rng import STREAM_SAMPLER, _fill_normals
from simulate._kernels.sampling import rowwise_score

__all__ = ["JIT_OPTIONS", "STREAM_SAMPLER", "apply_row_kernel", "fill_counter_normals", "jit"]


def apply_row_kernel(
    kernel: Any, x: np.ndarray, t: int, alpha_bar_t: float, params: tuple
) -> np.ndarray:
    """The (n, d) array of ``kernel`` applied to every row of ``x`` (parallel over rows).

    ``x`` must be a C-contiguous float64 (n, d) array (the callers validate it).
    """
    out = np.empty_like(x)
    rowwise_score(kernel)(x, int(t), alpha_bar_t, params, out)
    return out


def fill_counter_normals(
    out: np.ndarray, seed: int, step: int, first_sample: int = 0, stream: int = STREAM_SAMPLER
) -> None:
    """Fill ``out`` (n, d) with the sampler's counter-based normals, in parallel over rows.

    ``out[i, j]`` is the normal of (seed, first_sample + i, step, j) in ``stream``
    (Philox4x32-10 and Box-Muller, ``simulate._kernels.rng``): the same numbers the samplers
    draw, on any thread count. Step 0 is Y_T.
    """
    _fill_normals(np.uint64(seed), first_sample, step, stream, out)
