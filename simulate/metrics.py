"""Distances between laws (SCIENCE.md section 7).

Notation: ``p`` is the reference law (q_1, the target), ``q`` the compared one (p_1, the
sampler's output), so ``kl_gaussian(target, law)`` is KL(q_1 || p_1) as in the theory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg

from simulate.exact import GaussianLaw

__all__ = ["kl_gaussian", "sliced_w2", "w2_gaussian"]


def _kl_ratio_term(ratio: np.ndarray) -> np.ndarray:
    """ratio - 1 - log(ratio), accurate near ratio = 1 (log1p form)."""
    delta = ratio - 1.0
    return delta - np.log1p(delta)


def kl_gaussian(p: GaussianLaw, q: GaussianLaw, per_coordinate: bool = False) -> Any:
    """KL(p || q) for Gaussian laws in closed form.

    KL = 1/2 [tr(Cq^-1 Cp) - d - log det(Cq^-1 Cp) + (mq - mp)^T Cq^-1 (mq - mp)], computed
    through the eigenvalues r_i of Cq^(-1/2) Cp Cq^(-1/2) as 1/2 sum (r_i - 1 - log r_i) with a
    log1p form, so that nearly equal laws give an accurate small KL instead of round-off.

    ``per_coordinate=True`` (both laws diagonal) returns the (d,) vector of KL terms whose sum
    is the KL.
    """
    _check_same_d(p, q)
    diff = q.mean - p.mean
    if p.is_diagonal and q.is_diagonal:
        terms = 0.5 * (_kl_ratio_term(p.cov / q.cov) + diff * diff / q.cov)
        return terms if per_coordinate else float(np.sum(terms))
    if per_coordinate:
        raise ValueError("per_coordinate=True needs two diagonal laws")
    L = linalg.cholesky(q.full_cov(), lower=True)
    Linv_Cp = linalg.solve_triangular(L, p.full_cov(), lower=True)
    W = linalg.solve_triangular(L, Linv_Cp.T, lower=True)
    r = linalg.eigvalsh(0.5 * (W + W.T))
    z = linalg.solve_triangular(L, diff, lower=True)
    return float(0.5 * (np.sum(_kl_ratio_term(r)) + z @ z))


def w2_gaussian(p: GaussianLaw, q: GaussianLaw) -> float:
    """W2(p, q) for Gaussian laws: ||mp - mq||^2 + tr(Cp + Cq - 2 (Cp^1/2 Cq Cp^1/2)^1/2)."""
    _check_same_d(p, q)
    mean_term = float(np.sum((p.mean - q.mean) ** 2))
    if p.is_diagonal and q.is_diagonal:
        cov_term = float(np.sum((np.sqrt(p.cov) - np.sqrt(q.cov)) ** 2))
    else:
        root_p = _psd_sqrt(p.full_cov())
        cross = _psd_sqrt(root_p @ q.full_cov() @ root_p)
        cov_term = float(np.trace(p.full_cov()) + np.trace(q.full_cov()) - 2 * np.trace(cross))
    return float(np.sqrt(max(mean_term + cov_term, 0.0)))


def sliced_w2(a: np.ndarray, b: np.ndarray, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced W2 between two samples (POT's ``sliced_wasserstein_distance``, p = 2)."""
    import ot

    return float(
        ot.sliced_wasserstein_distance(
            np.asarray(a, dtype=np.float64),
            np.asarray(b, dtype=np.float64),
            n_projections=n_projections,
            p=2,
            seed=seed,
        )
    )


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = linalg.eigh(0.5 * (c + c.T))
    return (v * np.sqrt(np.maximum(w, 0.0))) @ v.T


def _check_same_d(p: GaussianLaw, q: GaussianLaw) -> None:
    if p.d != q.d:
        raise ValueError(f"laws have different dimensions: {p.d} and {q.d}")
