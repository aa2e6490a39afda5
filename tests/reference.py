"""Slow, obviously correct NumPy twins of the numba kernels, written from the equations.

Each twin here re-derives its result from SCIENCE.md / the cited paper without sharing code
with ``simulate``; the tests compare kernel and twin.

Notation: as in SCIENCE.md (a = sqrt(abar_t), v = 1 - abar_t).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import mpmath
import numpy as np
from scipy import integrate, special, stats
from scipy.special import logsumexp

M32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Philox4x32-10 (Salmon et al. 2011) on arrays: counter (..., 4), key (..., 2) -> (..., 4)."""
    c = [counter[..., i].astype(np.uint64) for i in range(4)]
    k0 = key[..., 0].astype(np.uint64)
    k1 = key[..., 1].astype(np.uint64)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [
            (p1 >> np.uint64(32)) ^ c[1] ^ k0,
            p1 & M32,
            (p0 >> np.uint64(32)) ^ c[3] ^ k1,
            p0 & M32,
        ]
        k0 = (k0 + np.uint64(0x9E3779B9)) & M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & M32
    return np.stack(c, axis=-1)


def normals(seed: int, samples: np.ndarray, step: int, d: int, stream: int = 0) -> np.ndarray:
    """Z[i, j] = the normal of (seed, samples[i], step, j): Philox on the counter
    (j // 4, step, i mod 2^32, stream ^ (i div 2^32)); words (w0, w1) give coordinates 4q and
    4q + 1, (w2, w3) give 4q + 2 and 4q + 3, each pair by Box-Muller with NumPy's log, cos
    and sin on the uniforms (w + 1/2) / 2^32."""
    samples = np.asarray(samples, dtype=np.uint64)
    n_quads = (d + 3) // 4
    quad = np.arange(n_quads, dtype=np.uint64)
    i = samples[:, None] * np.ones_like(quad)[None, :]
    counter = np.stack(
        [
            np.broadcast_to(quad, i.shape),
            np.full(i.shape, step, dtype=np.uint64),
            i & M32,
            np.uint64(stream) ^ (i >> np.uint64(32)),
        ],
        axis=-1,
    )
    seed = np.uint64(seed)
    key = np.broadcast_to(
        np.array([seed & M32, seed >> np.uint64(32)], dtype=np.uint64), (*i.shape, 2)
    )
    w = philox4x32_10(counter, key)
    u = (w.astype(np.float64) + 0.5) * 2.0**-32
    z = np.empty((len(samples), n_quads, 4))
    for k in (0, 2):
        r = np.sqrt(-2.0 * np.log(u[..., k]))
        z[..., k] = r * np.cos(2 * np.pi * u[..., k + 1])
        z[..., k + 1] = r * np.sin(2 * np.pi * u[..., k + 1])
    return z.reshape(len(samples), 4 * n_quads)[:, :d]


def subspace_gaussian_score(
    x: np.ndarray, alpha_bar: float, U: np.ndarray, mean: np.ndarray, cov: np.ndarray
) -> np.ndarray:
    """SCIENCE.md 4.1: -(I - U U^T) x / v - U (a^2 Sigma + v I)^-1 (U^T x - a mu), row-wise."""
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    d, k = U.shape
    P = np.eye(d) - U @ U.T
    K = np.linalg.inv(a * a * cov + v * np.eye(k))
    return -(x @ P.T) / v - (x @ U - a * mean) @ K.T @ U.T


def sample_ddpm(
    score, alpha: np.ndarray, alpha_bar: np.ndarray, n: int, d: int, seed: int, variance: str
) -> np.ndarray:
    """The samplers of SCIENCE.md 1.1-2, line by line, with the twin's normals.

    ``score(y, t)`` is the score estimate at step t. DDPM-type:
    Y_{t-1} = (Y_t + eta_t s_t(Y_t) + sigma_t Z_t) / sqrt(alpha_t), eta_t = 1 - alpha_t;
    DDIM: Y_{t-1} = sqrt(abar_{t-1}) x0hat + sqrt(1 - abar_{t-1}) epshat.
    """
    T = alpha.size
    idx = np.arange(n)
    y = normals(seed, idx, 0, d)
    for t in range(T, 1, -1):
        a_t, ab_t, ab_prev = alpha[t - 1], alpha_bar[t - 1], alpha_bar[t - 2]
        s = score(y, t)
        if variance == "ddim":
            x0hat = (y + (1 - ab_t) * s) / np.sqrt(ab_t)
            epshat = -np.sqrt(1 - ab_t) * s
            y = np.sqrt(ab_prev) * x0hat + np.sqrt(1 - ab_prev) * epshat
            continue
        eta = 1 - a_t
        if variance == "beta":
            sigma2 = 1 - a_t
        else:  # posterior: sigma_t^2 / alpha_t = (1 - abar_{t-1}) beta_t / (1 - abar_t)
            sigma2 = a_t * (1 - ab_prev) * (1 - a_t) / (1 - ab_t)
        z = normals(seed, idx, t, d)
        y = (y + eta * s + np.sqrt(sigma2) * z) / np.sqrt(a_t)
    return y


def gaussian_output_law(S_list, b_list, alpha, alpha_bar, variance):
    """Exact law of Y_1 by full-matrix recursion (SCIENCE.md 3), written with eta_t, sigma_t.

    ``S_list[t]``, ``b_list[t]`` for t = 2..T are the (d, d) matrix and (d,) offset of the
    affine score at step t.
    """
    T = alpha.size
    d = b_list[T].size
    m, C = np.zeros(d), np.eye(d)
    for t in range(T, 1, -1):
        a_t, ab_t, ab_prev = alpha[t - 1], alpha_bar[t - 1], alpha_bar[t - 2]
        S, b = S_list[t], b_list[t]
        if variance == "ddim":
            c_y = np.sqrt(ab_prev / ab_t)
            c_s = np.sqrt(ab_prev / ab_t) * (1 - ab_t) - np.sqrt(1 - ab_prev) * np.sqrt(1 - ab_t)
            M, off, noise = c_y * np.eye(d) + c_s * S, c_s * b, 0.0
        else:
            eta = 1 - a_t
            sigma2 = (
                (1 - a_t) if variance == "beta" else a_t * (1 - ab_prev) * (1 - a_t) / (1 - ab_t)
            )
            M = (np.eye(d) + eta * S) / np.sqrt(a_t)
            off, noise = eta * b / np.sqrt(a_t), sigma2 / a_t
        m = M @ m + off
        C = M @ C @ M.T + noise * np.eye(d)
    return m, C


def kl_gaussian_dense(m0, C0, m1, C1) -> float:
    """KL(N(m0, C0) || N(m1, C1)) by the textbook formula with determinants."""
    d = m0.size
    C1inv = np.linalg.inv(C1)
    diff = m1 - m0
    _, logdet1 = np.linalg.slogdet(C1)
    _, logdet0 = np.linalg.slogdet(C0)
    return 0.5 * (np.trace(C1inv @ C0) + diff @ C1inv @ diff - d + logdet1 - logdet0)


# -- data models (SCIENCE.md section 4) --------------------------------------------------


def fd_gradient(log_density: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    """Fourth-order central differences of a scalar function at one point ``x`` (d,).

    (f(x - 2h e) - 8 f(x - h e) + 8 f(x + h e) - f(x + 2h e)) / (12 h): truncation error
    h^4 f^(5) / 30 per coordinate.
    """
    grad = np.empty_like(x)
    for i in range(x.size):
        vals = []
        for step in (-2.0, -1.0, 1.0, 2.0):
            y = x.copy()
            y[i] += step * h
            vals.append(log_density(y))
        grad[i] = (vals[0] - 8.0 * vals[1] + 8.0 * vals[2] - vals[3]) / (12.0 * h)
    return grad


def _gauss_log(x: np.ndarray, var: float) -> np.ndarray:
    return -0.5 * x * x / var - 0.5 * np.log(2.0 * np.pi * var)


# -- Gaussian mixtures (4.2) ------------------------------------------------------------------


def mixture_full_covs(means: np.ndarray, bases: np.ndarray, lams: np.ndarray) -> np.ndarray:
    """Sigma_j = U_j diag(lam_j) U_j^T as dense (J, d, d) matrices."""
    return np.einsum("jdr,jr,jer->jde", bases, lams, bases)


def mixture_log_density(
    means: np.ndarray, covs: np.ndarray, weights: np.ndarray, x: np.ndarray, alpha_bar: float
) -> float:
    """log sum_j pi_j N(x; a mu_j, a^2 Sigma_j + v I) by scipy's multivariate normal."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    d = means.shape[1]
    terms = [
        math.log(w) + stats.multivariate_normal.logpdf(x, a * mu, a * a * c + v * np.eye(d))
        for mu, c, w in zip(means, covs, weights, strict=True)
        if w > 0
    ]
    return float(special.logsumexp(terms))


def mixture_score_denoiser(
    means: np.ndarray, covs: np.ndarray, weights: np.ndarray, x: np.ndarray, alpha_bar: float
) -> tuple[np.ndarray, np.ndarray]:
    """Score and denoiser of a Gaussian mixture by dense solves with C_j = a^2 Sigma_j + v I.

    score = -sum_j w_j C_j^(-1) (x - a mu_j),
    D = sum_j w_j (mu_j + a Sigma_j C_j^(-1) (x - a mu_j)).
    """
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    n, d = x.shape
    score = np.zeros((n, d))
    den = np.zeros((n, d))
    log_w = np.empty((n, len(weights)))
    solved = []
    for j, (mu, c, w) in enumerate(zip(means, covs, weights, strict=True)):
        cov = a * a * c + v * np.eye(d)
        log_w[:, j] = (math.log(w) if w > 0 else -np.inf) + stats.multivariate_normal.logpdf(
            x, a * mu, cov
        ).reshape(n)
        solved.append(np.linalg.solve(cov, (x - a * mu).T).T)
    w = np.exp(log_w - special.logsumexp(log_w, axis=1, keepdims=True))
    for j, (mu, c) in enumerate(zip(means, covs, strict=True)):
        score -= w[:, j : j + 1] * solved[j]
        den += w[:, j : j + 1] * (mu + a * solved[j] @ c.T)
    return score, den


# -- spike-and-slab (4.3) -----------------------------------------------------------------------


def spike_slab_log_density(rho: float, tau: float, x: np.ndarray, alpha_bar: float) -> float:
    """sum_i log((1 - rho) N(x_i; 0, v) + rho N(x_i; 0, a^2 tau^2 + v))."""
    v = 1.0 - alpha_bar
    v1 = alpha_bar * tau**2 + v
    with np.errstate(divide="ignore"):
        spike = math.log1p(-rho) + _gauss_log(x, v) if rho < 1 else -np.inf * np.ones_like(x)
        slab = math.log(rho) + _gauss_log(x, v1) if rho > 0 else -np.inf * np.ones_like(x)
    return float(np.sum(np.logaddexp(spike, slab)))


def spike_slab_score_denoiser(
    rho: float, tau: float, x: np.ndarray, alpha_bar: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior slab probability by logaddexp, then score and D_t coordinatewise."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    v1 = alpha_bar * tau**2 + v
    with np.errstate(divide="ignore"):
        spike = np.log1p(-rho) + _gauss_log(x, v)
        slab = np.log(rho) + _gauss_log(x, v1)
    norm = np.logaddexp(spike, slab)
    p_slab = np.exp(slab - norm)
    p_spike = np.exp(spike - norm)
    score = -x * (p_spike / v + p_slab / v1)
    return score, p_slab * a * tau**2 / v1 * x


# -- exactly s non-zeros (4.4) ------------------------------------------------------------------


def random_support_enumerate(
    s: int, tau: float, x: np.ndarray, alpha_bar: float
) -> tuple[float, np.ndarray]:
    """(log q_t(x), P(i in S | x)) by enumerating all C(d, s) supports (small d only)."""
    d = x.size
    v = 1.0 - alpha_bar
    v1 = alpha_bar * tau**2 + v
    off = _gauss_log(x, v)
    on = _gauss_log(x, v1)
    supports = list(itertools.combinations(range(d), s))
    log_terms = np.array([off.sum() + (on[list(S)] - off[list(S)]).sum() for S in supports])
    log_q = float(special.logsumexp(log_terms)) - math.log(len(supports))
    post = np.exp(log_terms - special.logsumexp(log_terms))
    incl = np.zeros(d)
    for weight, S in zip(post, supports, strict=True):
        incl[list(S)] += weight
    return log_q, incl


def random_support_score_mpmath(
    s: int, tau: float, x: np.ndarray, alpha_bar: float, dps: int = 50
) -> np.ndarray:
    """score_i = -x_i/v + r_i e_{s-1}(r_{-i}) / e_s(r) (x_i/v - x_i/v1) in mpmath (SCIENCE.md 4.4).

    r_i = N(x_i; 0, v1) / N(x_i; 0, v) in arbitrary-exponent arithmetic (no scaling needed);
    e_{s-1}(r_{-i}) from prefix and suffix elementary symmetric polynomials (positive sums).
    ``dps`` digits absorb the cancellation of -x/v + P x/v when v is tiny.
    """
    d = x.size
    with mpmath.workdps(dps):
        ab = mpmath.mpf(float(alpha_bar))
        v = 1 - ab
        v1 = ab * mpmath.mpf(float(tau)) ** 2 + v
        xs = [mpmath.mpf(float(xi)) for xi in x]
        r = [mpmath.sqrt(v / v1) * mpmath.exp(xi * xi * (1 / v - 1 / v1) / 2) for xi in xs]
        zero, one = mpmath.mpf(0), mpmath.mpf(1)
        prefix = [[one] + [zero] * s]
        for i in range(d):
            prev = prefix[-1]
            prefix.append([prev[0]] + [prev[k] + r[i] * prev[k - 1] for k in range(1, s + 1)])
        suffix = [None] * (d + 1)
        suffix[d] = [one] + [zero] * s
        for i in range(d - 1, -1, -1):
            nxt = suffix[i + 1]
            suffix[i] = [nxt[0]] + [nxt[k] + r[i] * nxt[k - 1] for k in range(1, s + 1)]
        e_s = prefix[d][s]
        out = np.empty(d)
        for i in range(d):
            e_rest = mpmath.fsum(prefix[i][k] * suffix[i + 1][s - 1 - k] for k in range(s))
            incl = r[i] * e_rest / e_s
            out[i] = float(-xs[i] / v + incl * (xs[i] / v - xs[i] / v1))
    return out


def random_support_score_longdouble(
    s: int, tau: float, x: np.ndarray, alpha_bar: float
) -> np.ndarray:
    """The same formula in np.longdouble (x86 80-bit: 64-bit mantissa, exponent to 1e4932).

    Unscaled r_i and e_j: valid while prod of the s largest r_i stays below 1e4932 (moderate
    alpha_bar); vectorized over the polynomial degree, fast enough for d = 1e4.
    """
    ld = np.longdouble
    d = x.size
    ab = ld(alpha_bar)
    v = ld(1) - ab
    v1 = ab * ld(tau) ** 2 + v
    xl = x.astype(ld)
    r = np.sqrt(v / v1) * np.exp(xl * xl * (ld(1) / v - ld(1) / v1) / ld(2))
    prefix = np.zeros((d + 1, s + 1), dtype=ld)
    prefix[0, 0] = 1
    for i in range(d):
        prefix[i + 1] = prefix[i]
        prefix[i + 1, 1:] += r[i] * prefix[i, :-1]
    suffix = np.zeros((d + 1, s + 1), dtype=ld)
    suffix[d, 0] = 1
    for i in range(d - 1, -1, -1):
        suffix[i] = suffix[i + 1]
        suffix[i, 1:] += r[i] * suffix[i + 1, :-1]
    e_rest = np.sum(prefix[:d, :s] * suffix[1:, s - 1 :: -1], axis=1)
    incl = r * e_rest / prefix[d, s]
    return np.asarray(-xl / v + incl * (xl / v - xl / v1), dtype=np.float64)


# -- spheres and tori (4.5) ------------------------------------------------------------------


def sphere_log_mean_exp(k: int, kappa: float) -> float:
    """log E[exp(kappa theta_1)], theta uniform on S^(k-1), by quadrature over the polar angle.

    E = int_0^pi e^(kappa cos phi) sin^(k-2) phi dphi / int_0^pi sin^(k-2) phi dphi (k >= 2);
    k = 1 gives cosh(kappa). The factor e^kappa is taken out for stability.
    """
    if k == 1:
        return kappa + math.log1p(math.exp(-2.0 * kappa)) - math.log(2.0)

    def integrand(phi: float) -> float:
        return math.exp(kappa * (math.cos(phi) - 1.0)) * math.sin(phi) ** (k - 2)

    width = min(math.pi, 10.0 / math.sqrt(max(kappa, 1e-300)))
    pts = [width] if width < math.pi else None
    val, _ = integrate.quad(
        integrand, 0.0, math.pi, points=pts, epsabs=0.0, epsrel=1e-13, limit=500
    )
    norm = math.sqrt(math.pi) * math.exp(special.gammaln((k - 1) / 2.0) - special.gammaln(k / 2.0))
    return kappa + math.log(val) - math.log(norm)


def sphere_product_log_density(
    blocks: list[tuple[int, int, float]], x: np.ndarray, alpha_bar: float
) -> float:
    """log q_t for uniform spheres on blocks (start, size, radius); other coordinates N(0, v)."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    d = x.size
    total = -0.5 * d * math.log(2.0 * math.pi * v)
    used = np.zeros(d, dtype=bool)
    for start, size, radius in blocks:
        u = x[start : start + size]
        used[start : start + size] = True
        norm = float(np.linalg.norm(u))
        kappa = a * radius * norm / v
        total += -(norm**2 + (a * radius) ** 2) / (2.0 * v) + sphere_log_mean_exp(size, kappa)
    total += -float(np.sum(x[~used] ** 2)) / (2.0 * v)
    return total


def sphere_product_score_denoiser(
    blocks: list[tuple[int, int, float]], x: np.ndarray, alpha_bar: float
) -> tuple[np.ndarray, np.ndarray]:
    """score_u = -u/v + (a R / v) A(kappa) u/|u| and D_u = R A(kappa) u/|u| with scipy's ive."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    score = -x / v
    den = np.zeros_like(x)
    for start, size, radius in blocks:
        u = x[:, start : start + size]
        norm = np.linalg.norm(u, axis=1, keepdims=True)
        kappa = a * radius * norm / v
        ratio = special.ive(size / 2.0, kappa) / special.ive(size / 2.0 - 1.0, kappa)
        direction = u / norm
        score[:, start : start + size] += (a * radius / v) * ratio * direction
        den[:, start : start + size] = radius * ratio * direction
    return score, den


# -- box (4.6) ----------------------------------------------------------------------------------


def _log_ndtr_diff(z_lo: float, z_hi: float) -> float:
    """log(Phi(z_lo) - Phi(z_hi)) for z_lo > z_hi, by log_ndtr on the side of the smaller tail."""
    if z_hi > 0:  # both upper tail: Phi(z_lo) - Phi(z_hi) = Q(z_hi) - Q(z_lo)
        big, small = special.log_ndtr(-z_hi), special.log_ndtr(-z_lo)
    else:
        big, small = special.log_ndtr(z_lo), special.log_ndtr(z_hi)
    return float(big + np.log1p(-np.exp(small - big)))


def box_log_density(low: np.ndarray, high: np.ndarray, x: np.ndarray, alpha_bar: float) -> float:
    """sum over box coordinates of log((Phi(z_lo) - Phi(z_hi)) / (a (high - low))), rest N(0, v)."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    k = low.size
    sv = math.sqrt(v)
    total = 0.0
    for i in range(k):
        total += _log_ndtr_diff((x[i] - a * low[i]) / sv, (x[i] - a * high[i]) / sv)
        total -= math.log(a * (high[i] - low[i]))
    total += float(np.sum(_gauss_log(x[k:], v)))
    return total


def box_denoiser(low: np.ndarray, high: np.ndarray, x: np.ndarray, alpha_bar: float) -> np.ndarray:
    """E[X_0 | x]: per box coordinate the mean of N(u/a, v/a^2) truncated to [low, high]."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    k = low.size
    out = np.zeros_like(x)
    loc = x[:, :k] / a
    scale = math.sqrt(v) / a
    out[:, :k] = stats.truncnorm.mean(
        (low - loc) / scale, (high - loc) / scale, loc=loc, scale=scale
    )
    return out


# -- empirical (4.2 with Sigma_j = 0) -----------------------------------------------------------


def empirical_score_denoiser(
    points: np.ndarray, x: np.ndarray, alpha_bar: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior softmax over the points, then score and denoiser (SCIENCE.md 4.2, Sigma_j = 0)."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    diff = x[:, None, :] - a * points[None, :, :]
    log_w = -0.5 * np.sum(diff**2, axis=2) / v
    w = np.exp(log_w - special.logsumexp(log_w, axis=1, keepdims=True))
    return -np.einsum("nj,njd->nd", w, diff) / v, w @ points


def empirical_log_density(points: np.ndarray, x: np.ndarray, alpha_bar: float) -> float:
    """log (1/n) sum_j N(x; a x^(j), v I)."""
    a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
    n, d = points.shape
    sq = np.sum((x - a * points) ** 2, axis=1)
    return (
        float(special.logsumexp(-0.5 * sq / v)) - math.log(n) - 0.5 * d * math.log(2 * math.pi * v)
    )


# -- estimators (SCIENCE.md section 5) ---------------------------------------------------


def soft_threshold(z: np.ndarray, tau: float) -> np.ndarray:
    """S(z, tau) = sign(z) max(|z| - tau, 0)."""
    return np.sign(z) * np.maximum(np.abs(z) - tau, 0.0)


def lasso_objective(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lam: float) -> float:
    """P(w, b) = 1/(2n) ||y - X w - b||^2 + lam ||w||_1 (scikit-learn's scaling)."""
    r = y - X @ w - b
    return float(r @ r / (2 * y.shape[0]) + lam * np.sum(np.abs(w)))


def lasso_gap(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> float:
    """Duality gap with the explicit residual (centred X, y): P(w) - D(s r).

    D(theta) = ||y||^2/(2n) - ||y - theta||^2/(2n), feasible when ||X^T theta / n||_inf <= lam;
    theta = s r with s = min(1, lam / ||X^T r / n||_inf).
    """
    n = y.shape[0]
    r = y - X @ w
    qmax = np.max(np.abs(X.T @ r / n)) if X.shape[1] else 0.0
    s = min(1.0, lam / qmax) if qmax > 0 else 1.0
    primal = r @ r / (2 * n) + lam * np.sum(np.abs(w))
    dual = y @ y / (2 * n) - (y - s * r) @ (y - s * r) / (2 * n)
    return float(primal - dual)


def lasso_cd(
    X: np.ndarray,
    y: np.ndarray,
    lam: float,
    fit_intercept: bool = True,
    tol: float = 1e-13,
    max_sweeps: int = 100_000,
) -> tuple[np.ndarray, float]:
    """Cyclic coordinate descent on the residual (Friedman et al. 2010, eq. 5).

    w_k <- S(x_k^T (r + x_k w_k) / n, lam) / (x_k^T x_k / n), sweeping until the largest
    change is below ``tol``. Returns (w, intercept).
    """
    n, p = X.shape
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
    y_mean = float(y.mean()) if fit_intercept else 0.0
    Xc, yc = X - x_mean, y - y_mean
    w = np.zeros(p)
    r = yc.copy()
    norms = np.einsum("ij,ij->j", Xc, Xc) / n
    for _ in range(max_sweeps):
        largest = 0.0
        for k in range(p):
            if norms[k] == 0.0:
                continue
            z = Xc[:, k] @ (r + Xc[:, k] * w[k]) / n
            new = float(soft_threshold(np.array(z), lam)) / norms[k]
            if new != w[k]:
                r -= Xc[:, k] * (new - w[k])
                largest = max(largest, abs(new - w[k]))
                w[k] = new
        if largest <= tol:
            break
    return w, y_mean - float(x_mean @ w)


def affine_score(x: np.ndarray, S: np.ndarray, b: np.ndarray) -> np.ndarray:
    """s(x) = S x + b at the rows of x."""
    return x @ S.T + b


def empirical_denoiser(
    x: np.ndarray, points: np.ndarray, alpha_bar: float, exclude: int = -1
) -> np.ndarray:
    """E[X_0 | X_t = x] under the empirical law of ``points`` (SCIENCE.md 4.2, Sigma_j = 0).

    Posterior weights w_i proportional to N(x; a P_i, v I), normalized with logsumexp;
    ``exclude`` drops one point (leave-one-out).
    """
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    keep = np.ones(points.shape[0], dtype=bool)
    if exclude >= 0:
        keep[exclude] = False
    P = points[keep]
    sq = np.sum((x[:, None, :] - a * P[None, :, :]) ** 2, axis=2)
    logw = -sq / (2 * v)
    w = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
    return w @ P


def empirical_score(x: np.ndarray, points: np.ndarray, alpha_bar: float) -> np.ndarray:
    """grad log of (1/n) sum_i N(x; a P_i, v I): -sum_i w_i (x - a P_i) / v."""
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    return -(x - a * empirical_denoiser(x, points, alpha_bar)) / v


def empirical_soft_score(
    x: np.ndarray, points: np.ndarray, alpha_bar: float, tau: float, on: str
) -> np.ndarray:
    """Soft-thresholded empirical minimizer: on the score, or on the denoiser + Tweedie."""
    a, v = np.sqrt(alpha_bar), 1.0 - alpha_bar
    if on == "score":
        return soft_threshold(empirical_score(x, points, alpha_bar), tau)
    return (a * soft_threshold(empirical_denoiser(x, points, alpha_bar), tau) - x) / v


def smooth_gaussian_1d(weight: np.ndarray, m: np.ndarray, c: float, lo: float, h: float, n: int):
    """Twin of ``simulate._kernels.oracle._smooth_gaussian_1d``: sum_k w_k N(x; m_k, c^2) at
    the nodes x = lo + i h, as one dense (nodes x sources) matrix of densities."""
    nodes = lo + h * np.arange(n)
    dens = np.exp(-0.5 * ((nodes[:, None] - m[None, :]) / c) ** 2) / (np.sqrt(2 * np.pi) * c)
    return dens @ weight


def scatter_gaussian_2d(
    weight: np.ndarray, m1: np.ndarray, m2: np.ndarray, lo: float, h: float, c: float,
    reach: float, n: int,
) -> np.ndarray:  # fmt: skip
    """Twin of ``simulate._kernels.oracle._scatter_gaussian_2d``: sum_k w_k N(x; m_k, c^2 I)
    at the (n, n) nodes lo + (i, j) h, each term kept within ``reach`` c of m_k per axis."""
    x = lo + h * np.arange(n)
    out = np.zeros((n, n))
    for w, a, b in zip(weight, m1, m2, strict=True):
        g1 = np.where(np.abs(x - a) <= reach * c, np.exp(-0.5 * ((x - a) / c) ** 2), 0.0)
        g2 = np.where(np.abs(x - b) <= reach * c, np.exp(-0.5 * ((x - b) / c) ** 2), 0.0)
        out += w / (2 * np.pi * c * c) * np.outer(g1, g2)
    return out


def sample_vp_sde(
    score, beta_min: float, beta_max: float, N: int, eps: float, n: int, d: int, seed: int,
    sampler: str, horizon: float = 1.0,
) -> np.ndarray:  # fmt: skip
    """The VP-SDE samplers written from their papers' formulas, line by line (NumPy twin of
    ``simulate.samplers`` on ``schedules.vp_sde``).

    ``score(y, t)`` is the exact score at time t (the marginal of X_t). Grid
    t_k = horizon - (horizon - eps) k / (N - 1); reverse-time step r_k -> r_k + h with
    beta(t) = beta_min + t (beta_max - beta_min), B(t) its integral:

    - em:        y + h [beta/2 y + beta s] + sqrt(beta h) z         (Euler-Maruyama)
    - ei:        e^{D/2} y + 2 (e^{D/2} - 1) s + sqrt(e^D - 1) z, D = B(t) - B(t - h)
    - ancestral: (y + b s) / sqrt(1 - b) + sqrt(b) z, b = beta h
    - pf_euler / pf_heun / pf_rk4: explicit RK on dy/dr = beta(t)/2 (y + s(y, t)), t = T - r;
      a step that ends where 1 - exp(-B) = 0 is an Euler step.
    """
    times = eps + (horizon - eps) * np.arange(N) / (N - 1)
    times[-1] = horizon
    beta = lambda t: beta_min + t * (beta_max - beta_min)  # noqa: E731
    B = lambda t: beta_min * t + 0.5 * (beta_max - beta_min) * t * t  # noqa: E731
    f = lambda y, t: 0.5 * beta(t) * (y + score(y, t))  # noqa: E731
    idx = np.arange(n)
    y = normals(seed, idx, 0, d)
    for step in range(N, 1, -1):
        t, t_next = times[step - 1], times[step - 2]
        h = t - t_next
        if sampler in ("em", "ei", "ancestral"):
            s = score(y, t)
            z = normals(seed, idx, step, d)
            if sampler == "em":
                y = y + h * (0.5 * beta(t) * y + beta(t) * s) + np.sqrt(beta(t) * h) * z
            elif sampler == "ei":
                D = B(t) - B(t_next)
                y = np.exp(D / 2) * y + 2 * (np.exp(D / 2) - 1) * s + np.sqrt(np.exp(D) - 1) * z
            else:
                b = beta(t) * h
                y = (y + b * s) / np.sqrt(1 - b) + np.sqrt(b) * z
            continue
        ends_singular = -np.expm1(-B(t_next)) <= 0.0
        if sampler == "pf_euler" or ends_singular:
            y = y + h * f(y, t)
        elif sampler == "pf_heun":
            k1 = f(y, t)
            k2 = f(y + h * k1, t - h)
            y = y + h * (k1 + k2) / 2
        elif sampler == "pf_rk4":
            k1 = f(y, t)
            k2 = f(y + h / 2 * k1, t - h / 2)
            k3 = f(y + h / 2 * k2, t - h / 2)
            k4 = f(y + h * k3, t - h)
            y = y + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        else:
            raise ValueError(sampler)
    return y


def diagonal_gaussian_vp_law(
    lam: np.ndarray, mu: np.ndarray, beta_min: float, beta_max: float, N: int, eps: float,
    sampler: str, init_var: np.ndarray, init_mean: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Exact law of a VP-SDE sampler on independent Gaussian coordinates (variance lam, mean
    mu), by applying each scheme to the scalar affine maps y -> p y + q directly: the twin of
    ``exact.output_law`` for the continuous samplers. Returns (mean, variance)."""
    B = lambda t: beta_min * t + 0.5 * (beta_max - beta_min) * t * t  # noqa: E731

    def score_coef(t):  # s(y) = S y + c with S = -1/(a^2 lam + v), c = a mu / (a^2 lam + v)
        a2, v = np.exp(-B(t)), -np.expm1(-B(t))
        return -1.0 / (a2 * lam + v), np.sqrt(a2) * mu / (a2 * lam + v)

    # one step as (P, Q, noise variance): y_new = P y + Q + sqrt(noise) z. An affine "score"
    # is applied to an affine input (p, q) symbolically: s(p y + q) = S p y + S q + c.
    def affine_score(p, q, t):
        S, c = score_coef(t)
        return S * p, S * q + c

    mean, var = init_mean.astype(float).copy(), init_var.astype(float).copy()
    times = eps + (1.0 - eps) * np.arange(N) / (N - 1)
    times[-1] = 1.0
    beta = lambda t: beta_min + t * (beta_max - beta_min)  # noqa: E731
    one, zero = np.ones_like(lam), np.zeros_like(lam)
    for step in range(N, 1, -1):
        t, t_next = times[step - 1], times[step - 2]
        h = t - t_next
        if sampler in ("em", "ei", "ancestral"):
            sp, sq = affine_score(one, zero, t)
            if sampler == "em":
                P, Q, noise = one + h * (beta(t) / 2 + beta(t) * sp), h * beta(t) * sq, beta(t) * h
            elif sampler == "ei":
                D = B(t) - B(t_next)
                P = np.exp(D / 2) + 2 * np.expm1(D / 2) * sp
                Q, noise = 2 * np.expm1(D / 2) * sq, np.expm1(D)
            else:
                b = beta(t) * h
                P, Q, noise = (1 + b * sp) / np.sqrt(1 - b), b * sq / np.sqrt(1 - b), b
        else:
            def f(p, q, tt):
                sp, sq = affine_score(p, q, tt)
                return 0.5 * beta(tt) * (p + sp), 0.5 * beta(tt) * (q + sq)

            noise = 0.0
            if sampler == "pf_euler" or -np.expm1(-B(t_next)) <= 0.0:
                k = f(one, zero, t)
                P, Q = one + h * k[0], h * k[1]
            elif sampler == "pf_heun":
                k1 = f(one, zero, t)
                k2 = f(one + h * k1[0], h * k1[1], t - h)
                P, Q = one + h * (k1[0] + k2[0]) / 2, h * (k1[1] + k2[1]) / 2
            else:
                k1 = f(one, zero, t)
                k2 = f(one + h / 2 * k1[0], h / 2 * k1[1], t - h / 2)
                k3 = f(one + h / 2 * k2[0], h / 2 * k2[1], t - h / 2)
                k4 = f(one + h * k3[0], h * k3[1], t - h)
                P = one + h * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]) / 6
                Q = h * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]) / 6
        mean = P * mean + Q
        var = P * P * var + noise
    return mean, var


def mlp_score(
    x: np.ndarray,
    theta: np.ndarray,
    layout: np.ndarray,
    c_in: float,
    embedding: np.ndarray,
    alpha_bar: float,
    v: float,
    denoiser: bool = True,
) -> np.ndarray:
    """Twin of ``simulate._kernels.network._score_network``, one row at a time in NumPy:
    u = (c_in x, e), hidden layers silu(W h + b), output W_L h + b_L; the score is
    (sqrt(abar) F - x) / v (x0-prediction) or -F / sqrt(v) (noise prediction)."""
    out = np.empty_like(x)
    for i, row in enumerate(np.atleast_2d(x)):
        h = np.concatenate([c_in * row, embedding])
        offset = 0
        for layer, (n_in, n_out) in enumerate(layout):
            W = theta[offset : offset + n_in * n_out].reshape(n_out, n_in)
            b = theta[offset + n_in * n_out : offset + n_in * n_out + n_out]
            offset += n_in * n_out + n_out
            z = W @ h + b
            h = z if layer == len(layout) - 1 else z * (1.0 / (1.0 + np.exp(-z)))
        out[i] = (np.sqrt(alpha_bar) * h - row) / v if denoiser else -h / np.sqrt(v)
    return out
