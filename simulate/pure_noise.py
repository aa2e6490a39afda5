"""Two families of DDPM-type coefficients on one pure-noise coordinate (issue 31, item 4).

A pure-noise coordinate has data variance 0: q_t = N(0, v_t), exact score s_t(y) = -y / v_t.
On aligned data with s support coordinates KL(q_1 || p_1) = KL_S + (d - s) k, so the KL ``k``
of one such coordinate is the exact slope of the KL in d at fixed s (SCIENCE.md 2).

Families (SCIENCE.md 2's conventions, v_t = 1 - abar_t, beta_t = 1 - alpha_t):

- ``gamma``: Y_{t-1} = (Y_t + beta_t s_t + sigma_t Z) / sqrt(alpha_t) with
  sigma_t^2 = beta_t ((alpha_t - abar_t) / (1 - abar_t))^gamma, gamma in [0, 1]: gamma = 0 is
  the "beta" sampler, gamma = 1 the posterior one (sigma_t^2 / alpha_t = (1 - abar_{t-1})
  beta_t / (1 - abar_t), Ho's beta tilde; (alpha_t - abar_t) / (1 - abar_t) = alpha_t v_{t-1}
  / v_t). The issue's formula is read as written: in this convention the noise is added
  before the division by sqrt(alpha_t), so no abar_{t-1} is needed.
- ``eta``: DDIM-DDPM (Song, Meng, Ermon 2021, eq. 12 and 16): Y_{t-1} = sqrt(abar_{t-1}) x0hat
  + sqrt(v_{t-1} - sigma_t^2) epshat + sigma_t Z, sigma_t^2 = eta^2 (v_{t-1} / v_t) (1 - abar_t
  / abar_{t-1}), eta in [0, 1] (0: DDIM, 1: the posterior sampler).

On a pure-noise coordinate each step is y <- P_t y + sqrt(N_t) Z (x0hat = 0, epshat = y /
sqrt(v_t)); the steps t = T..2 compose to var_1 = var_T prod P_t^2 + sum_t N_t prod_{t' < t}
P_t'^2 (as ``exact.coordinate_law``). Starts: ``q_T`` (var_T = v_T) or ``normal`` (1).

Notation: ``P``, ``N`` as above; ``kl`` = KL(N(0, v_1) || N(0, var_1)) = (log1p(u) - u /
(1 + u)) / 2 with u = var_1 / v_1 - 1.
"""

from __future__ import annotations

import numpy as np

from simulate._validation import check_choice, check_real
from simulate.schedules import Schedule

__all__ = ["FAMILIES", "kl_per_coordinate", "output_variance", "step_coefficients"]

FAMILIES = ("gamma", "eta")


def step_coefficients(schedule: Schedule, family: str, param: float) -> tuple[np.ndarray, ...]:
    """(P_t, N_t) for t = 2..T of one pure-noise step (module docstring):
    gamma: P = sqrt(alpha_t) v_{t-1} / v_t, N = beta_t x_t^gamma / alpha_t, x_t = alpha_t
    v_{t-1} / v_t; eta: sigma^2 = eta^2 v_{t-1} beta_t / v_t, P = sqrt((v_{t-1} - sigma^2) /
    v_t), N = sigma^2."""
    family = check_choice("family", family, FAMILIES)
    param = check_real(family, param, low=0.0, high=1.0)
    a, b = schedule.alpha[1:], schedule.beta[1:]
    v, v_prev = schedule.v[1:], schedule.v[:-1]
    if family == "gamma":
        x = a * v_prev / v
        return np.sqrt(a) * v_prev / v, b * x**param / a
    sigma2 = param * param * v_prev * b / v
    return np.sqrt((v_prev - sigma2) / v), sigma2


def output_variance(schedule: Schedule, family: str, param: float, init: str) -> float:
    """var_1 = var_T prod_t P_t^2 + sum_t N_t prod_{t' < t} P_t'^2 (module docstring), from
    ``init`` "q_T" (var_T = v_T) or "normal" (var_T = 1)."""
    init = check_choice("init", init, ("q_T", "normal"))
    P, N = step_coefficients(schedule, family, param)
    P2 = P * P
    before = np.concatenate(([1.0], np.cumprod(P2)[:-1]))  # steps applied after step t
    var_T = float(schedule.v[-1]) if init == "q_T" else 1.0
    return float(var_T * np.prod(P2) + np.sum(N * before))


def kl_per_coordinate(schedule: Schedule, family: str, param: float, init: str) -> float:
    """KL(N(0, v_1) || N(0, var_1)) = (log1p(u) - u / (1 + u)) / 2, u = var_1 / v_1 - 1: the
    exact slope of KL(q_1 || p_1) per pure-noise coordinate."""
    v1 = float(schedule.v[0])
    u = output_variance(schedule, family, param, init) / v1 - 1.0
    if abs(u) < 1e-4:  # series: log1p(u) - u/(1+u) = u^2/2 - 2u^3/3 + 3u^4/4 - ...
        return 0.5 * u * u * (0.5 - u * (2.0 / 3.0 - 0.75 * u))
    return 0.5 * (float(np.log1p(u)) - u / (1.0 + u))
