"""Exact law of the three samplers on Gaussian data, per coordinate (SCIENCE.md 3).

One coordinate of aligned Gaussian data has X_0 ~ N(mu, lambda) (lambda = 0, mu = 0 off the
support S), so q_t = N(a_t mu, sigma2_t) with a_t = sqrt(abar_t), v_t = 1 - abar_t and
sigma2_t = v_t + abar_t lambda. The exact score is s_t(y) = S_t y + b_t with
S_t = -1 / sigma2_t, b_t = a_t mu / sigma2_t (SCIENCE.md 4.1). One sampler step
Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t maps N(m_t, c_t) to N(m_{t-1}, c_{t-1}) with

    M_t = A_t + B_t S_t,   m_{t-1} = M_t m_t + B_t b_t,   c_{t-1} = M_t^2 c_t + C_t^2.

Writing u_t = c_t / sigma2_t (relative output variance) the recursion becomes

    u_{t-1} - 1 = rho_t (u_t - 1) + eps_t,   rho_t = M_t^2 sigma2_t / sigma2_{t-1},
    eps_t = C_t^2 / sigma2_{t-1} - (1 - rho_t),

so, from Y_T ~ N(0, 1) (u_T = 1 / sigma2_T) to Y_1, the closed form is

    delta := u_1 - 1 = W_T (u_T - 1) + sum_{t=2}^T W_{t-1} eps_t,   W_t = prod_{j=2}^t rho_j.

Derived here (each identity proved by SymPy in ``IDENTITIES`` and tested):

* beta / posterior: rho_t = alpha_t sigma2_{t-1} / sigma2_t, so
  W_t = (abar_t / abar_1)(sigma2_1 / sigma2_t); eps_t^beta = beta_t^2 / (alpha_t sigma2_{t-1}
  sigma2_t) >= 0; eps_t^post = -lambda abar_{t-1} beta_t^2 / (v_t sigma2_t sigma2_{t-1}) <= 0.
* ddim: no noise, 1 - rho_t = kappa_t = lambda abar_{t-1} beta_t^2 / ((sqrt v_t +
  sqrt(alpha_t v_{t-1}))^2 sigma2_t sigma2_{t-1}) >= 0 and u_1 = u_T prod_t (1 - kappa_t).
* For all three samplers the mean recursion is the true reverse mean: the mean error is
  only the initial one, contracted by prod M_t.
* Off the support (lambda = 0): posterior is exactly the true reverse kernel
  (eps_t = 0); its only error is the initial one, delta = abar_T^2 v_1 / (abar_1 v_T^2)
  (tiny, O(T^-c0), but not zero). ddim: eps_t = 0 but rho_t = 1, so u_1 = u_T = 1 / v_T and
  KL(q_1 || p_1) = (v_T - 1 - log v_T) / 2 per coordinate (not small unless abar_T -> 0).
  beta: delta = delta_init + sum_t (v_1/abar_1) (beta_t / (alpha_t v_{t-1}))
  (1/v_{t-1} - 1/v_t) = h + O(h^2) for the Li schedule (h = c1 log T / T).

Per coordinate KL(q_1 || p_1) = phi(delta)/2 + (mean error)^2 / (2 c_1) with
phi(delta) = 1/(1+delta) - 1 + log(1+delta) <= delta^2 / (2 min(1, 1+delta)^2).

Notation (code name -> symbol):

=================  ===========================================================
``alpha``          alpha_t
``abar_prev``      abar_{t-1}
``lam``, ``mu``    lambda, mu of the coordinate (lambda = 0 off the support)
``sigma2``         sigma2_t = v_t + abar_t lambda (variance of q_t)
``u_T``            c_T / sigma2_T (1 / sigma2_T for Y_T ~ N(0, 1))
``rho``, ``eps``   rho_t, eps_t of the error recursion above
``W``              W_t = prod_{j=2}^t rho_j
``delta``          u_1 - 1 = delta_init + delta_disc
``G``              per-coordinate constant of the derived bound
``H``              any bound on max_{t>=2} beta_t / (alpha_t v_{t-1}) (Lemma L4:
                   Hbar(h) = 2h(1+h)/(1-h)^2)
``D``              leading constant: delta_disc = h D + O(h^2)
=================  ===========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import integrate

from theory.symbols import abar_1, abar_prev, abar_T, alpha, delta, lam, mu, q, w

__all__ = [
    "IDENTITIES",
    "VARIANCES",
    "CoordinateTerms",
    "Identity",
    "coefficients_expr",
    "coordinate_terms",
    "derived_bound",
    "eps_expr",
    "kl_total",
    "kl_variance_term",
    "leading_constant",
    "leading_kl",
    "multistep_closed_form",
    "multistep_recursion",
    "phi_expr",
    "positive_form",
    "recursion",
    "rho_expr",
    "sampler_coefficients",
    "schedule_arrays",
    "step_expr",
]

VARIANCES = ("beta", "posterior", "ddim")

# -- per-step symbolic quantities (SCIENCE.md 3) ------------------------------------------

ABAR_T_STEP = alpha * abar_prev  # abar_t
BETA_STEP = 1 - alpha  # beta_t
V_STEP = 1 - ABAR_T_STEP  # v_t
V_PREV = 1 - abar_prev  # v_{t-1}


def sigma2_expr(abar: sp.Expr, lam_: sp.Expr = lam) -> sp.Expr:
    """Variance of q_t on one coordinate: sigma2_t = (1 - abar_t) + abar_t lambda."""
    return 1 - abar + abar * lam_


SIG2 = sigma2_expr(ABAR_T_STEP)  # sigma2_t
SIG2_PREV = sigma2_expr(abar_prev)  # sigma2_{t-1}


def positive_form(expr: sp.Expr) -> sp.Expr:
    """Substitute abar_{t-1} = 1/(1+q), alpha_t = 1/(1+w) with q, w > 0.

    Every factor 1 - abar, 1 - alpha is then a positive rational function, so SymPy can
    split square roots of products; identities are checked in this form.
    """
    return expr.subs({abar_prev: 1 / (1 + q), alpha: 1 / (1 + w)})


def coefficients_expr(variance: str) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(A_t, B_t, C_t^2) of Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t (SCIENCE.md 2)."""
    if variance == "ddim":
        A = sp.sqrt(abar_prev / ABAR_T_STEP)
        B = A * V_STEP - sp.sqrt(V_PREV * V_STEP)
        return A, B, sp.Integer(0)
    A = 1 / sp.sqrt(alpha)
    B = BETA_STEP / sp.sqrt(alpha)
    if variance == "beta":
        return A, B, BETA_STEP / alpha
    if variance == "posterior":
        return A, B, BETA_STEP * V_PREV / V_STEP
    raise ValueError(f"variance={variance!r}; allowed: {VARIANCES}")


def exact_score_expr() -> tuple[sp.Expr, sp.Expr]:
    """(S_t, b_t) of the exact score s_t(y) = S_t y + b_t on one coordinate (SCIENCE.md 4.1)."""
    return -1 / SIG2, sp.sqrt(ABAR_T_STEP) * mu / SIG2


def step_expr(variance: str) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(M_t, shift_t, noise variance) of one step with the exact score (SCIENCE.md 3)."""
    A, B, C2 = coefficients_expr(variance)
    S, b = exact_score_expr()
    return A + B * S, B * b, C2


def reverse_kernel_expr() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """True reverse kernel law(X_{t-1} | X_t = y) = N(M y + shift, var), by Gaussian conditioning.

    X_t = sqrt(alpha_t) X_{t-1} + sqrt(beta_t) W, X_{t-1} ~ N(a_{t-1} mu, sigma2_{t-1}).
    """
    var_t = alpha * SIG2_PREV + BETA_STEP  # Var X_t from the chain (= sigma2_t, an identity)
    cov = sp.sqrt(alpha) * SIG2_PREV
    M = cov / var_t
    shift = sp.sqrt(abar_prev) * mu - M * sp.sqrt(ABAR_T_STEP) * mu
    return M, shift, SIG2_PREV - cov**2 / var_t


def rho_expr(variance: str) -> sp.Expr:
    """rho_t = M_t^2 sigma2_t / sigma2_{t-1}, from the step map (definition)."""
    M, _, _ = step_expr(variance)
    return M**2 * SIG2 / SIG2_PREV


def eps_expr(variance: str) -> sp.Expr:
    """eps_t = C_t^2 / sigma2_{t-1} - (1 - rho_t), from the step map (definition)."""
    _, _, C2 = step_expr(variance)
    return C2 / SIG2_PREV - (1 - rho_expr(variance))


def _closed_forms(
    alpha_: object, beta_: object, abar_prev_: object, v_prev_: object, v_t_: object, lam_: object
) -> dict[str, object]:
    """eps_t of the three samplers and kappa_t of ddim from their building blocks (derived here).

    Called with SymPy expressions (beta = 1 - alpha, v from abar) to state the identities, and
    with independent symbols for beta_t, v_{t-1}, v_t to lambdify a numeric twin that takes
    them as accurately computed arrays (1 - abar loses digits when abar is close to 1).
    """
    sig2_t = v_t_ + alpha_ * abar_prev_ * lam_
    sig2_p = v_prev_ + abar_prev_ * lam_
    den = (sp.sqrt(v_t_) + sp.sqrt(alpha_ * v_prev_)) ** 2
    kappa = lam_ * abar_prev_ * beta_**2 / (den * sig2_t * sig2_p)
    return {
        "beta": beta_**2 / (alpha_ * sig2_p * sig2_t),
        "posterior": -lam_ * abar_prev_ * beta_**2 / (v_t_ * sig2_t * sig2_p),
        "ddim": -kappa,
        "kappa": kappa,
    }


_SYMBOLIC = _closed_forms(alpha, BETA_STEP, abar_prev, V_PREV, V_STEP, lam)

#: kappa_t = 1 - rho_t of ddim in the cancellation-free form (derived here).
KAPPA_DDIM = _SYMBOLIC["kappa"]

#: Closed forms of rho_t (derived here; proved equal to ``rho_expr`` in ``IDENTITIES``).
RHO_CLOSED = {
    "beta": alpha * SIG2_PREV / SIG2,
    "posterior": alpha * SIG2_PREV / SIG2,
    "ddim": 1 - KAPPA_DDIM,
}

#: Closed forms of eps_t (derived here; proved equal to ``eps_expr`` in ``IDENTITIES``).
EPS_CLOSED = {v: _SYMBOLIC[v] for v in ("beta", "posterior", "ddim")}


def phi_expr(d_: sp.Expr = delta) -> sp.Expr:
    """phi(delta) = 1/(1+delta) - 1 + log(1+delta) = 2 KL(N(0,1) || N(0, 1+delta))."""
    return 1 / (1 + d_) - 1 + sp.log(1 + d_)


@dataclass(frozen=True)
class Identity:
    """A symbolic identity lhs == rhs, with the symbols to draw for its numeric twin.

    ``positive`` means: check it after ``positive_form`` (it involves square roots).
    """

    name: str
    lhs: sp.Expr
    rhs: sp.Expr
    positive: bool = False


def _identities() -> tuple[Identity, ...]:
    out: list[Identity] = []
    M_true, shift_true, var_true = reverse_kernel_expr()
    out.append(Identity("forward_variance", alpha * SIG2_PREV + BETA_STEP, SIG2))
    out.append(Identity("reverse_slope", M_true, sp.sqrt(alpha) * SIG2_PREV / SIG2))
    out.append(Identity("reverse_variance", var_true, BETA_STEP * SIG2_PREV / SIG2))
    for var in ("beta", "posterior"):
        M, shift, _ = step_expr(var)
        out.append(Identity(f"slope_{var}_is_reverse_slope", M, M_true))
        out.append(Identity(f"shift_{var}_is_reverse_shift", shift, shift_true))
    for var in VARIANCES:
        M, shift, _ = step_expr(var)
        target = sp.sqrt(abar_prev) * mu
        out.append(
            Identity(
                f"mean_{var}_is_reverse_mean",
                M * sp.sqrt(ABAR_T_STEP) * mu + shift,
                target,
                positive=(var == "ddim"),
            )
        )
        out.append(Identity(f"rho_{var}", rho_expr(var), RHO_CLOSED[var], positive=(var == "ddim")))
        out.append(Identity(f"eps_{var}", eps_expr(var), EPS_CLOSED[var], positive=(var == "ddim")))
    # Off the support the posterior step is the true reverse kernel (lambda = 0).
    _, _, C2_post = step_expr("posterior")
    out.append(Identity("posterior_noise_off_support", C2_post, var_true.subs(lam, 0)))
    M_ddim, _, _ = step_expr("ddim")
    out.append(
        Identity("ddim_slope_off_support", M_ddim.subs(lam, 0), sp.sqrt(V_PREV / V_STEP), True)
    )
    # The ddim defect: kappa = abar_t lam (sqrt v_t - sqrt(alpha v_prev))^2/(alpha sig2 sig2p).
    kappa_diff_form = (
        ABAR_T_STEP
        * lam
        * (sp.sqrt(V_STEP) - sp.sqrt(alpha * V_PREV)) ** 2
        / (alpha * SIG2 * SIG2_PREV)
    )
    out.append(Identity("ddim_kappa_difference_form", KAPPA_DDIM, kappa_diff_form, True))
    # sqrt v_t - sqrt(alpha v_{t-1}) = beta_t / (sqrt v_t + sqrt(alpha v_{t-1})), since
    # v_t - alpha_t v_{t-1} = beta_t.
    out.append(Identity("v_step", V_STEP - alpha * V_PREV, BETA_STEP))
    out.append(Identity("v_increment", V_STEP, V_PREV + abar_prev * BETA_STEP))
    # Telescoping used by the derived bound (lambda != 1; lambda = 1 by continuity).
    out.append(
        Identity(
            "telescoping",
            abar_prev * BETA_STEP / (SIG2_PREV * SIG2) * (1 - lam),
            1 / SIG2_PREV - 1 / SIG2,
        )
    )
    # beta sampler off the support: W_{t-1} eps_t = (v_1/abar_1) (beta/(alpha v_prev))
    # (1/v_prev - 1/v_t), with W_{t-1} = (abar_{t-1}/abar_1)(v_1/v_{t-1}).
    v1 = 1 - abar_1
    W_prev_off = (abar_prev / abar_1) * (v1 / V_PREV)
    out.append(
        Identity(
            "beta_off_support_summand",
            W_prev_off * EPS_CLOSED["beta"].subs(lam, 0),
            (v1 / abar_1) * BETA_STEP / (alpha * V_PREV) * (1 / V_PREV - 1 / V_STEP),
        )
    )
    # Product of rho (beta/posterior) telescopes: W_t / W_{t-1} = rho_t.
    W_t = (ABAR_T_STEP / abar_1) * (sigma2_expr(abar_1) / SIG2)
    W_p = (abar_prev / abar_1) * (sigma2_expr(abar_1) / SIG2_PREV)
    out.append(Identity("weight_telescopes", W_t / W_p, RHO_CLOSED["beta"]))
    # The posterior defect factorizes as used in the bound.
    out.append(
        Identity(
            "posterior_eps_factorized",
            -EPS_CLOSED["posterior"],
            (abar_prev * BETA_STEP / (SIG2_PREV * SIG2))
            * (lam * abar_prev / SIG2_PREV)
            * (BETA_STEP / V_STEP)
            * SIG2_PREV
            / abar_prev,
        )
    )
    return tuple(out)


#: Per-step identities derived here; the tests check each by ``simplify(lhs - rhs) == 0``
#: and by a lambdified numeric twin at Hypothesis-drawn points.
IDENTITIES: tuple[Identity, ...] = _identities()

# Off-support (lambda = 0, mu = 0) closed forms with Y_T ~ N(0, 1) (derived here).
V_1 = 1 - abar_1
V_T = 1 - abar_T
#: posterior (and beta) initial relative variance error W_T (u_T - 1) off the support.
OFF_DELTA_INIT_POSTERIOR = abar_T**2 * V_1 / (abar_1 * V_T**2)
#: ddim: u_1 = u_T = 1 / v_T, delta = abar_T / v_T, contracted by nothing.
OFF_DELTA_DDIM = abar_T / V_T
#: ddim off-support KL(q_1 || p_1) per coordinate.
OFF_KL_DDIM = (V_T - 1 - sp.log(V_T)) / 2


def multistep_recursion(n_steps: int, variance: str) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """c_1 / sigma2_1 by unrolling the variance recursion over symbolic abar_1..abar_n.

    Returns (u_1, abars) with Y_T ~ N(0, 1); for the multi-step check of the closed form.
    """
    abars = sp.symbols(f"ab1:{n_steps + 1}", positive=True)
    c = sp.Integer(1)
    for t_ in range(n_steps, 1, -1):
        sub = {alpha: abars[t_ - 1] / abars[t_ - 2], abar_prev: abars[t_ - 2]}
        M, _, C2 = step_expr(variance)
        c = M.subs(sub) ** 2 * c + C2.subs(sub)
    return c / sigma2_expr(abars[0]), abars


def multistep_closed_form(n_steps: int, variance: str) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """1 + W_T (u_T - 1) + sum_t W_{t-1} eps_t over the same symbols (beta / posterior)."""
    abars = sp.symbols(f"ab1:{n_steps + 1}", positive=True)
    s2 = [sigma2_expr(ab) for ab in abars]
    W = [(abars[j] / abars[0]) * (s2[0] / s2[j]) for j in range(n_steps)]
    total = 1 + W[-1] * (1 / s2[-1] - 1)
    for t_ in range(2, n_steps + 1):
        sub = {alpha: abars[t_ - 1] / abars[t_ - 2], abar_prev: abars[t_ - 2]}
        total += W[t_ - 2] * EPS_CLOSED[variance].subs(sub)
    return total, abars


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
