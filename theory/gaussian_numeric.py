"""The numeric half of the exact Gaussian sampler law (SCIENCE.md 3): lambdified twins of
``theory.gaussian_symbolic`` and the float64 recursions, KL terms and derived bound built
on them. The mathematics is stated in ``theory.gaussian``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import integrate

from theory.gaussian_symbolic import VARIANCES, _closed_forms
from theory.symbols import abar_prev, alpha, lam

__all__ = [
    "CoordinateTerms",
    "DerivedBound",
    "bound_factor",
    "coordinate_terms",
    "derived_bound",
    "kl_total",
    "kl_variance_term",
    "leading_constant",
    "leading_kl",
    "recursion",
    "sampler_coefficients",
    "schedule_arrays",
]


# -- numeric twins (lambdified closed forms) ----------------------------------------------

_B, _VP, _VT = sp.symbols("beta_t v_prev v_t", positive=True)
_ARGS = (alpha, _B, abar_prev, _VP, _VT, lam)
_GENERIC = _closed_forms(alpha, _B, abar_prev, _VP, _VT, lam)
#: Lambdified twins of EPS_CLOSED / KAPPA_DDIM with beta_t, v_{t-1}, v_t as inputs.
_EPS_NUM = {v: sp.lambdify(_ARGS, _GENERIC[v], "numpy") for v in VARIANCES}
_KAPPA_NUM = sp.lambdify(_ARGS, _GENERIC["kappa"], "numpy")


def schedule_arrays(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alpha_t, abar_t, v_t) from beta_t, with v_t = -expm1(sum log1p(-beta)) (full precision).

    ``1 - abar_t`` computed from a rounded abar_t has relative error ~ 1e-16 / v_t, which the
    recursion carries to the output variance of off-support coordinates (v_1 = T^(-c0) can
    be 1e-8 or smaller); this form keeps v_t to a few ulps.
    """
    beta = np.asarray(beta, dtype=np.float64)
    if beta.ndim != 1 or beta.size < 2 or np.any(beta <= 0) or np.any(beta >= 1):
        raise ValueError("beta must be a 1-D array of length T >= 2 with entries in (0, 1)")
    log_abar = np.cumsum(np.log1p(-beta))
    return 1.0 - beta, np.exp(log_abar), -np.expm1(log_abar)


def sampler_coefficients(
    beta: np.ndarray, variance: str, accurate: bool = True
) -> tuple[np.ndarray, ...]:
    """(A, B, C^2) per step (index t-1 = step t; entry t=1 unused) from beta_t (SCIENCE.md 2).

    Plain NumPy, written from the definitions (twin of ``simulate.samplers.coefficients``).
    ``accurate=False`` computes alpha = 1 - beta, abar = cumprod(alpha), v = 1 - abar and
    beta = 1 - alpha exactly as ``simulate`` does (same rounding); ``accurate=True`` uses
    ``schedule_arrays`` and beta itself.
    """
    beta = np.asarray(beta, dtype=np.float64)
    if accurate:
        a, ab, v = schedule_arrays(beta)
        b = beta
    else:
        a = 1.0 - beta
        ab = np.cumprod(a)
        v = 1.0 - ab
        b = 1.0 - a
    v_prev = np.concatenate(([0.0], v[:-1]))
    if variance == "ddim":
        A = 1.0 / np.sqrt(a) if accurate else np.sqrt(np.concatenate(([1.0], ab[:-1])) / ab)
        B = A * v - np.sqrt(v_prev * v)
        return A, B, np.zeros_like(a)
    A = 1.0 / np.sqrt(a)
    B = b / np.sqrt(a)
    if variance == "beta":
        return A, B, b / a
    if variance == "posterior":
        return A, B, b * v_prev / v
    raise ValueError(f"variance={variance!r}; allowed: {VARIANCES}")


def recursion(
    beta: np.ndarray,
    lam_: np.ndarray,
    mu_: np.ndarray | float = 0.0,
    variance: str = "posterior",
    init: str = "standard",
    accurate: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(m_1, c_1) per coordinate by running the scalar recursion of SCIENCE.md 3 (plain NumPy).

    ``init="standard"``: Y_T ~ N(0, 1); ``init="exact"``: Y_T ~ q_T (isolates discretization).
    ``accurate``: see ``sampler_coefficients``; ``False`` reproduces simulate's arithmetic.
    """
    lam_ = np.atleast_1d(np.asarray(lam_, dtype=np.float64))
    mu_ = np.broadcast_to(np.asarray(mu_, dtype=np.float64), lam_.shape)
    A, B, C2 = sampler_coefficients(beta, variance, accurate)
    if accurate:
        _, ab, v = schedule_arrays(beta)
    else:
        ab = np.cumprod(1.0 - np.asarray(beta, dtype=np.float64))
        v = 1.0 - ab
    T = ab.size
    if init == "standard":
        m, c = np.zeros_like(lam_), np.ones_like(lam_)
    else:
        m, c = np.sqrt(ab[-1]) * mu_, v[-1] + ab[-1] * lam_
    for step in range(T, 1, -1):
        i = step - 1
        sig2 = v[i] + ab[i] * lam_
        S, b = -1.0 / sig2, np.sqrt(ab[i]) * mu_ / sig2
        M = A[i] + B[i] * S
        m = M * m + B[i] * b
        c = M * M * c + C2[i]
    return m, c


def kl_variance_term(dlt: np.ndarray) -> np.ndarray:
    """phi(delta) / 2 = KL(N(0,1) || N(0, 1+delta)), accurate for small |delta|.

    For |delta| < 1e-3 the series sum_{k>=2} (-1)^k (k-1)/k delta^k (to k = 9) is used: its
    truncation error is below 1e-21 relative; elsewhere log1p(delta) - delta/(1+delta).
    """
    dlt = np.asarray(dlt, dtype=np.float64)
    out = np.empty_like(dlt)
    small = np.abs(dlt) < 1e-3
    ds = dlt[small]
    series = np.zeros_like(ds)
    for kk in range(9, 1, -1):
        series = series * ds + (-1) ** kk * (kk - 1) / kk
    out[small] = series * ds * ds
    big = ~small
    with np.errstate(divide="ignore", invalid="ignore"):
        out[big] = np.log1p(dlt[big]) - dlt[big] / (1.0 + dlt[big])
    out[dlt <= -1.0] = np.inf
    return 0.5 * out


@dataclass(frozen=True)
class CoordinateTerms:
    """Closed-form law of Y_1 per coordinate and its KL to q_1 (arrays over coordinates).

    Attributes
    ----------
    sigma2_1 : variance of q_1; c_1 = sigma2_1 (1 + delta) is the output variance.
    m_1, target_mean : output mean and a_1 mu.
    delta_init, delta_disc : the two parts of delta (initialization / discretization).
    prod_rho : W_T = prod_{t=2}^T rho_t.
    kl : KL(q_1 || p_1) per coordinate.
    """

    sigma2_1: np.ndarray
    c_1: np.ndarray
    m_1: np.ndarray
    target_mean: np.ndarray
    delta_init: np.ndarray
    delta_disc: np.ndarray
    prod_rho: np.ndarray
    kl: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        return self.delta_init + self.delta_disc


def coordinate_terms(
    beta: np.ndarray,
    lam_: np.ndarray,
    mu_: np.ndarray | float = 0.0,
    variance: str = "posterior",
    init: str = "standard",
) -> CoordinateTerms:
    """Closed form of the output law per coordinate (module docstring), lambdified twins.

    Parameters
    ----------
    beta : (T,) array of beta_t (index t-1 = step t).
    lam_, mu_ : per-coordinate data variance and mean (lambda = 0, mu = 0 off the support).
    variance : "beta" | "posterior" | "ddim".
    init : "standard" (Y_T ~ N(0, 1)) or "exact" (Y_T ~ q_T).
    """
    if variance not in VARIANCES:
        raise ValueError(f"variance={variance!r}; allowed: {VARIANCES}")
    if init not in ("standard", "exact"):
        raise ValueError(f"init={init!r}; allowed: 'standard', 'exact'")
    alpha_, ab, v = schedule_arrays(beta)
    beta = np.asarray(beta, dtype=np.float64)
    lam_ = np.atleast_1d(np.asarray(lam_, dtype=np.float64))[:, None]
    mu_ = np.broadcast_to(np.asarray(mu_, dtype=np.float64), (lam_.shape[0],))
    sig2 = v + ab * lam_  # (n, T)
    sig2_1, sig2_T = sig2[:, 0], sig2[:, -1]
    lam_flat = lam_[:, 0]
    args = (alpha_[1:], beta[1:], ab[:-1], v[:-1], v[1:])
    args = (*(x[None, :] for x in args), lam_)
    abp = ab[:-1][None, :]
    standard = init == "standard"
    # u_T - 1 = abar_T (1 - lambda) / sigma2_T for Y_T ~ N(0, 1).
    u_T_minus_1 = ab[-1] * (1.0 - lam_flat) / sig2_T if standard else np.zeros_like(sig2_T)
    if variance == "ddim":
        kappa = _KAPPA_NUM(*args)
        log_prod = np.sum(np.log1p(-kappa), axis=1)
        prod_rho = np.exp(log_prod)
        delta_init = u_T_minus_1
        delta_disc = (1.0 + u_T_minus_1) * np.expm1(log_prod)
    else:
        W_prev = (abp / ab[0]) * (sig2_1[:, None] / sig2[:, :-1])
        prod_rho = (ab[-1] / ab[0]) * (sig2_1 / sig2_T)
        delta_init = prod_rho * u_T_minus_1
        delta_disc = np.sum(W_prev * _EPS_NUM[variance](*args), axis=1)
    dlt = delta_init + delta_disc
    c_1 = sig2_1 * (1.0 + dlt)
    target = np.sqrt(ab[0]) * mu_
    # mean error = prod M_t (m_T - a_T mu), prod M_t = sqrt(prod_rho sigma2_1 / sigma2_T).
    if standard:
        mean_err = -np.sqrt(prod_rho * sig2_1 / sig2_T) * np.sqrt(ab[-1]) * mu_
    else:
        mean_err = np.zeros_like(target)
    kl = kl_variance_term(dlt) + mean_err**2 / (2.0 * c_1)
    return CoordinateTerms(
        sigma2_1=sig2_1,
        c_1=c_1,
        m_1=target + mean_err,
        target_mean=target,
        delta_init=delta_init,
        delta_disc=delta_disc,
        prod_rho=prod_rho,
        kl=kl,
    )


def kl_total(
    beta: np.ndarray,
    lam_on: np.ndarray,
    d: int,
    variance: str,
    mu_on: np.ndarray | float = 0.0,
    init: str = "standard",
) -> float:
    """KL(q_1 || p_1) for aligned data: s = len(lam_on) support coordinates, d - s pure noise."""
    lam_on = np.atleast_1d(np.asarray(lam_on, dtype=np.float64))
    n_off = d - lam_on.size
    if n_off < 0:
        raise ValueError(f"d={d} must be >= s={lam_on.size}")
    on = coordinate_terms(beta, lam_on, mu_on, variance, init).kl
    off = coordinate_terms(beta, np.zeros(1), 0.0, variance, init).kl[0]
    return float(np.sum(on) + n_off * off)


# -- the derived bound ----------------------------------------------------------------------


def bound_factor(
    beta: np.ndarray, lam_: np.ndarray, variance: str, init: str = "standard"
) -> np.ndarray:
    """Per-coordinate constant G with |delta_disc| <= G H (derived here).

    beta: G = (1 - abar_T/abar_1) / sigma2_T; posterior: G = lambda (abar_1 - abar_T) /
    (sigma2_1 sigma2_T); ddim: u_T times the posterior factor. Proof: W_{t-1}|eps_t| (resp.
    kappa_t) is the telescoping weight abar_{t-1} beta_t / (sigma2_{t-1} sigma2_t) (times
    sigma2_1/abar_1, resp. lambda) times a ratio <= beta_t / (alpha_t v_{t-1}) <= H.
    """
    _, ab, v = schedule_arrays(beta)
    lam_ = np.atleast_1d(np.asarray(lam_, dtype=np.float64))
    s1 = v[0] + ab[0] * lam_
    sT = v[-1] + ab[-1] * lam_
    if variance == "beta":
        return (1.0 - ab[-1] / ab[0]) / sT
    G = lam_ * (ab[0] - ab[-1]) / (s1 * sT)
    if variance == "ddim" and init == "standard":
        G = G / sT  # u_T = 1 / sigma2_T
    return G


@dataclass(frozen=True)
class DerivedBound:
    """The derived per-coordinate bounds (arrays over coordinates).

    ``kl`` is the rigorous interval bound 1/2 max phi over [delta_lo, delta_hi] plus the
    mean term; ``init`` + ``disc`` is the separated form (valid when 1 + delta_lo > 0).
    """

    delta_lo: np.ndarray
    delta_hi: np.ndarray
    kl: np.ndarray
    init: np.ndarray
    disc: np.ndarray


def derived_bound(
    beta: np.ndarray,
    lam_: np.ndarray,
    mu_: np.ndarray | float,
    variance: str,
    H: float,
    init: str = "standard",
) -> DerivedBound:
    """Derived bound on the per-coordinate KL, given H >= max_t beta_t / (alpha_t v_{t-1}).

    The initialization part of delta is exact (closed form, no discretization in it for
    beta / posterior; for ddim it is u_T - 1); the discretization part lies in [0, G H]
    (beta) or [-G H, 0] (posterior, ddim). Since phi is convex with phi(0) = 0,
    phi(delta)/2 <= max(phi(lo), phi(hi))/2, and phi(delta) <= delta^2 / (2 min(1, 1+delta)^2)
    gives the separated form (delta_init^2 + (G H)^2) / (2 m^2), m = min(1, 1 + lo).
    """
    _, ab, v = schedule_arrays(beta)
    lam_ = np.atleast_1d(np.asarray(lam_, dtype=np.float64))
    mu_ = np.broadcast_to(np.asarray(mu_, dtype=np.float64), lam_.shape)
    s1 = v[0] + ab[0] * lam_
    sT = v[-1] + ab[-1] * lam_
    standard = init == "standard"
    u_T_minus_1 = ab[-1] * (1.0 - lam_) / sT if standard else np.zeros_like(sT)
    span = bound_factor(beta, lam_, variance, init) * H
    if variance == "ddim":
        d_init = u_T_minus_1
        mean_kl = ab[-1] * mu_**2 / 2.0 if standard else np.zeros_like(sT)
        lo, hi = d_init - span, d_init
    else:
        W_T = (ab[-1] / ab[0]) * (s1 / sT)
        d_init = W_T * u_T_minus_1
        lo, hi = (d_init, d_init + span) if variance == "beta" else (d_init - span, d_init)
        mean_err2 = W_T * (s1 / sT) * ab[-1] * mu_**2 if standard else np.zeros_like(sT)
        with np.errstate(divide="ignore"):
            mean_kl = np.where(lo > -1.0, mean_err2 / (2.0 * s1 * (1.0 + lo)), np.inf)
    kl = np.maximum(kl_variance_term(lo), kl_variance_term(hi)) + mean_kl
    m_ = np.minimum(1.0, 1.0 + lo)
    with np.errstate(divide="ignore"):
        scale = np.where(m_ > 0.0, 1.0 / (2.0 * m_**2), np.inf)
    # 0 * inf would be NaN: a term that is exactly zero stays zero.
    with np.errstate(invalid="ignore"):
        init_term = np.where(d_init == 0.0, 0.0, d_init**2 * scale) + mean_kl
        disc_term = np.where(span == 0.0, 0.0, span**2 * scale)
    return DerivedBound(delta_lo=lo, delta_hi=hi, kl=kl, init=init_term, disc=disc_term)


# -- leading term as T grows --------------------------------------------------------------


def leading_constant(
    lam_: float, variance: str, abar_first: float = 1.0, abar_last: float = 0.0
) -> float:
    """D with delta_disc = h D + O(h^2) on the Li schedule, h = c1 log T / T (derived here).

    In the continuum limit beta_t = h min(-log abar_{t-1}, 1) + O(h^2) (growth phase
    beta_t ~ h sum_{i<t} beta_i, then capped), so the sums of the closed form become
    integrals over a = abar in [abar_T, abar_1] (sigma2(a) = 1 + a (lambda - 1)):

    * beta: (sigma2_1/abar_1) int min(-log a, 1) / sigma2(a)^3 da,
    * posterior: -(sigma2_1/abar_1) lambda int a min(-log a, 1) / ((1-a) sigma2(a)^3) da,
    * ddim: -(lambda/4) int min(-log a, 1) / ((1-a) sigma2(a)^2) da.

    Off the support (lambda = 0): D = 1 for beta (the growth phase, where
    beta_t / v_{t-1} -> h, carries all the weight) and D = 0 for posterior and ddim.
    """
    if lam_ == 0.0:
        return 1.0 if variance == "beta" else 0.0
    s1 = 1.0 + abar_first * (lam_ - 1.0)

    def sig2(a: float) -> float:
        return 1.0 + a * (lam_ - 1.0)

    def grow(a: float) -> float:
        return min(-math.log(a), 1.0)

    if variance == "beta":
        f = lambda a: (s1 / abar_first) * grow(a) / sig2(a) ** 3  # noqa: E731
    elif variance == "posterior":
        f = lambda a: -(s1 / abar_first) * lam_ * a * grow(a) / ((1 - a) * sig2(a) ** 3)  # noqa: E731
    elif variance == "ddim":
        f = lambda a: -(lam_ / 4.0) * grow(a) / ((1 - a) * sig2(a) ** 2)  # noqa: E731
    else:
        raise ValueError(f"variance={variance!r}; allowed: {VARIANCES}")
    points = [math.exp(-1.0)] if abar_last < math.exp(-1.0) < abar_first else None
    val, _ = integrate.quad(
        f, abar_last, abar_first, points=points, limit=200, epsabs=0.0, epsrel=1e-12
    )
    return float(val)


def leading_kl(
    T: int, c1: float, lam_on: np.ndarray, d: int, variance: str, beta: np.ndarray | None = None
) -> float:
    """Leading discretization KL (h^2 / 4) [sum_S D(lambda_j)^2 + (d - s) D_off^2] (derived).

    This is "(per-coordinate constant) x (number of coordinates) x (rate h^2 =
    c1^2 log^2 T / T^2)". With ``beta`` given, the integration limits are abar_T, abar_1 of
    that schedule (finite-T form); otherwise 0 and 1 (T -> oo with c1 > c0).
    """
    hh = c1 * math.log(T) / T
    lo, hi = 0.0, 1.0
    if beta is not None:
        _, ab, _ = schedule_arrays(beta)
        lo, hi = float(ab[-1]), float(ab[0])
    lam_on = np.atleast_1d(np.asarray(lam_on, dtype=np.float64))
    on = sum(leading_constant(float(x), variance, hi, lo) ** 2 for x in lam_on)
    off = (d - lam_on.size) * leading_constant(0.0, variance) ** 2
    return hh**2 / 4.0 * (on + off)
