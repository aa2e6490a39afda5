"""l1-regularized denoising score matching, pointwise (SCIENCE.md 2 and 5).

Over all functions, the DSM risk with an l1 penalty separates over x and over coordinates:
for one coordinate with conditional mean m = E[Y | x] and conditional variance V,

    E[(s - Y)^2 | x] + r |s| = (s - m)^2 + V + r |s|,

whose unique minimizer is the soft-threshold of m at r/2 (KKT / subgradient condition
0 in 2 (s - m) + r d|s|). Three cases, each proved by SymPy in ``soft_threshold_cases``:
m > r/2 -> s* = m - r/2; m < -r/2 -> s* = m + r/2; |m| <= r/2 -> s* = 0.

Parametrizations (SCIENCE.md 5):

(a) score output: Y = -(x_t - a x_0)/v (DSM target), E[Y | x] = score(x); minimizer
    soft(score, r/2). Off the support score_j = -x_j / v, so the bias there is
    min(|x_j| / v, r/2) on every one of the d - s pure-noise coordinates.
(b) denoiser: target X_0, E[X_0 | x] = D(x); minimizer soft(D, r/2); induced score
    (a soft(D, r/2) - x) / v (Tweedie). Off the support D_j = 0: no bias.
(b') deviation from the pure-noise score g = s + x/v (target Y + x/v, mean a D / v):
    soft(a D / v, r/2) = (a / v) soft(D, r v / (2 a)), the denoiser form with r rescaled.

Bias and eps_score (Gaussian data, mean 0, per step t): with B(tau2, c) = E[min(|Z|, c)^2]
for Z ~ N(0, tau2) (closed form ``clipped_second_moment``),

    score penalty:     eps^2 = sum_{j in S} B(1/sigma2_j, r/2) + (d - s) B(1/v, r/2),
    denoiser penalty:  eps^2 = (a/v)^2 sum_{j in S} B(a^2 lambda_j^2 / sigma2_j, r/2),

so the score penalty adds an eps_score^2 linear in d, the denoiser penalty none.

Notation (code name -> symbol):

=================  ====================================================
``m``              conditional mean E[Y | x] of the regression target
``r``              l1 tuning parameter r
``a``, ``v``       sqrt(abar_t), 1 - abar_t
``D``              denoiser E[X_0 | X_t = x] on one coordinate
``soft(z, c)``     sign(z) max(|z| - c, 0)
``B(tau2, c)``     E[min(|Z|, c)^2], Z ~ N(0, tau2)
=================  ====================================================
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import special

from theory.symbols import m, r, tau, u, x

__all__ = [
    "bias_cases",
    "bias_denoiser_param",
    "bias_score_param",
    "clipped_second_moment",
    "clipped_second_moment_expr",
    "clipped_second_moment_integral",
    "eps_score_sq_denoiser_param",
    "eps_score_sq_score_param",
    "induced_score_denoiser_param",
    "induced_score_expr",
    "objective",
    "scaling_identity_cases",
    "soft",
    "soft_expr",
    "soft_threshold_cases",
]


def objective(s_: sp.Expr, m_: sp.Expr = m, r_: sp.Expr = r) -> sp.Expr:
    """(s - m)^2 + r |s|: the pointwise penalized risk up to the constant V (SCIENCE.md 5)."""
    return (s_ - m_) ** 2 + r_ * sp.Abs(s_)


def soft_expr(z_: sp.Expr, c_: sp.Expr) -> sp.Expr:
    """soft(z, c) = sign(z) max(|z| - c, 0) as a SymPy Piecewise."""
    return sp.Piecewise(
        (z_ - c_, sp.factor(z_ - c_) > 0), (z_ + c_, sp.factor(z_ + c_) < 0), (0, True)
    )


def soft_threshold_cases() -> dict[str, dict[str, sp.Expr]]:
    """KKT and global optimality of soft(m, r/2), per case (SymPy expressions to check).

    In each case m is parametrized so that the case condition holds by assumption
    (u > 0, and sigma = a value in [0, 1] written as 1/(1+u)), and the candidate s is taken
    non-negative (s = p > 0) or negative (s = -p). Returned per case:

    * ``stationarity``: the subgradient condition at s*, must simplify to 0 (or, in the
      zero case, the subgradient element g = 2 m / r, with |g| <= 1, proved by
      ``subgradient_in_range`` being non-negative);
    * ``gap_pos`` / ``gap_neg``: f(p) - f(s*) and f(-p) - f(s*), each must be provably
      non-negative (SymPy ``is_nonnegative`` after ``factor``).
    """
    p = sp.Symbol("p", positive=True)
    out: dict[str, dict[str, sp.Expr]] = {}
    # Case 1: m = r/2 + u > r/2, s* = m - r/2 = u > 0, d|s*| = {1}.
    m1 = r / 2 + u
    s1 = m1 - r / 2
    out["positive"] = {
        "stationarity": 2 * (s1 - m1) + r,
        "gap_pos": sp.factor(sp.expand(objective(p, m1) - objective(s1, m1))),
        "gap_neg": sp.factor(sp.expand(objective(-p, m1) - objective(s1, m1))),
    }
    # Case 2: m = -r/2 - u < -r/2, s* = m + r/2 = -u < 0, d|s*| = {-1}.
    m2 = -r / 2 - u
    s2 = m2 + r / 2
    out["negative"] = {
        "stationarity": 2 * (s2 - m2) - r,
        "gap_pos": sp.factor(sp.expand(objective(p, m2) - objective(s2, m2))),
        "gap_neg": sp.factor(sp.expand(objective(-p, m2) - objective(s2, m2))),
    }
    # Case 3: |m| <= r/2, m = (r/2)(2 sig - 1) with sig in (0, 1] written sig = 1/(1+u);
    # s* = 0, subgradient g in [-1, 1] with 0 = 2 (0 - m) + r g, g = 2 m / r.
    m3 = (r / 2) * (2 / (1 + u) - 1)
    g = 2 * m3 / r
    out["zero"] = {
        "stationarity": 2 * (0 - m3) + r * g,
        "subgradient_in_range": sp.factor(1 - g**2),
        "gap_pos": sp.factor(sp.expand(objective(p, m3) - objective(sp.Integer(0), m3))),
        "gap_neg": sp.factor(sp.expand(objective(-p, m3) - objective(sp.Integer(0), m3))),
    }
    return out


def scaling_identity_cases() -> list[tuple[sp.Expr, sp.Expr]]:
    """soft(c z, t) = c soft(z, t / c) for c > 0, checked per branch (deviation form (b')).

    Returns (lhs, rhs) pairs, one per branch (the zero branch split at z = 0), with z placed
    in the branch by assumption (u > 0).
    """
    c = sp.Symbol("c", positive=True)
    thr = tau
    pairs = []
    for z_ in (thr / c + u, -thr / c - u, (thr / c) / (1 + u), -(thr / c) / (1 + u)):
        pairs.append((soft_expr(c * z_, thr), c * soft_expr(z_, thr / c)))
    return pairs


def induced_score_expr(x_: sp.Expr, D: sp.Expr, abar_t: sp.Expr, r_: sp.Expr = r) -> sp.Expr:
    """Score induced by the penalized denoiser: (sqrt(abar) soft(D, r/2) - x) / (1 - abar)."""
    return (sp.sqrt(abar_t) * soft_expr(D, r_ / 2) - x_) / (1 - abar_t)


def bias_cases() -> list[tuple[sp.Expr, sp.Expr]]:
    """soft(z, r/2) - z = -sign(z) min(|z|, r/2), per branch (z placed by assumption).

    So the bias of either parametrization has modulus min(|target mean|, r/2) <= r/2 (times
    a/v for the denoiser), and eps_score^2 <= s (a/v)^2 r^2 / 4 (denoiser) or d r^2 / 4
    (score output), per step.
    """
    half = r / 2
    pairs = []
    for z_ in (half + u, -half - u, half / (1 + u), -half / (1 + u)):
        pairs.append((soft_expr(z_, half) - z_, -sp.sign(z_) * sp.Min(sp.Abs(z_), half)))
    return pairs


def clipped_second_moment_expr(tau2: sp.Expr = tau**2, c_: sp.Expr = r / 2) -> sp.Expr:
    """B(tau2, c) = E[min(|Z|, c)^2], Z ~ N(0, tau2) (derived here).

    = tau2 (2 Phi(c/tau) - 1) - 2 c tau phi(c/tau) + 2 c^2 (1 - Phi(c/tau)),
    Phi, phi the standard normal cdf and density.
    """
    tau_ = sp.sqrt(tau2)
    z_ = c_ / tau_
    Phi = (1 + sp.erf(z_ / sp.sqrt(2))) / 2
    phi = sp.exp(-(z_**2) / 2) / sp.sqrt(2 * sp.pi)
    return tau2 * (2 * Phi - 1) - 2 * c_ * tau_ * phi + 2 * c_**2 * (1 - Phi)


def clipped_second_moment_integral(tau_: sp.Expr = tau, c_: sp.Expr = r / 2) -> sp.Expr:
    """The defining integral of B(tau^2, c), evaluated by SymPy (for the identity check)."""
    dens = sp.exp(-(x**2) / (2 * tau_**2)) / (sp.sqrt(2 * sp.pi) * tau_)
    inner = sp.integrate(x**2 * dens, (x, -c_, c_))
    tail = 2 * c_**2 * sp.integrate(dens, (x, c_, sp.oo))
    return inner + tail


# -- numeric twins ---------------------------------------------------------------------------


def soft(z_: np.ndarray, c_: float | np.ndarray) -> np.ndarray:
    """soft(z, c) = sign(z) max(|z| - c, 0), NumPy."""
    z_ = np.asarray(z_, dtype=np.float64)
    return np.sign(z_) * np.maximum(np.abs(z_) - c_, 0.0)


def induced_score_denoiser_param(
    x_: np.ndarray, D: np.ndarray, abar_t: float, r_: float
) -> np.ndarray:
    """Score induced by the l1-penalized denoiser: (a soft(D, r/2) - x) / v (Tweedie)."""
    aa, v = math.sqrt(abar_t), 1.0 - abar_t
    return (aa * soft(D, r_ / 2.0) - np.asarray(x_, dtype=np.float64)) / v


def bias_score_param(score: np.ndarray, r_: float) -> np.ndarray:
    """soft(score, r/2) - score = -sign(score) min(|score|, r/2) (parametrization (a))."""
    score = np.asarray(score, dtype=np.float64)
    return soft(score, r_ / 2.0) - score


def bias_denoiser_param(D: np.ndarray, abar_t: float, r_: float) -> np.ndarray:
    """(a / v)(soft(D, r/2) - D): score bias of the penalized denoiser (parametrization (b))."""
    aa, v = math.sqrt(abar_t), 1.0 - abar_t
    D = np.asarray(D, dtype=np.float64)
    return aa / v * (soft(D, r_ / 2.0) - D)


def clipped_second_moment(tau2: np.ndarray, c_: float) -> np.ndarray:
    """B(tau2, c) = E[min(|Z|, c)^2], Z ~ N(0, tau2), NumPy/SciPy twin."""
    tau2 = np.asarray(tau2, dtype=np.float64)
    tau_ = np.sqrt(tau2)
    z_ = c_ / tau_
    Phi = special.ndtr(z_)
    phi = np.exp(-0.5 * z_**2) / math.sqrt(2.0 * math.pi)
    return tau2 * (2.0 * Phi - 1.0) - 2.0 * c_ * tau_ * phi + 2.0 * c_**2 * special.ndtr(-z_)


def eps_score_sq_score_param(
    lam_on: np.ndarray, d: int, abar_t: float, r_: float
) -> tuple[float, float]:
    """(support part, off-support part) of E||soft(score, r/2) - score||^2 at step t.

    Gaussian data with mean 0: on the support score_j = -x_j / sigma2_j ~ N(0, 1/sigma2_j);
    off it score_j = -x_j / v ~ N(0, 1/v). The off part is (d - s) B(1/v, r/2): linear in d.
    """
    lam_on = np.atleast_1d(np.asarray(lam_on, dtype=np.float64))
    v = 1.0 - abar_t
    sig2 = v + abar_t * lam_on
    on = float(np.sum(clipped_second_moment(1.0 / sig2, r_ / 2.0)))
    off = (d - lam_on.size) * float(clipped_second_moment(np.array(1.0 / v), r_ / 2.0))
    return on, off


def eps_score_sq_denoiser_param(lam_on: np.ndarray, abar_t: float, r_: float) -> float:
    """E||score induced by soft(D, r/2) - score||^2 at step t; independent of d.

    D_j = a lambda_j x_j / sigma2_j ~ N(0, a^2 lambda_j^2 / sigma2_j) on the support, 0 off.
    """
    lam_on = np.atleast_1d(np.asarray(lam_on, dtype=np.float64))
    v = 1.0 - abar_t
    sig2 = v + abar_t * lam_on
    tau2 = abar_t * lam_on**2 / sig2
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(tau2 > 0, clipped_second_moment(tau2, r_ / 2.0), 0.0)
    return float(abar_t / v**2 * np.sum(per))
