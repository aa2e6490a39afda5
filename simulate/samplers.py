"""Public sampling API: DDPM-type, DDIM, and VP-SDE samplers (SCIENCE.md sections 1.1 and 2).

Every one-stage sampler is one affine step with per-step coefficients,

    Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t,    t = T, ..., 2,

from Y_T ~ N(0, I_d), returning Y_1 (a draw of p_1, compared with q_1 = law(X_1)).

On a discrete schedule (``schedules.li``, ``linear``, ...), with eta_t = 1 - alpha_t = beta_t:

====================  ===================================================================
``ddpm_beta``         Y_{t-1} = (Y_t + beta_t s_t + sqrt(beta_t) Z_t) / sqrt(alpha_t): the
                      added noise has variance beta_t / alpha_t (Li et al. 2024; regdiff's
                      first sampler, alias ``"beta"``)
``ddpm_posterior``    the same drift, noise variance (1 - abar_{t-1}) beta_t / (1 - abar_t)
                      after the division by sqrt(alpha_t) (Ho's posterior variance; alias
                      ``"posterior"``)
``ddpm_fixed_large``  Ho, Jain & Abbeel (2020) "fixed_large": Y_{t-1} = (Y_t + beta_t s_t) /
                      sqrt(alpha_t) + sqrt(beta_t) Z_t (added noise variance beta_t)
``ddim``              DDIM, deterministic: Y_{t-1} = sqrt(abar_{t-1}) x0hat +
                      sqrt(1 - abar_{t-1}) epshat, x0hat = (Y_t + (1 - abar_t) s_t) /
                      sqrt(abar_t), epshat = -sqrt(1 - abar_t) s_t
====================  ===================================================================

On a ``schedules.vp_sde`` grid (step t at time tau = times[t-1], the step goes to
tau' = times[t-2], h = tau - tau', beta = beta(tau), Delta = B(tau) - B(tau')):

=============  ========================================================================
``em``         Euler-Maruyama of the reverse SDE dY = [beta/2 Y + beta s] dr + sqrt(beta)
               dW (Chen et al. 2023): A = 1 + h beta / 2, B = h beta, C = sqrt(h beta)
``ei``         exponential integrator, score frozen on the step, linear part exact (Benton
               et al. 2024, their Y <- e^g Y + 2 (e^g - 1) s + sqrt(e^{2g} - 1) Z with
               g = Delta / 2 after the time change u = B(t) / 2): A = e^{Delta/2},
               B = 2 expm1(Delta/2), C = sqrt(expm1(Delta))
``ancestral``  Song et al. (2021) ancestral step, b = beta h: A = 1 / sqrt(1 - b),
               B = b / sqrt(1 - b), C = sqrt(b)
``pf_euler``   Euler on the probability-flow ODE dY/dr = beta/2 (Y + s): A = 1 + h beta/2,
               B = h beta / 2, C = 0
``pf_heun``    Heun (explicit trapezoid, 2 stages) on the same ODE (Karras et al. 2022)
``pf_rk4``     classical Runge-Kutta, 4 stages
=============  ========================================================================

The multi-stage ones evaluate the score at stage times between grid points
(:func:`ode_stages`); a step that ends where v = 0 (eps = 0) is an Euler step, since the
score at v = 0 is singular (Karras et al. 2022 do the same for their last step). NFE
(:func:`nfe`) counts score evaluations as each scheme spends them.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate import _kernels
from simulate._validation import checked, check_choice, check_int, check_seed
from simulate.estimators import Estimator, Exact, as_estimator
from simulate.noise_level import NoiseLevel
from simulate.schedules import Schedule, VPSchedule

__all__ = [
    "CONTINUOUS_SAMPLERS",
    "DISCRETE_SAMPLERS",
    "MULTI_STAGE",
    "ORDER",
    "SAMPLERS",
    "STAGES",
    "START_KL_WARN",
    "VARIANCES",
    "StartFarFromNoise",
    "OdeStages",
    "SamplerCoefficients",
    "coefficients",
    "nfe",
    "ode_stages",
    "resolve_sampler",
    "sample",
]

#: The samplers of a discrete schedule, by their public names.
DISCRETE_SAMPLERS: tuple[str, ...] = ("ddpm_beta", "ddpm_posterior", "ddpm_fixed_large", "ddim")
#: The samplers of a ``vp_sde`` grid.
CONTINUOUS_SAMPLERS: tuple[str, ...] = ("em", "ei", "ancestral", "pf_euler", "pf_heun", "pf_rk4")
SAMPLERS: tuple[str, ...] = DISCRETE_SAMPLERS + CONTINUOUS_SAMPLERS
#: regdiff's first three samplers under their first names, which the experiments' tables keep
#: (aliases: "beta" is "ddpm_beta", "posterior" is "ddpm_posterior").
VARIANCES: tuple[str, ...] = ("beta", "posterior", "ddim")
_ALIASES = {"beta": "ddpm_beta", "posterior": "ddpm_posterior"}
#: Butcher tableaus (a, b, c) of the multi-stage probability-flow samplers.
_TABLEAUS = {
    "pf_euler": (np.zeros((1, 1)), np.array([1.0]), np.array([0.0])),
    "pf_heun": (np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.5]), np.array([0.0, 1.0])),
    "pf_rk4": (
        np.array([[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1.0, 0]], dtype=float),
        np.array([1.0, 2.0, 2.0, 1.0]) / 6.0,
        np.array([0.0, 0.5, 0.5, 1.0]),
    ),
}
MULTI_STAGE: tuple[str, ...] = ("pf_heun", "pf_rk4")
#: Score evaluations per step of each sampler (the stages of its tableau; one-stage: 1).
STAGES: dict[str, int] = {name: 1 for name in SAMPLERS} | {
    name: int(_TABLEAUS[name][1].size) for name in MULTI_STAGE
}
#: Order p of each VP-SDE scheme (weak order for the SDE ones): its local error on a
#: pure-noise coordinate is O(h^(p+1)) (``theory/vp_schemes.py`` derives it independently).
ORDER: dict[str, int] = {"em": 1, "ei": 1, "ancestral": 1, "pf_euler": 1, "pf_heun": 2, "pf_rk4": 4}

#: ``sample`` warns (:class:`StartFarFromNoise`) when d abar_T^2 / 4 exceeds this many nats.
#: d abar_T^2 / 4 is, to leading order in abar_T, KL(q_T || N(0, I)) for d zero-mean
#: coordinates of data variance 0 or 2 (per coordinate 1/2 (r - 1 - log r), r = 1 -/+ abar_T):
#: the distance of the sampler's start N(0, I) from the law q_T it stands for, on data of unit
#: scale (a non-zero mean mu adds abar_T mu^2 / 2 per coordinate). 1e-3 nats moves any
#: probability by at most sqrt(1e-3 / 2) = 0.022 (Pinsker; the sampler, a Markov kernel,
#: cannot enlarge it), about the resolution of the suite's Monte Carlo comparisons at a few
#: thousand samples (4 SE of a proportion near 1/2 at n = 2000 is 0.045). li(T) (c0 = 2,
#: c1 = 4: abar_T < 6e-4 for T >= 10) stays below it up to d ~ 1e4; li_paper(T) (abar_T
#: 0.8-0.93) exceeds it from d = 1.
START_KL_WARN = 1e-3


class StartFarFromNoise(UserWarning):
    """The sampler starts from N(0, I) where q_T is not close to it (abar_T not small).

    What is measured on such samples is limited by the start, not by the steps or the score
    (``simulate.judge.start_limited``); take a schedule whose abar_T is small
    (``schedules.li(T)``, c0 = 2, c1 = 4) or raise c1 - c0.
    """


def check_start(schedule: Schedule, d: int, stacklevel: int = 2) -> float:
    """d abar_T^2 / 4, the leading-order KL(q_T || N(0, I)) of d unit-scale coordinates
    (``START_KL_WARN``); warns :class:`StartFarFromNoise` when it exceeds ``START_KL_WARN``."""
    abar_T = float(schedule.alpha_bar[-1])
    kl = d * abar_T * abar_T / 4.0
    if kl > START_KL_WARN:
        warnings.warn(
            f"the sampler starts from N(0, I) on {schedule.name}, where abar_T = {abar_T:.3g}: "
            f"q_T is about d abar_T^2 / 4 = {kl:.3g} nats from N(0, I) (d = {d}; warned above "
            f"{START_KL_WARN:g}), so the samples are limited by the start; use a schedule with "
            "a small abar_T (schedules.li(T), c0 = 2, c1 = 4)",
            StartFarFromNoise,
            stacklevel=stacklevel + 1,
        )
    return kl


#: Samples per chunk: bounds the batch path's extra memory (two (chunk, d) arrays) and sets
#: the granularity of the progress bar. Results do not depend on it (counter-based noise).
DEFAULT_CHUNK = 16384


@checked
def resolve_sampler(schedule: Schedule, sampler: Any = None, variance: Any = None) -> str:
    """The public name of the sampler requested by ``sampler=`` (or the deprecated
    ``variance=``), checked against the kind of ``schedule``.

    ``variance=`` selects a sampler, not a variance: it still works, with a
    ``DeprecationWarning``. The first names "beta" and "posterior" are aliases of
    "ddpm_beta" and "ddpm_posterior". Default: "ddpm_beta" on a discrete schedule, "em" on
    a ``vp_sde`` grid.
    """
    continuous = isinstance(schedule, VPSchedule)
    if variance is not None:
        warnings.warn(
            "variance= is deprecated: it selects a sampler; use sampler= "
            f"(e.g. sampler={_ALIASES.get(variance, variance)!r})",
            DeprecationWarning,
            stacklevel=3,
        )
        if sampler is not None:
            raise TypeError("give sampler= or the deprecated variance=, not both")
        sampler = variance
    if sampler is None:
        sampler = "em" if continuous else "ddpm_beta"
    name = _ALIASES.get(sampler, sampler) if isinstance(sampler, str) else sampler
    check_choice("sampler", name, SAMPLERS + tuple(_ALIASES))
    if continuous and name in DISCRETE_SAMPLERS:
        raise ValueError(
            f"sampler={sampler!r} runs on a discrete schedule; {schedule.name} is a vp_sde grid "
            f"(allowed there: {', '.join(CONTINUOUS_SAMPLERS)})"
        )
    if not continuous and name in CONTINUOUS_SAMPLERS:
        raise ValueError(
            f"sampler={sampler!r} runs on a schedules.vp_sde grid; {schedule.name} is a discrete "
            f"schedule (allowed there: {', '.join(DISCRETE_SAMPLERS)})"
        )
    return str(name)


@dataclass(frozen=True, eq=False)
class SamplerCoefficients:
    """A_t, B_t, C_t of Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t; index t-1 is step t.

    The entries at t = 1 are NaN: step 1 is never applied. ``sampler`` is the public name.
    """

    sampler: str
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray

    @property
    def variance(self) -> str:
        """The sampler's name (the field's first name)."""
        return self.sampler


@checked
def coefficients(schedule: Schedule, sampler: str) -> SamplerCoefficients:
    """Per-step coefficients of a one-stage ``sampler`` on ``schedule`` (module docstring).

    1 - alpha_t and 1 - abar_t are never formed: beta_t and ``schedule.v`` are used.
    """
    name = resolve_sampler(schedule, sampler)
    if name in MULTI_STAGE:
        raise ValueError(f"sampler={name!r} has several stages per step: use ode_stages()")
    T = schedule.T
    A = np.full(T, np.nan)
    B = np.full(T, np.nan)
    C = np.full(T, np.nan)
    if isinstance(schedule, VPSchedule):
        A[1:], B[1:], C[1:] = _continuous_coefficients(schedule, name)
    else:
        A[1:], B[1:], C[1:] = _discrete_coefficients(schedule, name)
    for arr in (A, B, C):
        arr.setflags(write=False)
    return SamplerCoefficients(name, A, B, C)


def _discrete_coefficients(schedule: Schedule, name: str) -> tuple[np.ndarray, ...]:
    a_t, ab_t, ab_prev = schedule.alpha[1:], schedule.alpha_bar[1:], schedule.alpha_bar[:-1]
    b_t, v_t, v_prev = schedule.beta[1:], schedule.v[1:], schedule.v[:-1]
    if name == "ddim":
        A = np.sqrt(ab_prev / ab_t)
        return A, A * v_t - np.sqrt(v_prev * v_t), np.zeros_like(A)
    A = 1.0 / np.sqrt(a_t)
    B = b_t / np.sqrt(a_t)
    if name == "ddpm_beta":
        C = np.sqrt(b_t / a_t)
    elif name == "ddpm_posterior":  # (1 - alpha_t)(alpha_t - abar_t)/(1 - abar_t) / alpha_t
        C = np.sqrt(b_t * v_prev / v_t)
    else:  # ddpm_fixed_large: added noise variance beta_t
        C = np.sqrt(b_t)
    return A, B, C


def _continuous_coefficients(schedule: VPSchedule, name: str) -> tuple[np.ndarray, ...]:
    tau, tau_next = schedule.times[1:], schedule.times[:-1]
    h = tau - tau_next
    beta = np.asarray(schedule.beta_at(tau), dtype=np.float64)
    delta = schedule.B[1:] - schedule.B[:-1]
    if name == "em":
        return 1.0 + 0.5 * h * beta, h * beta, np.sqrt(h * beta)
    if name == "ei":
        return np.exp(0.5 * delta), 2.0 * np.expm1(0.5 * delta), np.sqrt(np.expm1(delta))
    if name == "ancestral":
        b = h * beta
        if np.any(b >= 1.0):
            t = int(np.argmax(b >= 1.0)) + 2
            raise ValueError(
                f"sampler='ancestral' needs beta(t) h < 1 at every step; at step t={t} it is "
                f"{b[t - 2]:.4g} (take N larger)"
            )
        return 1.0 / np.sqrt(1.0 - b), b / np.sqrt(1.0 - b), np.sqrt(b)
    # pf_euler
    return 1.0 + 0.5 * h * beta, 0.5 * h * beta, np.zeros_like(h)


@dataclass(frozen=True, eq=False)
class OdeStages:
    """The stages of an explicit Runge-Kutta step on dY/dr = g(r) (Y + s(Y, r)), g = beta/2.

    Index t-1 is step t (t = 2..T; entries of step 1 are unused). Stage i of step t is at
    time tau - c_i h: its noise level (``alpha_bar``, ``v``) and g = beta/2 there.
    ``n_stages[t-1]`` is 1 (an Euler step) where the step ends at v = 0.
    """

    sampler: str
    a: np.ndarray  # (S, S) Butcher matrix
    b: np.ndarray  # (T, S) weights per step (Euler steps: (1, 0, ...))
    h: np.ndarray  # (T,)
    alpha_bar: np.ndarray  # (T, S)
    v: np.ndarray  # (T, S)
    g: np.ndarray  # (T, S)
    n_stages: np.ndarray  # (T,) int64


@checked
def ode_stages(schedule: VPSchedule, sampler: str) -> OdeStages:
    """The stage table of a probability-flow sampler on a ``vp_sde`` grid (module docstring)."""
    name = resolve_sampler(schedule, sampler)
    if name not in _TABLEAUS:
        raise ValueError(f"ode_stages() is for pf_euler, pf_heun, pf_rk4; got {name!r}")
    a, b, c = _TABLEAUS[name]
    T, S = schedule.T, b.size
    h = np.zeros(T)
    h[1:] = schedule.times[1:] - schedule.times[:-1]
    tau = schedule.times[:, None] - c[None, :] * h[:, None]
    tau[0] = schedule.times[0]
    Bt = schedule.integral(tau)
    alpha_bar, v = np.exp(-Bt), -np.expm1(-Bt)
    g = 0.5 * np.asarray(schedule.beta_at(tau), dtype=np.float64)
    weights = np.tile(b, (T, 1))
    n_stages = np.full(T, S, dtype=np.int64)
    euler = np.zeros(T, dtype=bool)
    euler[1:] = schedule.v[:-1] <= 0.0  # the step t ends at times[t-2] where v = 0
    weights[euler] = 0.0
    weights[euler, 0] = 1.0
    n_stages[euler] = 1
    for arr in (a, weights, h, alpha_bar, v, g, n_stages):
        arr.setflags(write=False)
    return OdeStages(name, a.copy(), weights, h, alpha_bar, v, g, n_stages)


@checked
def nfe(schedule: Schedule, sampler: str) -> int:
    """Score evaluations one sample spends: T - 1 for one-stage samplers, the stages summed
    for the multi-stage ones."""
    name = resolve_sampler(schedule, sampler)
    if name in MULTI_STAGE:
        return int(np.sum(ode_stages(schedule, name).n_stages[1:]))  # type: ignore[arg-type]
    return schedule.T - 1


@checked
def sample(
    estimator: Any,
    schedule: Schedule,
    n: int,
    seed: int = 0,
    sampler: str | None = None,
    *,
    variance: str | None = None,
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
    sampler : str, optional
        One of ``DISCRETE_SAMPLERS`` on a discrete schedule (default "ddpm_beta"; "beta" and
        "posterior" are aliases), one of ``CONTINUOUS_SAMPLERS`` on a ``vp_sde`` grid
        (default "em"). The multi-stage "pf_heun" and "pf_rk4" evaluate the score between
        grid points, so they need an exact score (a data model or ``estimators.Exact``).
    variance : str, optional
        Deprecated name of ``sampler`` (a ``DeprecationWarning``).
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

    Warns
    -----
    StartFarFromNoise
        When Y_T ~ N(0, I) is far from q_T: d abar_T^2 / 4 > ``START_KL_WARN`` nats
        (:func:`check_start`), e.g. on ``schedules.li_paper(T)``.
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
    name = resolve_sampler(schedule, sampler, variance)
    if name in MULTI_STAGE:
        stages: OdeStages | SamplerCoefficients = ode_stages(schedule, name)  # type: ignore[arg-type]
        if not isinstance(est, Exact):
            raise ValueError(
                f"sampler={name!r} evaluates the score between grid points, so it needs an "
                f"exact score (a data model or estimators.Exact); got {est!r}"
            )
    else:
        stages = coefficients(schedule, name)
    T, d = schedule.T, est.d
    check_start(schedule, d, stacklevel=2)
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
        if isinstance(stages, OdeStages):
            _sample_ode_chunk(
                est, stages, kernel if use_fused else None, y_chunk, seed_word,
                first_sample + start, steps, path_chunk, parallel,
            )  # fmt: skip
        elif use_fused:
            assert kernel is not None
            fn, params = kernel
            run = _kernels.fused_sampler(fn, parallel=parallel)
            run(
                y_chunk,
                seed_word,
                first_sample + start,
                schedule.alpha_bar,
                schedule.v,
                stages.A,
                stages.B,
                stages.C,
                params,
                steps,
                path_chunk,
            )
        else:
            _sample_batch(
                est,
                schedule,
                stages,
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


def _sample_ode_chunk(
    est: Estimator,
    st: OdeStages,
    kernel: Any,
    y: np.ndarray,
    seed: np.uint64,
    first_sample: int,
    steps: np.ndarray,
    path: np.ndarray,
    parallel: bool,
) -> None:
    """A multi-stage probability-flow sampler on one chunk: the fused kernel when ``kernel``
    is given, else the batch path (the model's vectorized score at each stage level, and the
    same row helpers)."""
    if kernel is not None:
        fn, params = kernel
        run = _kernels.fused_ode_sampler(fn, parallel=parallel)
        run(y, seed, first_sample, st.a, st.b, st.h, st.alpha_bar, st.v, st.g, st.n_stages,
            params, steps, path)  # fmt: skip
        return
    assert isinstance(est, Exact)
    init = _kernels._init_normal if parallel else _kernels._init_normal_serial
    stage_input, slope, combine = _kernels._ode_batch if parallel else _kernels._ode_batch_serial
    T = st.h.size
    init(y, seed, first_sample)
    _store_path(y, T, steps, path)
    ks = np.empty((y.shape[0], st.a.shape[0], y.shape[1]))
    y_stage = np.empty_like(y)
    for t in range(T, 1, -1):
        m = int(st.n_stages[t - 1])
        for i in range(m):
            stage_input(y, ks, st.h[t - 1], st.a[i], i, y_stage)
            level = NoiseLevel(st.alpha_bar[t - 1, i], st.v[t - 1, i])
            s = np.ascontiguousarray(est.model.score(y_stage, level), dtype=np.float64)
            if not np.all(np.isfinite(s)):
                raise ValueError(f"score at step t={t}, stage {i} returned non-finite values")
            slope(y_stage, s, st.g[t - 1, i], ks, i)
        combine(y, ks, st.h[t - 1], st.b[t - 1], m)
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
