"""Public sampling API: DDPM-type and DDIM samplers (SCIENCE.md sections 1.1 and 2).

Notation (code -> SCIENCE.md):

================  ======================================================================
``variance``      "beta": sigma_t^2 = 1 - alpha_t (Ho "fixed_large", Li et al.);
                  "posterior": sigma_t^2 = (1 - alpha_t)(alpha_t - abar_t)/(1 - abar_t),
                  so sigma_t^2 / alpha_t is Ho's posterior variance (Li-Yan coefficients);
                  "ddim": deterministic DDIM.
``A, B, C``       Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t (all three variants)
================  ======================================================================

DDPM-type (eta_t = 1 - alpha_t): Y_{t-1} = (Y_t + eta_t s_t(Y_t) + sigma_t Z_t) / sqrt(alpha_t),
so A = 1/sqrt(alpha_t), B = eta_t/sqrt(alpha_t), C = sigma_t/sqrt(alpha_t).
DDIM: Y_{t-1} = sqrt(abar_{t-1}) x0hat + sqrt(1 - abar_{t-1}) epshat with
x0hat = (Y_t + (1 - abar_t) s_t) / sqrt(abar_t) and epshat = -sqrt(1 - abar_t) s_t, so
A = sqrt(abar_{t-1}/abar_t), B = A (1 - abar_t) - sqrt((1 - abar_{t-1})(1 - abar_t)), C = 0.

Convention: Y_T ~ N(0, I_d); steps t = T, ..., 2 are applied and Y_1 is returned (a draw of
p_1, compared with q_1 = law(X_1)).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate import _kernels
from simulate._validation import check_choice, check_int, check_seed
from simulate.estimators import Estimator, as_estimator
from simulate.schedules import Schedule

__all__ = ["VARIANCES", "SamplerCoefficients", "coefficients", "sample"]

VARIANCES: tuple[str, ...] = ("beta", "posterior", "ddim")

#: Samples per chunk: bounds the batch path's extra memory (two (chunk, d) arrays) and sets
#: the granularity of the progress bar. Results do not depend on it (counter-based noise).
DEFAULT_CHUNK = 16384


@dataclass(frozen=True, eq=False)
class SamplerCoefficients:
    """A_t, B_t, C_t of Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t; index t-1 is step t.

    The entries at t = 1 are NaN: step 1 is never applied.
    """

    variance: str
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray


def coefficients(schedule: Schedule, variance: str) -> SamplerCoefficients:
    """Per-step coefficients of the sampler ``variance`` on ``schedule`` (module docstring)."""
    variance = check_choice("variance", variance, VARIANCES)
    alpha, alpha_bar, beta, v = schedule.alpha, schedule.alpha_bar, schedule.beta, schedule.v
    T = schedule.T
    A = np.full(T, np.nan)
    B = np.full(T, np.nan)
    C = np.full(T, np.nan)
    a_t, ab_t, ab_prev = alpha[1:], alpha_bar[1:], alpha_bar[:-1]
    b_t, v_t, v_prev = beta[1:], v[1:], v[:-1]  # 1 - alpha_t and 1 - abar never formed
    if variance == "ddim":
        A[1:] = np.sqrt(ab_prev / ab_t)
        B[1:] = A[1:] * v_t - np.sqrt(v_prev * v_t)
        C[1:] = 0.0
    else:
        A[1:] = 1.0 / np.sqrt(a_t)
        B[1:] = b_t / np.sqrt(a_t)
        if variance == "beta":
            sigma2 = b_t
        else:  # (1 - alpha_t)(alpha_t - abar_t)/(1 - abar_t), alpha_t - abar_t = alpha_t v_{t-1}
            sigma2 = b_t * a_t * v_prev / v_t
        C[1:] = np.sqrt(sigma2 / a_t)
    for arr in (A, B, C):
        arr.setflags(write=False)
    return SamplerCoefficients(variance, A, B, C)


def sample(
    estimator: Any,
    schedule: Schedule,
    n: int,
    seed: int = 0,
    variance: str = "beta",
    *,
    path: Any = None,
    path_steps: Any = None,
    first_sample: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    method: str = "auto",
    parallel: bool = True,
    progress: bool = False,
) -> Any:
    """Draw ``n`` samples of p_1 = law(Y_1) with score estimate ``estimator``.

    Parameters
    ----------
    estimator : Estimator, DataModel, or a user's data model
        A model is sampled with its exact score (``estimators.Exact``). The estimator is
        fitted to ``schedule`` if it is not already.
    schedule : Schedule
    n : int
        Number of samples, n >= 1.
    seed : int
        Seed of the counter-based noise, in [0, 2**64 - 1]. Sample i uses the noise of
        (seed, ``first_sample`` + i, step, coordinate) only.
    variance : {"beta", "posterior", "ddim"}
    path_steps : sequence of int, optional
        Steps t in [1, T] at which to also return Y_t; then the result is ``(y, paths)`` with
        ``paths`` of shape (len(path_steps), n, d). Memory is O(n d) otherwise.
    first_sample : int
        Global index of the first sample (to draw disjoint blocks of one stream).
    chunk_size : int
        Samples per chunk (memory and progress granularity; never changes the numbers).
    method : {"auto", "fused", "batch"}
        "fused" needs a numba score kernel (built-in models and estimators); "batch" calls the
        Python ``score`` once per step; "auto" picks "fused" when available. Same numbers.
    parallel : bool
        Use the parallel (prange) build; the serial build gives identical numbers.
    progress : bool
        Show a progress bar over chunks (tqdm).

    Returns
    -------
    numpy.ndarray (n, d), or ``(y, paths)`` when ``path_steps`` is given.
    """
    if path is not None:
        raise TypeError("use path_steps=[...] to request the trajectory at chosen steps")
    est: Estimator = as_estimator(estimator)
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    n = check_int("n", n, low=1)
    seed_word = np.uint64(check_seed(seed))  # one numba type for every seed value
    first_sample = check_int("first_sample", first_sample, low=0, high=2**63 - 1 - n)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    method = check_choice("method", method, ("auto", "fused", "batch"))
    coef = coefficients(schedule, variance)
    T, d = schedule.T, est.d
    steps = np.zeros(0, dtype=np.int64)
    if path_steps is not None:
        steps = np.asarray(
            [
                check_int(
                    "path_steps[i]", int(s) if isinstance(s, np.integer) else s, low=1, high=T
                )
                for s in path_steps
            ],
            dtype=np.int64,
        )
    est = est.fit(schedule)
    kernel = est.score_kernel()
    if method == "fused" and kernel is None:
        raise ValueError(
            f"method='fused' needs a numba score kernel; {est!r} has none "
            "(use method='batch' or 'auto')"
        )
    use_fused = kernel is not None and method != "batch"

    y = np.empty((n, d))
    paths = np.empty((steps.size, n, d))
    chunks = range(0, n, chunk_size)
    bar = _progress(len(chunks), progress, f"sampling ({'fused' if use_fused else 'batch'})")
    for start in chunks:
        stop = min(start + chunk_size, n)
        y_chunk = y[start:stop]
        path_chunk = np.empty((steps.size, stop - start, d))
        if use_fused:
            assert kernel is not None
            fn, params = kernel
            run = _kernels.fused_sampler(fn, parallel=parallel)
            run(
                y_chunk,
                seed_word,
                first_sample + start,
                schedule.alpha_bar,
                schedule.v,
                coef.A,
                coef.B,
                coef.C,
                params,
                steps,
                path_chunk,
            )
        else:
            _sample_batch(
                est,
                schedule,
                coef,
                y_chunk,
                seed_word,
                first_sample + start,
                steps,
                path_chunk,
                parallel,
            )
        paths[:, start:stop] = path_chunk
        bar.update(1)
    bar.close()
    if use_fused and not np.all(np.isfinite(y)):
        raise FloatingPointError(
            "the sampler produced non-finite values (the chain diverged); rerun with "
            "method='batch' to find the first step t where the score is not finite"
        )
    return (y, paths) if path_steps is not None else y


def _sample_batch(
    est: Estimator,
    schedule: Schedule,
    coef: SamplerCoefficients,
    y: np.ndarray,
    seed: np.uint64,
    first_sample: int,
    steps: np.ndarray,
    path: np.ndarray,
    parallel: bool,
) -> None:
    """Batch path: one vectorized ``est.score`` call per step, then the shared update kernel."""
    init = _kernels._init_normal if parallel else _kernels._init_normal_serial
    step = _kernels._apply_step if parallel else _kernels._apply_step_serial
    T = schedule.T
    init(y, seed, first_sample)
    _store_path(y, T, steps, path)
    for t in range(T, 1, -1):
        s = np.asarray(est.score(y, t), dtype=np.float64)
        if s.shape != y.shape:
            raise ValueError(f"score at step t={t} returned shape {s.shape}; expected {y.shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError(
                f"score at step t={t} returned non-finite values "
                f"(alpha_bar_t={schedule.alpha_bar[t - 1]:.6g}, v_t={schedule.v[t - 1]:.6g})"
            )
        step(
            y,
            np.ascontiguousarray(s),
            t,
            coef.A[t - 1],
            coef.B[t - 1],
            coef.C[t - 1],
            seed,
            first_sample,
        )
        _store_path(y, t - 1, steps, path)


def _store_path(y: np.ndarray, t: int, steps: np.ndarray, path: np.ndarray) -> None:
    for k in np.flatnonzero(steps == t):
        path[k] = y


class _NoBar:
    def update(self, k: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled or total <= 1:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="chunk", disable=os.environ.get("CI") == "true")
