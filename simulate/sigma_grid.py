"""Schedules on a grid of noise levels sigma, and the exact KL of DDIM on them (issue 31, item 1).

A noise level sigma is the variance-exploding scale of the variance-preserving chain:
alpha_bar = 1 / (1 + sigma^2), and y = x / sqrt(alpha_bar) = x sqrt(1 + sigma^2) is X_0 plus
sigma times a standard normal. DDIM is Euler in (y, sigma) (Song et al. 2021, eq. 14; Karras et
al. 2022, sec. 3): y' = y + (sigma' - sigma) epshat(y, sigma).

On N(0, lambda) data with the exact score, epshat = sigma y / (lambda + sigma^2), and with
theta = atan(sigma / sqrt(lambda)) one step multiplies the state by
cos(theta - theta') cos(theta) / cos(theta') and the ratio of its variance to the exact marginal
variance lambda + sigma^2 by cos^2(theta - theta') (Sabour, Fidler, Kreis 2024, "Align Your
Steps", arXiv 2404.14507, Theorem 3.1; proved in ``theory/sigma_grid.py``). From the exact
start the output variance over the exact one is r = prod_i cos^2(dtheta_i), and the KL of the
exact output law to the sampler's is (1/r - 1 + log r) / 2 per eigenvalue.

Notation (code -> symbol):

================  ===========================================================================
``sigmas``        sigma_0 = sigma_max > sigma_1 > ... > sigma_n = sigma_min (n steps)
``lam``           lambda, the data variance of one eigen-direction (>= 0)
``theta``         theta = atan(sigma / sqrt(lambda)) (pi/2 where lambda = 0)
``log_ratio``     log r = sum_i 2 log cos(theta_i - theta_{i+1})
``c``             the scale of the tangent law, sigma_i = c tan(...)
``rho``           EDM's exponent (Karras et al. 2022, eq. 5; 7 by default)
================  ===========================================================================
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from simulate._validation import check_int, check_real
from simulate.schedules import Schedule, li

__all__ = [
    "SIGMA_MAX",
    "SIGMA_MIN",
    "ddim_kl",
    "ddim_kl_grad",
    "ddim_log_ratio",
    "binned_spectrum",
    "edm",
    "li_shape",
    "log_snr",
    "optimal",
    "tangent",
    "to_schedule",
]

#: The range of Align Your Steps' Fig. 3 and of EDM (Karras et al. 2022, Table 1).
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0
#: Below this |log r| the KL (e^{-L} - 1 + L) / 2 is summed as its Taylor series (the direct
#: form cancels to ~eps / L^2 relative error); 6 terms leave a truncation below L^5 / 720.
_SERIES_BELOW = 1e-2


def _check_ends(n: int, sigma_min: float, sigma_max: float) -> tuple[int, float, float]:
    n = check_int("n", n, low=1)
    sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
    sigma_max = check_real("sigma_max", sigma_max, low=sigma_min, low_open=True)
    return n, sigma_min, sigma_max


def edm(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = 7.0):
    """EDM's grid (Karras et al. 2022, eq. 5): sigma_i = (sigma_max^(1/rho) + i/n
    (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, i = 0..n (n steps, ending at sigma_min)."""
    n, sigma_min, sigma_max = _check_ends(n, sigma_min, sigma_max)
    rho = check_real("rho", rho, low=0.0, low_open=True)
    i = np.arange(n + 1) / n
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    out = (hi + i * (lo - hi)) ** rho
    out[0], out[-1] = sigma_max, sigma_min
    return out


def log_snr(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> np.ndarray:
    """Uniform in log-SNR = -2 log sigma: log sigma_i = (1 - i/n) log sigma_max + (i/n) log
    sigma_min, i = 0..n."""
    n, sigma_min, sigma_max = _check_ends(n, sigma_min, sigma_max)
    i = np.arange(n + 1) / n
    out = np.exp((1.0 - i) * math.log(sigma_max) + i * math.log(sigma_min))
    out[0], out[-1] = sigma_max, sigma_min
    return out


def tangent(
    n: int, c: float = 1.0, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX
) -> np.ndarray:
    """The tangent law (Align Your Steps, Theorem 3.1; ComfyUI's ``kl_optimal`` is c = 1):
    sigma_i = c tan((1 - i/n) atan(sigma_max / c) + (i/n) atan(sigma_min / c)), i = 0..n."""
    n, sigma_min, sigma_max = _check_ends(n, sigma_min, sigma_max)
    c = check_real("c", c, low=0.0, low_open=True)
    i = np.arange(n + 1) / n
    out = c * np.tan((1.0 - i) * math.atan(sigma_max / c) + i * math.atan(sigma_min / c))
    out[0], out[-1] = sigma_max, sigma_min
    return out


def li_shape(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> np.ndarray:
    """The shape of ``schedules.li(n + 1)`` on [sigma_min, sigma_max]: its own noise levels
    sigma_t = sqrt(v_t / abar_t), t = n + 1..1 (SCIENCE.md 1.1), mapped affinely in log sigma
    onto the common ends (li's own ends are about 1/T and 40, not 0.002 and 80)."""
    n, sigma_min, sigma_max = _check_ends(n, sigma_min, sigma_max)
    if n + 1 < 10:
        raise ValueError(f"n={n}: li(n + 1) needs n + 1 >= 10 here (c1 log T / T < 1)")
    sch = li(n + 1)
    own = np.log(np.sqrt(sch.v / sch.alpha_bar))[::-1]
    frac = (own - own[-1]) / (own[0] - own[-1])
    out = np.exp(math.log(sigma_min) + frac * (math.log(sigma_max) - math.log(sigma_min)))
    out[0], out[-1] = sigma_max, sigma_min
    return out


def to_schedule(sigmas: np.ndarray, name: str = "sigma grid") -> Schedule:
    """The discrete ``Schedule`` whose abar_t = 1 / (1 + sigma^2) at step t = 1..n+1, step 1
    holding sigma_min (so samplers run t = n+1, ..., 2 and return step 1):
    beta_1 = sigma_1^2 / (1 + sigma_1^2), beta_t = (sigma_t^2 - sigma_{t-1}^2) / (1 + sigma_t^2)."""
    s = _check_sigmas(sigmas)[::-1]
    s2 = s * s
    beta = np.concatenate(([s2[0] / (1.0 + s2[0])], np.diff(s2) / (1.0 + s2[1:])))
    return Schedule(name=name, beta=beta)


def _check_sigmas(sigmas: np.ndarray) -> np.ndarray:
    s = np.asarray(sigmas, dtype=np.float64)
    if s.ndim != 1 or s.size < 2 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("sigmas must be a 1-D array of >= 2 finite values > 0")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must decrease strictly (sigma_max first, sigma_min last)")
    return s


def _check_lam(lam: np.ndarray) -> np.ndarray:
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    if lam.ndim != 1 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("lam must be a 1-D array of finite values >= 0")
    return lam


def _step_terms(lam: np.ndarray, sigmas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per eigenvalue and step, log cos^2(dtheta_i) and tan(dtheta_i) in rational form (no
    trigonometric calls): with theta = atan(sigma / sqrt(lambda)),
    cos^2(dtheta) = (lambda + sigma sigma')^2 / ((lambda + sigma^2)(lambda + sigma'^2)), so
    log cos^2 = log1p(-lambda (sigma - sigma')^2 / ((lambda + sigma^2)(lambda + sigma'^2))),
    and tan(dtheta) = sqrt(lambda) (sigma - sigma') / (lambda + sigma sigma')."""
    a, b = sigmas[None, :-1], sigmas[None, 1:]
    lm = lam[:, None]
    gap = a - b
    den_a, den_b, num = lm + a * a, lm + b * b, lm + a * b
    sin2 = lm * gap * gap / (den_a * den_b)
    # log1p(-sin^2) where sin^2 is small; the logs of the factors where cos^2 is (1 - sin^2
    # would cancel): each branch keeps a few ulps of relative accuracy
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = 2.0 * np.log(num) - np.log(den_a) - np.log(den_b)
    log_cos2 = np.where(sin2 < 0.5, np.log1p(-np.minimum(sin2, 0.5)), direct)
    tan = np.sqrt(lm) * gap / (lm + a * b)
    return log_cos2, tan


def ddim_log_ratio(lam: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """log r per eigenvalue, r = var(DDIM output) / (lambda + sigma_min^2) from the exact start:
    log r = sum_i log cos^2(theta_i - theta_{i+1}) (AYS Thm 3.1; ``_step_terms``)."""
    lam, sigmas = _check_lam(lam), _check_sigmas(sigmas)
    return np.sum(_step_terms(lam, sigmas)[0], axis=1)


def _half_expm1_minus(x: np.ndarray) -> np.ndarray:
    """(e^x - 1 - x) / 2, accurate for small |x| (Taylor series below ``_SERIES_BELOW``)."""
    x = np.asarray(x, dtype=np.float64)
    series = x * x / 2 * (1 + x / 3 * (1 + x / 4 * (1 + x / 5 * (1 + x / 6 * (1 + x / 7)))))
    direct = np.expm1(x) - x
    return 0.5 * np.where(np.abs(x) < _SERIES_BELOW, series, direct)


def ddim_kl(lam: np.ndarray, sigmas: np.ndarray, weights: np.ndarray | None = None) -> float:
    """KL(exact ODE output || DDIM output) summed over eigenvalues (each counted ``weights``
    times, default once), from the exact start: sum_lambda (1/r - 1 + log r) / 2
    = sum (e^{-L} - 1 + L) / 2 with L = log r."""
    per = _half_expm1_minus(-ddim_log_ratio(lam, sigmas))
    return float(np.sum(per if weights is None else weights * per))


def ddim_kl_grad(
    lam: np.ndarray, sigmas: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """d KL / d log sigma_i at the interior points i = 1..n-1 (chain rule on ``ddim_kl``):
    dKL/dL = (1 - e^{-L}) / 2, dL/dtheta_i = 2 tan(dtheta_{i-1}) - 2 tan(dtheta_i),
    dtheta_i / dlog sigma_i = sin(theta_i) cos(theta_i) = sigma_i sqrt(lambda) / (lambda +
    sigma_i^2)."""
    lam, sigmas = _check_lam(lam), _check_sigmas(sigmas)
    log_cos2, tan = _step_terms(lam, sigmas)
    dkl_dL = -0.5 * np.expm1(-np.sum(log_cos2, axis=1))
    if weights is not None:
        dkl_dL = dkl_dL * weights
    inner = sigmas[None, 1:-1]
    dtheta_du = inner * np.sqrt(lam)[:, None] / (lam[:, None] + inner * inner)
    return np.sum(dkl_dL[:, None] * 2.0 * (tan[:, :-1] - tan[:, 1:]) * dtheta_du, axis=0)


def binned_spectrum(lam: np.ndarray, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A short weighted stand-in for a long spectrum (the optimizer's warm start only): the
    positive eigenvalues in ``bins`` groups of equal count, each its geometric mean, weighted
    by its count (the zero eigenvalues add nothing to ``ddim_kl`` and are dropped)."""
    lam = _check_lam(lam)
    pos = np.sort(lam[lam > 0])
    groups = np.array_split(pos, min(bins, pos.size))
    return (
        np.array([math.exp(float(np.mean(np.log(gr)))) for gr in groups]),
        np.array([float(gr.size) for gr in groups]),
    )


def _minimize(
    lam: np.ndarray, weights: np.ndarray | None, start: np.ndarray, gtol: float, maxiter: int
) -> np.ndarray:
    """L-BFGS-B over the grids with the ends of ``start``, ordered by construction: the n
    steps in log sigma are D softmax(z) (D = log sigma_max - log sigma_min), so
    u_i = log sigma_max - D sum_{j <= i} w_j; the gradient is the chain rule on
    ``ddim_kl_grad``: dKL/dw_j = -D sum_{j <= i <= n-1} dKL/du_i, and
    dKL/dz_k = w_k (dKL/dw_k - sum_j w_j dKL/dw_j)."""
    top, span = math.log(start[0]), math.log(start[0]) - math.log(start[-1])

    def full(z: np.ndarray) -> np.ndarray:
        w = np.exp(z - z.max())
        w /= w.sum()
        u = top - span * np.cumsum(w)
        s = np.exp(np.concatenate(([top], u)))
        s[-1] = start[-1]
        return s, w

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        s, w = full(z)
        if np.any(np.diff(s) >= 0):  # a step below the float64 resolution of log sigma
            return math.inf, np.zeros_like(z)
        g_u = ddim_kl_grad(lam, s, weights)
        g_w = np.zeros_like(w)
        g_w[:-1] = -span * np.cumsum(g_u[::-1])[::-1]
        return ddim_kl(lam, s, weights), w * (g_w - np.dot(w, g_w))

    z0 = np.log(-np.diff(np.log(start)) / span)
    res = optimize.minimize(
        fun, z0, jac=True, method="L-BFGS-B",
        options={"gtol": gtol, "ftol": 1e-15, "maxiter": maxiter},
    )  # fmt: skip
    return full(res.x)[0]


def optimal(
    lam: np.ndarray,
    n: int,
    sigma_min: float = SIGMA_MIN,
    sigma_max: float = SIGMA_MAX,
    starts: tuple[np.ndarray, ...] = (),
    bins: int = 256,
    gtol: float = 1e-10,
    polish_iter: int = 200,
) -> tuple[np.ndarray, float]:
    """The DDIM grid of n steps minimizing ``ddim_kl`` over its n - 1 interior log sigma_i:
    L-BFGS-B with the analytic gradient ``ddim_kl_grad``, first on ``binned_spectrum`` (when
    the spectrum is longer than ``bins``), then polished on the whole spectrum; from each of
    ``starts`` (default: log-SNR). Returns the best (sigmas, exact KL on the whole spectrum).
    Smooth in n - 1 variables; a local optimum in general (the single-scale case is convex in
    the steps dtheta, and there the optimum is the tangent law)."""
    n, sigma_min, sigma_max = _check_ends(n, sigma_min, sigma_max)
    lam = _check_lam(lam)
    gtol = check_real("gtol", gtol, low=0.0, low_open=True)
    if n == 1:
        s = np.array([sigma_max, sigma_min])
        return s, ddim_kl(lam, s)
    starts = starts or (log_snr(n, sigma_min, sigma_max),)
    short, weights = binned_spectrum(lam, bins) if lam.size > bins else (lam, None)
    best: tuple[np.ndarray, float] | None = None
    for start in starts:
        start = _check_sigmas(start)
        if start.size != n + 1 or start[0] != sigma_max or start[-1] != sigma_min:
            raise ValueError(f"each start must have n + 1 = {n + 1} points from sigma_max to "
                             "sigma_min")
        s = _minimize(short, weights, start, gtol, 5000)
        if weights is not None:
            s = _minimize(lam, None, s, gtol, polish_iter)
        kl = ddim_kl(lam, s)
        if best is None or kl < best[1]:
            best = (s, kl)
    assert best is not None
    return best
