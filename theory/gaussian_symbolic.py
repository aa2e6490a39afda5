"""The symbolic half of the exact Gaussian sampler law (SCIENCE.md 3): SymPy expressions
and the identities proved from them. The mathematics is stated in ``theory.gaussian``;
the lambdified numeric twins are in ``theory.gaussian_numeric``."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from theory.symbols import abar_1, abar_prev, abar_T, alpha, delta, lam, mu, q, w

__all__ = [
    "EPS_CLOSED",
    "IDENTITIES",
    "KAPPA_DDIM",
    "OFF_DELTA_DDIM",
    "OFF_DELTA_INIT_POSTERIOR",
    "OFF_KL_DDIM",
    "RHO_CLOSED",
    "VARIANCES",
    "Identity",
    "coefficients_expr",
    "eps_expr",
    "exact_score_expr",
    "multistep_closed_form",
    "multistep_recursion",
    "phi_expr",
    "positive_form",
    "reverse_kernel_expr",
    "rho_expr",
    "sigma2_expr",
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
