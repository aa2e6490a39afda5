"""Distances between laws (SCIENCE.md section 7).

Notation: ``p`` is the reference law (q_1, the target), ``q`` the compared one (p_1, the
sampler's output), so ``kl_gaussian(target, law)`` is KL(q_1 || p_1) as in the theory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg

from simulate._validation import checked, check_finite_array, check_int, check_seed
from simulate.laws import GaussianLaw
from simulate.linalg import psd_sqrt, union_index

__all__ = ["kl_gaussian", "sliced_w2", "w2_gaussian"]


#: Variance ratios in [1/2, 2] use the log1p form: there ratio - 1 is exact (Sterbenz), so
#: log1p(ratio - 1) = log(ratio) to 1 ulp and the small KL of nearly equal laws keeps its
#: digits. Outside, ratio - 1 rounds (at ratio 1e-17 it is -1 and log1p(-1) = -inf), so the
#: log of the ratio itself is used (issue 32: 19.07 at 1e-17, not inf).
_LOG1P_RATIO_RANGE = (0.5, 2.0)


#: Below this |ratio - 1| the term is summed from its series sum_{k>=2} (-delta)^k / k
#: (``_SERIES_TERMS`` terms reach float64 precision): delta - log1p(delta) cancels there,
#: losing ~log10(1 / |delta|) digits (6e-13 relative at delta = -2**-40).
_SERIES_DELTA = 1e-2
_SERIES_TERMS = 10


def _kl_ratio_term(ratio: np.ndarray) -> np.ndarray:
    """ratio - 1 - log(ratio) for ratio > 0, to a few ulps for every ratio: its series near
    1, the log1p form on [1/2, 2], the log of the ratio elsewhere."""
    ratio = np.asarray(ratio, dtype=np.float64)
    delta = ratio - 1.0
    near = (ratio >= _LOG1P_RATIO_RANGE[0]) & (ratio <= _LOG1P_RATIO_RANGE[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        near_terms = delta - np.log1p(np.where(near, delta, 0.0))
        far_terms = delta - np.log(np.where(near, 1.0, ratio))
    out = np.where(near, near_terms, far_terms)
    tiny = np.abs(delta) < _SERIES_DELTA
    if np.any(tiny):
        x = delta[tiny] if delta.ndim else delta
        series = np.zeros_like(x)
        for k in range(_SERIES_TERMS, 1, -1):  # Horner from the smallest term
            series = x * (series + (-1.0) ** k / k)
        series = x * series
        if delta.ndim:
            out[tiny] = series
        else:
            out = series
    return out


def _check_positive_definite(name: str, law: GaussianLaw) -> None:
    """KL needs both covariances positive definite (a zero variance makes it infinite)."""
    if not isinstance(law, GaussianLaw):
        raise TypeError(f"{name} must be a GaussianLaw, got {type(law).__name__}")
    variances = law.variances
    if np.any(variances <= 0.0):
        i = int(np.argmin(variances))
        raise ValueError(
            f"{name} has variance {variances[i]:.3g} at coordinate {i}; the KL divergence of "
            "Gaussian laws needs positive definite covariances (it is infinite otherwise)"
        )
    if law.cov.index.shape[0]:
        eig_min = float(linalg.eigvalsh(law.cov.block)[0])
        if eig_min <= 0.0:
            raise ValueError(
                f"{name} has a singular covariance (smallest eigenvalue {eig_min:.3g}); the KL "
                "divergence of Gaussian laws needs positive definite covariances"
            )


@checked
def kl_gaussian(p: GaussianLaw, q: GaussianLaw, per_coordinate: bool = False) -> Any:
    """KL(p || q) for Gaussian laws in closed form.

    KL = 1/2 [tr(Cq^-1 Cp) - d - log det(Cq^-1 Cp) + (mq - mp)^T Cq^-1 (mq - mp)], computed
    through the eigenvalues r_i of Cq^(-1/2) Cp Cq^(-1/2) as 1/2 sum (r_i - 1 - log r_i) with a
    log1p form, so that nearly equal laws give an accurate small KL instead of round-off.
    The KL splits over the union of the two covariances' blocks (dense) and the coordinates
    outside it (one scalar term each), so aligned laws cost O(k^3 + d).

    ``per_coordinate=True`` (both covariances diagonal) returns the (d,) vector of KL terms
    whose sum is the KL.

    Both covariances must be positive definite (ValueError naming ``p`` or ``q``); every
    ratio term is exact to a few ulps for any positive ratio (``_kl_ratio_term``).
    """
    _check_positive_definite("p", p)
    _check_positive_definite("q", q)
    if not isinstance(per_coordinate, bool | np.bool_):
        raise TypeError(f"per_coordinate must be True or False, got {per_coordinate!r}")
    _check_same_d(p, q)
    index = union_index(p.cov, q.cov)
    cp, cq = p.cov.expand(index), q.cov.expand(index)
    diff = q.mean - p.mean
    if index.shape[0] == 0:
        terms = 0.5 * (_kl_ratio_term(cp.diag / cq.diag) + diff * diff / cq.diag)
        return terms if per_coordinate else float(np.sum(terms))
    if per_coordinate:
        raise ValueError(
            "per_coordinate=True needs two diagonal covariances; got structures "
            f"{p.cov.structure!r} and {q.cov.structure!r}"
        )
    off = cp.off_block()
    off_terms = 0.5 * (
        _kl_ratio_term(cp.diag[off] / cq.diag[off]) + diff[off] * diff[off] / cq.diag[off]
    )
    L = linalg.cholesky(cq.block, lower=True)
    Linv_Cp = linalg.solve_triangular(L, cp.block, lower=True)
    W = linalg.solve_triangular(L, Linv_Cp.T, lower=True)
    r = linalg.eigvalsh(0.5 * (W + W.T))
    z = linalg.solve_triangular(L, diff[index], lower=True)
    block_kl = float(0.5 * (np.sum(_kl_ratio_term(r)) + z @ z))
    return block_kl + float(np.sum(off_terms)) if off_terms.size else block_kl


@checked
def w2_gaussian(p: GaussianLaw, q: GaussianLaw) -> float:
    """W2(p, q) for Gaussian laws: ||mp - mq||^2 + tr(Cp + Cq - 2 (Cp^1/2 Cq Cp^1/2)^1/2).

    Like :func:`kl_gaussian`, it splits over the union block and the diagonal rest. The laws'
    covariances are PSD by construction (:class:`~simulate.laws.GaussianLaw`).
    """
    for name, law in (("p", p), ("q", q)):
        if not isinstance(law, GaussianLaw):
            raise TypeError(f"{name} must be a GaussianLaw, got {type(law).__name__}")
    _check_same_d(p, q)
    mean_term = float(np.sum((p.mean - q.mean) ** 2))
    index = union_index(p.cov, q.cov)
    cp, cq = p.cov.expand(index), q.cov.expand(index)
    off = cp.off_block()
    cov_term = float(np.sum((np.sqrt(cp.diag[off]) - np.sqrt(cq.diag[off])) ** 2))
    if index.shape[0]:
        root_p = psd_sqrt(cp.block)
        cross = psd_sqrt(root_p @ cq.block @ root_p)
        block_term = float(np.trace(cp.block) + np.trace(cq.block) - 2 * np.trace(cross))
        cov_term = block_term + cov_term if off.any() else block_term
    return float(np.sqrt(max(mean_term + cov_term, 0.0)))


@checked
def sliced_w2(a: np.ndarray, b: np.ndarray, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced W2 between two samples (POT's ``sliced_wasserstein_distance``, p = 2).

    ``a`` (n, d) and ``b`` (m, d): finite, non-empty, the same d; ``n_projections`` in
    [1, 10**6]; ``seed`` an integer (``None`` is refused).
    """
    import ot

    a = check_finite_array("a", a, ndim=2)
    b = check_finite_array("b", b, ndim=2)
    for name, x in (("a", a), ("b", b)):
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name} must have at least one row and column, got shape {x.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same d, got shapes {a.shape} and {b.shape}")
    n_projections = check_int("n_projections", n_projections, low=1, high=10**6)
    seed = check_seed(seed, "seed")
    return float(
        ot.sliced_wasserstein_distance(
            a,
            b,
            n_projections=n_projections,
            p=2,
            seed=seed,
        )
    )


def _check_same_d(p: GaussianLaw, q: GaussianLaw) -> None:
    if p.d != q.d:
        raise ValueError(f"p and q have different dimensions: d={p.d} and d={q.d}")


# -- score error (SCIENCE.md 1.1) --------------------------------------------------------------

__all__ += ["ScoreError", "score_error"]


class ScoreError:
    """Per-step score error eps_score(t)^2 = E_{q_t} ||s_t(X_t) - grad log q_t(X_t)||^2.

    Attributes (arrays of length T, index t - 1 is step t)
    ----------------------------------------------------
    t : step indices 1..T
    eps2, eps2_se : the error and its Monte Carlo standard error (0 for method "exact")
    support, support_se : the part on the data's support: the coordinates in
        ``model.support`` (aligned data), or the projection onto the data subspace
        ``model.U`` (rotated data); NaN when the model has neither
    off_support, off_support_se : the rest (eps2 = support + off_support)
    method : "mc" or "exact"
    """

    t: np.ndarray
    eps2: np.ndarray
    eps2_se: np.ndarray
    support: np.ndarray
    support_se: np.ndarray
    off_support: np.ndarray
    off_support_se: np.ndarray

    def __init__(self, **arrays: Any) -> None:
        self.method: str = arrays.pop("method")
        for name, value in arrays.items():
            setattr(self, name, value)
        self.T = int(self.t.shape[0])

    def average(self, part: str = "eps2", steps: str = "all") -> tuple[float, float]:
        """(mean over steps, its standard error), steps independent.

        ``steps="all"``: (1/T) sum_{t=1}^T, the eps_score^2 of SCIENCE.md 1.1.
        ``steps="sampler"``: mean over t = 2..T, the steps whose score the sampler uses.
        """
        if part not in ("eps2", "support", "off_support"):
            raise ValueError(f"part={part!r} is not supported; allowed: eps2, support, off_support")
        if steps not in ("all", "sampler"):
            raise ValueError(f"steps={steps!r} is not supported; allowed: all, sampler")
        sel = slice(0, self.T) if steps == "all" else slice(1, self.T)
        values = getattr(self, part)[sel]
        ses = getattr(self, f"{part}_se")[sel]
        return float(np.mean(values)), float(np.sqrt(np.sum(ses**2)) / values.size)

    @property
    def mean(self) -> float:
        """eps_score^2 of SCIENCE.md 1.1: (1/T) sum_t eps_score(t)^2."""
        return self.average()[0]

    def frame(self) -> Any:
        """Per-step table (pandas.DataFrame)."""
        import pandas as pd

        names = ["eps2", "eps2_se", "support", "support_se", "off_support", "off_support_se"]
        return pd.DataFrame({"t": self.t, **{k: getattr(self, k) for k in names}})

    def __repr__(self) -> str:
        m, se = self.average()
        return f"ScoreError(T={self.T}, eps2={m:.4g} +- {se:.2g}, method={self.method!r})"


@checked
def score_error(
    estimator: Any,
    model: Any,
    schedule: Any,
    n_eval: int = 1000,
    seed: int = 0,
    method: str = "mc",
) -> ScoreError:
    """eps_score(t)^2 per step and its average (SCIENCE.md 1.1), support and off-support.

    Parameters
    ----------
    estimator : Estimator (fitted to ``schedule`` here if needed) or data model
    model : data model
        The truth: q_t = law(a X_0 + sqrt(v) W) and its score ``model.score(x, abar_t)``.
    schedule : Schedule
    n_eval : int
        Monte Carlo draws of X_t per step (n_eval >= 2), fresh at each step from
        ``numpy.random.default_rng([seed, t])``; the standard error of eps2(t) is the sample
        standard deviation of ||s_t - grad log q_t||^2 over sqrt(n_eval).
    seed : int
    method : {"mc", "exact"}
        "exact": for an affine estimate on a Gaussian model (``affine_score`` on both,
        ``model.noised_law``), E||Delta x + delta||^2 = tr(Delta C Delta^T) + ||Delta m + delta||^2
        with Delta = S_t - S_t*, delta = b_t - b_t*, (m, C) the mean and covariance of q_t;
        no Monte Carlo (standard errors 0).
    """
    from simulate._validation import check_choice, check_int, check_seed
    from simulate.estimators import AffineScore, as_estimator
    from simulate.models.base import GaussianModel, as_model

    est = as_estimator(estimator)
    truth = as_model(model)
    n_eval = check_int("n_eval", n_eval, low=2)
    seed = check_seed(seed)
    method = check_choice("method", method, ("mc", "exact"))
    if method == "exact" and not isinstance(est, AffineScore):
        raise TypeError(
            f"method='exact' needs an affine estimate; {est!r} is not an affine score estimate"
        )
    if method == "exact" and not isinstance(truth, GaussianModel):
        raise TypeError(
            f"method='exact' needs a Gaussian model (affine_score, noised_law); got {truth!r}"
        )
    if est.d != truth.d:
        raise ValueError(f"estimator has d={est.d}, model has d={truth.d} (must match)")
    est = est.fit(schedule)
    T, d = schedule.T, truth.d
    mask = getattr(truth, "support", None)
    basis = None if mask is not None else getattr(truth, "U", None)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
    out = {k: np.zeros(T) for k in ("eps2", "eps2_se", "support", "support_se")}
    out.update({k: np.zeros(T) for k in ("off_support", "off_support_se")})
    if mask is None and basis is None:
        for k in ("support", "support_se", "off_support", "off_support_se"):
            out[k][:] = np.nan
    for t in range(1, T + 1):
        alpha_bar = schedule.level(t)
        if method == "exact":
            total, on, off = _score_error_exact(est, truth, t, alpha_bar, mask, basis)
            out["eps2"][t - 1] = total
            if mask is not None or basis is not None:
                out["support"][t - 1] = on
                out["off_support"][t - 1] = off
            continue
        rng = np.random.default_rng([seed, t])
        x0 = truth.sample(n_eval, rng)
        x = np.sqrt(alpha_bar) * x0 + np.sqrt(alpha_bar.v) * rng.standard_normal((n_eval, d))
        e = np.asarray(est.score(x, t), dtype=np.float64) - truth.score(x, alpha_bar)
        if not np.all(np.isfinite(e)):
            raise ValueError(f"the score error at step t={t} is not finite")
        parts = {"eps2": np.einsum("ij,ij->i", e, e)}
        if mask is not None:
            parts["support"] = np.einsum("ij,ij->i", e[:, mask], e[:, mask])
            parts["off_support"] = np.einsum("ij,ij->i", e[:, ~mask], e[:, ~mask])
        elif basis is not None:
            proj = e @ basis
            rest = e - proj @ basis.T
            parts["support"] = np.einsum("ij,ij->i", proj, proj)
            parts["off_support"] = np.einsum("ij,ij->i", rest, rest)
        for name, sq in parts.items():
            out[name][t - 1] = float(np.mean(sq))
            out[f"{name}_se"][t - 1] = float(np.std(sq, ddof=1) / np.sqrt(n_eval))
    return ScoreError(t=np.arange(1, T + 1), method=method, **out)


def _score_error_exact(
    est: Any, truth: Any, t: int, alpha_bar: float, mask: Any, basis: Any
) -> tuple[float, float, float]:
    """E||e||^2 and its support / off-support parts for e = Delta x + delta, q_t = N(m, C)."""
    S_e, b_e = est.affine_score(t)
    S_m, b_m = truth.affine_score(alpha_bar)
    law = truth.noised_law(alpha_bar)
    delta_S = S_e.to_dense() - S_m.to_dense()
    shift = delta_S @ law.mean + (b_e - b_m)
    if basis is not None:
        C = law.cov_matrix()
        E = delta_S @ C @ delta_S.T + np.outer(shift, shift)  # E[e e^T]
        rest = np.eye(truth.d) - basis @ basis.T  # projector onto the complement
        on = float(np.trace(basis.T @ E @ basis))
        return float(np.trace(E)), on, float(np.trace(rest @ E @ rest))
    # diag E[e e^T] = diag(delta_S C delta_S^T) + shift^2, with C's structure: one product
    # of cost O(d^2 + d k^2) instead of two dense d^3 ones.
    diag_E = np.sum(law.cov.right_multiply(delta_S) * delta_S, axis=1) + shift * shift
    total = float(np.sum(diag_E))
    if mask is not None:
        return total, float(np.sum(diag_E[mask])), float(np.sum(diag_E[~mask]))
    return total, float("nan"), float("nan")


__all__ += ["denoiser_loss"]

#: ``default_rng([seed, STREAM_DENOISER_LOSS, t])`` draws the noise of the held-out pairs.
STREAM_DENOISER_LOSS = 5


@checked
def denoiser_loss(estimator: Any, schedule: Any, points: Any, seed: int = 0) -> tuple[float, float]:
    """Held-out denoising loss: (1/T) sum_t mean_i ||D_t(x_t^(i)) - x_0^(i)||^2, and its SE.

    x_t^(i) = a_t x_0^(i) + sqrt(v_t) z with fresh noise per step
    (``default_rng([seed, STREAM_DENOISER_LOSS, t])``) and D_t the estimator's denoiser (by
    Tweedie from its score). It is the x0-prediction objective of ``L1NetworkDSM`` without its
    penalty (the DSM loss weighted by v_t^2 / abar_t, SCIENCE.md 2), the validation loss by
    which r is chosen on held-out points. The standard error is that of the mean over points
    of the per-point average over steps.
    """
    from simulate._validation import check_finite_array
    from simulate.estimators.base import as_estimator

    est = as_estimator(estimator).fit(schedule)
    x0 = check_finite_array("points", points, ndim=2)
    per_point = np.zeros(x0.shape[0])
    for t in range(1, schedule.T + 1):
        level = schedule.level(t)
        a, v = np.sqrt(float(level)), level.v
        z = np.random.default_rng([seed, STREAM_DENOISER_LOSS, t]).standard_normal(x0.shape)
        xt = np.ascontiguousarray(a * x0 + np.sqrt(v) * z)
        per_point += np.sum((est.denoiser(xt, t) - x0) ** 2, axis=1)
    per_point /= schedule.T
    return float(per_point.mean()), float(per_point.std(ddof=1) / np.sqrt(per_point.size))
