"""The public face for score kernels, the built-in ones and a user's.

A *score kernel* is a numba-jitted function of one row,

    kernel(x, t, alpha_bar_t, v_t, params, out) -> None

writing s_t(x) for the row ``x`` (d,) into ``out`` (d,); ``t`` is the step index (models
ignore it; fitted estimators select their step-t coefficients with it), ``alpha_bar_t`` is
abar_t, ``v_t`` is 1 - abar_t computed without cancellation (use it, never
``1 - alpha_bar_t``: ``simulate.noise_level``), and ``params`` is a tuple of arrays. A
kernel written for the older five-argument signature,
``kernel(x, t, alpha_bar_t, params, out)``, is adapted by :func:`as_score_kernel` with a
``DeprecationWarning``. Compile it with :func:`jit` (the project's one
set of numba options: no fastmath, NumPy's error model), and a model or estimator hands it to
the samplers through ``score_kernel() -> (kernel, params)``. Then the fused sampler runs
the whole trajectory in one parallel loop, and :func:`apply_row_kernel` gives the batch path
the same numbers bit for bit.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from simulate._kernels.config import JIT_OPTIONS, jit
from simulate._kernels.rng import STREAM_SAMPLER, _fill_normals
from simulate._kernels.sampling import rowwise_score
from simulate.noise_level import noise_variance

__all__ = [
    "JIT_OPTIONS",
    "STREAM_SAMPLER",
    "apply_row_kernel",
    "as_score_kernel",
    "fill_counter_normals",
    "jit",
]

_ADAPTED: dict = {}


def as_score_kernel(kernel: Any, owner: str = "score_kernel()") -> Any:
    """``kernel`` with the six-argument signature ``(x, t, alpha_bar_t, v_t, params, out)``.

    A kernel of the older five-argument signature ``(x, t, alpha_bar_t, params, out)`` is
    wrapped (once, cached) in a jitted kernel that drops ``v_t``, with a
    ``DeprecationWarning``: such a kernel forms 1 - alpha_bar_t itself and loses accuracy
    where alpha_bar_t is near 1 (``simulate.noise_level``). Any other number of parameters
    is a ``TypeError``.
    """
    py_func = getattr(kernel, "py_func", kernel)
    try:
        n_params = len(inspect.signature(py_func).parameters)
    except (TypeError, ValueError):  # a builtin or an opaque callable: trust the caller
        return kernel
    if n_params == 6:
        return kernel
    if n_params != 5:
        raise TypeError(
            f"the kernel of {owner} must have the signature (x, t, alpha_bar_t, v_t, params, "
            f"out); {getattr(py_func, '__name__', kernel)!r} takes {n_params} parameter(s)"
        )
    warnings.warn(
        f"the kernel of {owner} has the five-argument signature (x, t, alpha_bar_t, params, "
        "out); add v_t after alpha_bar_t and use it instead of 1 - alpha_bar_t "
        "(simulate.kernels docstring). It is adapted for now.",
        DeprecationWarning,
        stacklevel=3,
    )
    adapted = _ADAPTED.get(kernel)
    if adapted is None:

        def five_to_six(x, t, alpha_bar_t, v_t, params, out):
            kernel(x, t, alpha_bar_t, params, out)

        adapted = jit(five_to_six)
        _ADAPTED[kernel] = adapted
    return adapted


def apply_row_kernel(
    kernel: Any, x: np.ndarray, t: int, alpha_bar_t: float, params: tuple
) -> np.ndarray:
    """The (n, d) array of ``kernel`` applied to every row of ``x`` (parallel over rows).

    ``alpha_bar_t`` is a float or a :class:`simulate.noise_level.NoiseLevel` (whose accurate
    ``v`` is then passed to the kernel as ``v_t``).

    ``x`` must be a C-contiguous float64 (n, d) array (the callers validate it).
    """
    out = np.empty_like(x)
    rowwise_score(kernel)(x, int(t), float(alpha_bar_t), noise_variance(alpha_bar_t), params, out)
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
