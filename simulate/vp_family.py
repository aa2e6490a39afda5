"""The parametric VP-SDE schedule family of Strasman, Ocello, Boyer, Le Corff, Lemaire (TMLR
2025, arXiv 2402.04650) and the exact law of its EM and EI samplers on isotropic Gaussian
data (issue 31, item 2).

Forward SDE (their ``forward_VPSDE`` with sigma_infty = 1, Song et al.'s VP SDE):
dX = -beta(t)/2 X dt + sqrt(beta(t)) dW, with

    beta_a(t) = beta_min + delta (e^{a t} - 1),  delta = (beta_max - beta_min) / (e^{a T} - 1),

(a = 0: the linear schedule, delta = (beta_max - beta_min) / T) and
B(t) = int_0^t beta_a = beta_min t + delta ((e^{a t} - 1) / a - t).

On data N(mean, var I) the score at time t is -(y - m_t) / s_t with m_t = e^{-B/2} mean,
s_t = e^{-B} var + 1 - e^{-B}. Backward from Y_T ~ N(0, 1), N uniform steps h = T / N,
step k going from t_s = T - k h to t_e = t_s - h:

- ``em`` as their code has it (``Euler_Maruyama_discr_sampler``): drift and noise at the
  step's end time, Y <- Y + h (beta(t_e)/2 Y + beta(t_e) s(Y, t_e)) + sqrt(beta(t_e) h) Z;
- ``ei`` (``EI_discr_sampler``): g = (B(t_s) - B(t_e)) / 2, Y <- e^g Y + 2 (e^g - 1) s(Y, t_s)
  + sqrt(e^{2g} - 1) Z.

Each step is affine-Gaussian, so the output is N(mu_0, v_0) per coordinate, exactly.

Notation: ``a`` the family's parameter; ``mean``, ``var`` the data's per-coordinate mean and
variance; ``kl`` = d KL(N(mean, var) || N(mu_0, v_0)).
"""

from __future__ import annotations

import math

import numpy as np

from simulate._validation import check_choice, check_int, check_real

__all__ = [
    "SCHEMES", "beta", "integral", "kl_bound", "kl_to_data", "kl_to_data_diag", "output_law",
    "relative_fisher",
]

SCHEMES = ("em", "ei")
#: Below this |a| the family is evaluated by its a -> 0 limit (linear), as their code does
#: (their threshold 1e-3; here the series e^{a t} - 1 = a t (1 + a t / 2 + ...) keeps
#: relative accuracy ~ (a t)^2 / 6 < 2e-7 in delta's ratio, far below any reported digit).
_LINEAR_BELOW = 1e-3


def _delta(a: float, T: float, beta_min: float, beta_max: float) -> float:
    return (beta_max - beta_min) / (T if abs(a) < _LINEAR_BELOW else math.expm1(a * T))


def beta(t: np.ndarray, a: float, T: float, beta_min: float, beta_max: float) -> np.ndarray:
    """beta_a(t) = beta_min + delta (e^{a t} - 1) (module docstring)."""
    t = np.asarray(t, dtype=np.float64)
    d = _delta(a, T, beta_min, beta_max)
    return beta_min + d * (t if abs(a) < _LINEAR_BELOW else np.expm1(a * t))


def integral(t: np.ndarray, a: float, T: float, beta_min: float, beta_max: float) -> np.ndarray:
    """B(t) = beta_min t + delta ((e^{a t} - 1) / a - t) (t^2 / 2 in the linear limit)."""
    t = np.asarray(t, dtype=np.float64)
    d = _delta(a, T, beta_min, beta_max)
    if abs(a) < _LINEAR_BELOW:
        return beta_min * t + 0.5 * d * t * t
    return beta_min * t + d * (np.expm1(a * t) / a - t)


def output_law(
    scheme: str,
    a: float,
    n_steps: int,
    mean: float,
    var: float,
    T: float = 1.0,
    beta_min: float = 0.1,
    beta_max: float = 20.0,
) -> tuple[float, float]:
    """(mu_0, v_0) of the scheme's output per coordinate from Y_T ~ N(0, 1) (module
    docstring: each step y <- P y + Q + sqrt(N) Z, composed exactly)."""
    scheme = check_choice("scheme", scheme, SCHEMES)
    a = check_real("a", a)
    n_steps = check_int("n_steps", n_steps, low=1)
    var = check_real("var", var, low=0.0, low_open=True)
    T = check_real("T", T, low=0.0, low_open=True)
    beta_min = check_real("beta_min", beta_min, low=0.0, low_open=True)
    beta_max = check_real("beta_max", beta_max, low=beta_min)
    h = T / n_steps
    mu, v = 0.0, 1.0
    args = (a, T, beta_min, beta_max)
    for k in range(n_steps):
        t_s = T - k * h
        t_e = max(t_s - h, 0.0)
        t_sc = t_e if scheme == "em" else t_s  # the time the score is read at
        B = float(integral(t_sc, *args))
        m_t, s_t = math.exp(-0.5 * B) * mean, math.exp(-B) * var - math.expm1(-B)
        if scheme == "em":
            b = float(beta(t_e, *args))
            lin, coef, noise = 1.0 + 0.5 * h * b, h * b, h * b
        else:
            g = 0.5 * float(integral(t_s, *args) - integral(t_e, *args))
            lin, coef, noise = math.exp(g), 2.0 * math.expm1(g), math.expm1(2.0 * g)
        # y <- lin y + coef s(y), s(y) = -(y - m_t) / s_t
        P = lin - coef / s_t
        mu, v = P * mu + coef * m_t / s_t, P * P * v + noise
    return mu, v


def kl_to_data(
    scheme: str, a: float, n_steps: int, d: int, mean: float, var: float, **kwargs: float
) -> float:
    """d KL(N(mean, var) || N(mu_0, v_0)) (both isotropic: per coordinate
    (var / v_0 - 1 + log(v_0 / var) + (mean - mu_0)^2 / v_0) / 2)."""
    d = check_int("d", d, low=1)
    mu0, v0 = output_law(scheme, a, n_steps, mean, var, **kwargs)
    r = var / v0
    return 0.5 * d * (r - 1.0 - math.log(r) + (mean - mu0) ** 2 / v0)


def relative_fisher(mean: np.ndarray, var: np.ndarray) -> float:
    """I(pi | N(0, I)) for pi = N(mean, diag(var)): E|grad log(pi / gamma)|^2 =
    tr Sigma^-1 - 2 d + tr Sigma + |mean|^2 (Strasman et al.'s relative Fisher information with
    sigma_infty = 1; the term tr Sigma^-1 is infinite on sparse data, var -> 0)."""
    mean, var = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)
    return float(np.sum(1.0 / var) - 2 * var.size + np.sum(var) + np.sum(mean * mean))


def kl_bound(
    mean: np.ndarray, var: np.ndarray, a: float, n_steps: int, T: float = 1.0,
    beta_min: float = 0.1, beta_max: float = 20.0,
) -> tuple[float, float]:
    """Their KL upper bound with the exact score, (mixing E1, discretization E3):
    E1 = KL(pi || N(0, I)) e^{-B(T)}, E3 = 2 h beta(T) max(h beta(T) / 4, 1) I(pi | N(0, I)),
    h = T / N (their ``compute_E1`` and ``compute_E3``, sigma_infty = 1)."""
    mean, var = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)
    kl_start = 0.5 * float(np.sum(var - 1.0 - np.log(var) + mean * mean))
    e1 = kl_start * math.exp(-float(integral(T, a, T, beta_min, beta_max)))
    hb = T / n_steps * float(beta(T, a, T, beta_min, beta_max))
    return e1, 2.0 * hb * max(hb / 4.0, 1.0) * relative_fisher(mean, var)


def kl_to_data_diag(
    scheme: str, a: float, n_steps: int, mean: np.ndarray, var: np.ndarray, **kwargs: float
) -> float:
    """KL(N(mean, diag(var)) || output law), summed over coordinates (each coordinate's law by
    ``output_law``)."""
    out = 0.0
    for m_i, v_i in zip(np.asarray(mean, float), np.asarray(var, float), strict=True):
        mu0, v0 = output_law(scheme, a, n_steps, float(m_i), float(v_i), **kwargs)
        r = v_i / v0
        out += 0.5 * (r - 1.0 - math.log(r) + (m_i - mu0) ** 2 / v0)
    return out
