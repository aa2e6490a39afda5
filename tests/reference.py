"""Slow, obviously correct NumPy twins of the numba kernels, written from the equations.

Each twin here re-derives its result from SCIENCE.md / the cited paper without sharing code
with ``simulate``; the tests compare kernel and twin.

Notation: as in SCIENCE.md (a = sqrt(abar_t), v = 1 - abar_t).
"""

from __future__ import annotations

import numpy as np

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
    """Z[i, j] = the normal of (seed, samples[i], step, j): Box-Muller on Philox words."""
    samples = np.asarray(samples, dtype=np.uint64)
    n_pairs = (d + 1) // 2
    pair = np.arange(n_pairs, dtype=np.uint64)
    i = samples[:, None] * np.ones_like(pair)[None, :]
    counter = np.stack(
        [
            np.broadcast_to(pair, i.shape),
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
    u1 = (((w[..., 0] << np.uint64(32)) | w[..., 1]) >> np.uint64(11)).astype(np.float64)
    u2 = (((w[..., 2] << np.uint64(32)) | w[..., 3]) >> np.uint64(11)).astype(np.float64)
    u1 = (u1 + 0.5) * 2.0**-53
    u2 = (u2 + 0.5) * 2.0**-53
    r = np.sqrt(-2.0 * np.log(u1))
    z = np.empty((len(samples), 2 * n_pairs))
    z[:, 0::2] = r * np.cos(2 * np.pi * u2)
    z[:, 1::2] = r * np.sin(2 * np.pi * u2)
    return z[:, :d]


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
