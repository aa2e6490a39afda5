"""Exact law of the three samplers on Gaussian data, per coordinate (SCIENCE.md 3).

Two halves: ``theory.gaussian_symbolic`` (SymPy expressions and identities) and
``theory.gaussian_numeric`` (their lambdified twins and float64 recursions); this module
states the mathematics and gathers both under one name.

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

from theory.gaussian_numeric import (
    CoordinateTerms,
    DerivedBound,
    bound_factor,
    coordinate_terms,
    derived_bound,
    kl_total,
    kl_variance_term,
    leading_constant,
    leading_kl,
    recursion,
    sampler_coefficients,
    schedule_arrays,
)
from theory.gaussian_symbolic import (
    EPS_CLOSED,
    IDENTITIES,
    KAPPA_DDIM,
    OFF_DELTA_DDIM,
    OFF_DELTA_INIT_POSTERIOR,
    OFF_KL_DDIM,
    RHO_CLOSED,
    VARIANCES,
    Identity,
    coefficients_expr,
    eps_expr,
    exact_score_expr,
    multistep_closed_form,
    multistep_recursion,
    phi_expr,
    positive_form,
    reverse_kernel_expr,
    rho_expr,
    sigma2_expr,
    step_expr,
)

__all__ = [
    "EPS_CLOSED",
    "IDENTITIES",
    "KAPPA_DDIM",
    "OFF_DELTA_DDIM",
    "OFF_DELTA_INIT_POSTERIOR",
    "OFF_KL_DDIM",
    "RHO_CLOSED",
    "VARIANCES",
    "CoordinateTerms",
    "DerivedBound",
    "Identity",
    "bound_factor",
    "coefficients_expr",
    "coordinate_terms",
    "derived_bound",
    "eps_expr",
    "exact_score_expr",
    "kl_total",
    "kl_variance_term",
    "leading_constant",
    "leading_kl",
    "multistep_closed_form",
    "multistep_recursion",
    "phi_expr",
    "positive_form",
    "recursion",
    "reverse_kernel_expr",
    "rho_expr",
    "sampler_coefficients",
    "schedule_arrays",
    "sigma2_expr",
    "step_expr",
]
