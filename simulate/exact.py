"""Exact law of affine samplers on Gaussian models, without Monte Carlo (SCIENCE.md 3).

With an affine score estimate s_t(y) = S_t y + b_t, every sampler step
Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t is an affine-Gaussian map, so with
M_t = A_t I + B_t S_t (= (I + eta_t S_t)/sqrt(alpha_t) for the DDPM-type samplers):

    m_{t-1} = M_t m_t + B_t b_t,            C_{t-1} = M_t C_t M_t^T + C_t^2 I,

from m_T = 0, C_T = I (the convention Y_T ~ N(0, I)). When every S_t is diagonal this is d
independent scalar recursions, O(T d); otherwise full matrices, O(T d^3).

Notation: ``mean``, ``cov`` -> m, C; ``A, B, C`` -> the sampler coefficients of
``simulate.samplers.coefficients``; ``S, b`` -> ``estimator.affine_score(t)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._validation import checked
from simulate.estimators import AffineScore, as_estimator
from simulate.laws import GaussianLaw
from simulate.models.base import GaussianModel
from simulate.noise_level import NoiseLevel
from simulate.samplers import MULTI_STAGE, coefficients, ode_stages, resolve_sampler
from simulate.schedules import Schedule

__all__ = ["GaussianLaw", "output_law", "target_law"]


@checked
def target_law(model: Any, schedule: Schedule, t: int = 1) -> GaussianLaw:
    """q_t = law(X_t) of a Gaussian model (default t = 1: the law p_1 is compared with)."""
    if not isinstance(model, GaussianModel):
        raise TypeError(f"target_law needs a Gaussian model with noised_law(); got {model!r}")
    return model.noised_law(schedule.level(t))


@checked
def output_law(
    estimator: Any,
    schedule: Schedule,
    sampler: str | None = None,
    init: GaussianLaw | str | None = None,
    *,
    variance: str | None = None,
) -> GaussianLaw:
    """Exact law of Y_1 for an affine score estimate (SCIENCE.md 3).

    The covariance keeps the structure of the scores and the start: diagonal scores from a
    diagonal start cost O(T d); a support block of size k plus a diagonal, O(T (k^3 + d));
    dense scores, O(T d^3).

    Parameters
    ----------
    estimator : Estimator or Gaussian model
        Must provide ``affine_score(t)``; a model means its exact score.
    schedule : Schedule or VPSchedule
    sampler : str, optional
        A name of ``samplers.SAMPLERS`` valid on ``schedule`` (``samplers.resolve_sampler``).
        The multi-stage "pf_heun" and "pf_rk4" need the model's exact score between grid
        points (a Gaussian model or ``estimators.Exact`` of one); their law is computed per
        coordinate when every score matrix is diagonal, O(N S d), else with dense matrices.
    init : GaussianLaw, "normal" or "p_T", optional
        Law of Y_T; default (None or "normal") N(0, I), the convention. "p_T" (a Gaussian
        model's q_T) isolates the discretization error from the initialization error.
    variance : str, optional
        Deprecated name of ``sampler``.
    """
    est = as_estimator(estimator)
    if not isinstance(est, AffineScore):
        raise TypeError(f"{est!r} is not an affine score estimate: its exact law is not Gaussian")
    name = resolve_sampler(schedule, sampler, variance)
    start = _start_law(est, schedule, init)
    if name in MULTI_STAGE:
        return _ode_output_law(est, schedule, ode_stages(schedule, name), start)  # type: ignore[arg-type]
    fitted = est.fit(schedule)
    assert isinstance(fitted, AffineScore)  # a fitted copy keeps the class
    coef = coefficients(schedule, name)
    mean, cov = start.mean.copy(), start.cov
    for t in range(schedule.T, 1, -1):
        S, b = fitted.affine_score(t)
        A_t, B_t, C_t = coef.A[t - 1], coef.B[t - 1], coef.C[t - 1]
        M = S.scaled_plus_identity(B_t, A_t)  # M_t = A_t I + B_t S_t
        mean = M.matvec(mean) + B_t * b
        cov = cov.congruence(M, C_t * C_t)
    return GaussianLaw(mean, cov)


def _start_law(est: Any, schedule: Schedule, init: Any) -> GaussianLaw:
    if init is None or (isinstance(init, str) and init == "normal"):
        return GaussianLaw.standard(est.d)
    if isinstance(init, str):
        if init != "p_T":
            raise ValueError(f"init={init!r} is not supported; allowed: normal, p_T, a GaussianLaw")
        model = getattr(est, "model", est)
        return target_law(model, schedule, t=schedule.T)
    if not isinstance(init, GaussianLaw):
        raise TypeError(f"init must be a GaussianLaw, 'normal' or 'p_T'; got {init!r}")
    if init.d != est.d:
        raise ValueError(f"init has d={init.d}, the estimator has d={est.d} (must match)")
    return init


def _ode_output_law(est: Any, schedule: Schedule, st: Any, start: GaussianLaw) -> GaussianLaw:
    """Exact law of an explicit Runge-Kutta probability-flow sampler with affine scores.

    Each stage input is an affine map of the step's start, Y_i = P_i y + q_i, and its slope
    k_i = g_i ((I + S_i) Y_i + b_i) = K_i y + kq_i; the step is y <- P y + q with
    P = I + h sum b_i K_i, q = h sum b_i kq_i, so m <- P m + q and C <- P C P^T. Diagonal
    S_i and a diagonal start keep every P diagonal (vectors); otherwise dense (d, d).
    """
    model = getattr(est, "model", None)
    if not isinstance(model, GaussianModel):
        raise TypeError(
            f"sampler={st.sampler!r} needs the exact score of a Gaussian model between grid "
            f"points; got {est!r}"
        )
    d = est.d
    first = model.affine_score(NoiseLevel(st.alpha_bar[-1, 0], st.v[-1, 0]))[0]
    diagonal = first.structure == "diagonal" and start.cov.structure == "diagonal"
    eye = np.ones(d) if diagonal else np.eye(d)

    def times(M: np.ndarray, X: np.ndarray) -> np.ndarray:
        return M * X if diagonal else M @ X

    mean = start.mean.copy()
    cov = start.cov.diagonal_entries() if diagonal else start.cov.to_dense()
    for t in range(schedule.T, 1, -1):
        h = st.h[t - 1]
        K: list[np.ndarray] = []
        kq: list[np.ndarray] = []
        for i in range(int(st.n_stages[t - 1])):
            P_i = eye + h * sum((st.a[i, j] * K[j] for j in range(i)), np.zeros_like(eye))
            q_i = h * sum((st.a[i, j] * kq[j] for j in range(i)), np.zeros(d))
            S, b = model.affine_score(NoiseLevel(st.alpha_bar[t - 1, i], st.v[t - 1, i]))
            I_S = (1.0 + S.diagonal_entries()) if diagonal else (np.eye(d) + S.to_dense())
            g = st.g[t - 1, i]
            K.append(g * times(I_S, P_i))
            kq.append(g * (times(I_S, q_i) + b))
        P = eye + h * sum((st.b[t - 1, i] * K[i] for i in range(len(K))), np.zeros_like(eye))
        q = h * sum((st.b[t - 1, i] * kq[i] for i in range(len(kq))), np.zeros(d))
        if diagonal:
            mean = P * mean + q
            cov = P * P * cov
        else:
            mean = P @ mean + q
            cov = P @ cov @ P.T
    if diagonal:
        return GaussianLaw.diagonal(mean, cov)
    return GaussianLaw.dense(mean, 0.5 * (cov + cov.T))


def coordinate_law(
    lam: Any,
    mean: Any,
    schedule: Schedule,
    sampler: str | None = None,
    init: str = "normal",
) -> GaussianLaw:
    """Exact law of Y_1 for independent Gaussian coordinates with the exact score, in O(T d)
    array operations (no per-step Python loop): X_0 has independent coordinates of variance
    ``lam`` (>= 0) and mean ``mean``.

    Per coordinate the score is affine, s = S y + c with S = -1/(abar lam + v) and
    c = sqrt(abar) mean / (abar lam + v), so every step (one-stage, or a Runge-Kutta step
    composed stage by stage) is y <- P_t y + Q_t + sqrt(N_t) Z. The T steps compose in closed
    form: with the products of the steps applied after step t, Pi_t = prod_{t' < t} P_t',

        mean_1 = m_T prod_t P_t + sum_t Q_t Pi_t,   var_1 = v_T prod_t P_t^2 + sum_t N_t Pi_t^2.

    Agrees with :func:`output_law` (``tests/test_vp_samplers.py``); it is the fast path of
    sweeps over T (``experiments.steps_to_accuracy``).

    Parameters
    ----------
    lam, mean : array_like (d,)
    schedule : Schedule or VPSchedule
    sampler : str, optional
        Any name of ``samplers.SAMPLERS`` valid on ``schedule``.
    init : {"normal", "p_T"}
    """
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    mu = np.broadcast_to(np.asarray(mean, dtype=np.float64), lam.shape)
    if np.any(lam < 0) or not np.all(np.isfinite(lam)) or not np.all(np.isfinite(mu)):
        raise ValueError("lam must be finite and >= 0, and mean finite")
    name = resolve_sampler(schedule, sampler)

    def score(ab: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = ab[..., None] * lam + v[..., None]
            return -1.0 / denom, np.sqrt(ab)[..., None] * mu / denom

    if name in MULTI_STAGE:
        st = ode_stages(schedule, name)  # type: ignore[arg-type]
        h = st.h[1:, None]
        K: list[np.ndarray] = []
        kq: list[np.ndarray] = []
        active_all = st.n_stages[1:, None]
        for i in range(st.a.shape[0]):
            P_i = 1.0 + h * sum((st.a[i, j] * K[j] for j in range(i)), np.zeros_like(h))
            q_i = h * sum((st.a[i, j] * kq[j] for j in range(i)), np.zeros_like(h))
            S, c = score(st.alpha_bar[1:, i], st.v[1:, i])
            g = st.g[1:, i, None]
            active = active_all > i
            with np.errstate(invalid="ignore"):
                K.append(np.where(active, g * (1.0 + S) * P_i, 0.0))
                kq.append(np.where(active, g * ((1.0 + S) * q_i + c), 0.0))
        b = st.b[1:]
        P = 1.0 + h * sum(b[:, i, None] * K[i] for i in range(len(K)))
        Q = h * sum(b[:, i, None] * kq[i] for i in range(len(kq)))
        N = np.zeros_like(P)
    else:
        coef = coefficients(schedule, name)
        S, c = score(schedule.alpha_bar[1:], schedule.v[1:])
        A, B, C = coef.A[1:, None], coef.B[1:, None], coef.C[1:, None]
        P, Q, N = A + B * S, B * c, np.broadcast_to(C * C, S.shape)
    if init == "normal":
        m_T, v_T = np.zeros_like(lam), np.ones_like(lam)
    elif init == "p_T":
        ab, v = schedule.alpha_bar[-1], schedule.v[-1]
        m_T, v_T = np.sqrt(ab) * mu, ab * lam + v
    else:
        raise ValueError(f"init={init!r} is not supported; allowed: normal, p_T")
    # rows are steps t = 2..T (ascending); the steps applied after step t are those below it
    ones = np.ones((1, lam.size))
    with np.errstate(over="ignore", invalid="ignore"):
        before = np.concatenate([ones, np.cumprod(P, axis=0)[:-1]])  # prod_{t' < t} P_t'
        total = np.prod(P, axis=0)
        mean_1 = m_T * total + np.sum(Q * before, axis=0)
        var_1 = v_T * total * total + np.sum(N * before * before, axis=0)
    if not (np.all(np.isfinite(mean_1)) and np.all(np.isfinite(var_1))):
        raise FloatingPointError(
            f"the law of sampler={name!r} on {schedule.name} is not finite (an unstable step "
            "overflowed); output_law gives the same verdict step by step"
        )
    return GaussianLaw.diagonal(mean_1, var_1)
