"""Which DDPM coefficients leave a pure-noise coordinate exact from q_T (issue 31, item 4).

One step t on a pure-noise coordinate (data variance 0, q_t = N(0, v_t), score -y / v_t) of
the two families of ``simulate.pure_noise``, symbolically, with abar_{t-1} = 1 / (1 + q),
alpha_t = 1 / (1 + w), q, w > 0 (every 1 - abar, 1 - alpha is then a positive rational
function; ``theory.gaussian_symbolic.positive_form`` uses the same device):

- gamma family, sigma_t^2 = beta_t x^gamma with x = (alpha_t - abar_t) / (1 - abar_t):
  var' = (1 - beta_t / v_t)^2 var / alpha_t + sigma_t^2 / alpha_t;
- eta family, sigma_t^2 = eta^2 v_{t-1} beta_t / v_t:
  var' = (v_{t-1} - sigma_t^2) var / v_t + sigma_t^2.

Identities (``theory/test_coefficient_family.py``): from var = v_t, the eta step gives
var' = v_{t-1} for every eta (eta is not in the simplified difference); the gamma step gives
var' - v_{t-1} = beta_t (x^gamma - x) / alpha_t, which is 0 at gamma = 1 and > 0 for
gamma < 1 because 0 < x < 1 (1 - x = beta_t / v_t); the deviation e = var - v propagates as
e' = alpha_t (v_{t-1} / v_t)^2 e + beta_t (x^gamma - x) / alpha_t (gamma) and
e' = ((v_{t-1} - sigma_t^2) / v_t) e (eta); eta = 1 is the gamma = 1 step.

Notation (code -> symbol): ``q``, ``w`` as above; ``gam`` gamma; ``eta`` eta; ``var`` the
variance of Y_t; ``x`` = (alpha_t - abar_t) / (1 - abar_t).
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "ABAR_PREV",
    "ALPHA",
    "BETA",
    "V",
    "V_PREV",
    "X",
    "eta_step",
    "gamma_noise",
    "gamma_step",
]

q, w = sp.symbols("q w", positive=True)
gam = sp.Symbol("gamma", nonnegative=True)
eta = sp.Symbol("eta", nonnegative=True)
var = sp.Symbol("var", positive=True)

ABAR_PREV = 1 / (1 + q)
ALPHA = 1 / (1 + w)
BETA = 1 - ALPHA
ABAR = ALPHA * ABAR_PREV
V = 1 - ABAR
V_PREV = 1 - ABAR_PREV
#: x = (alpha_t - abar_t) / (1 - abar_t)
X = (ALPHA - ABAR) / (1 - ABAR)


def gamma_noise(g: sp.Expr = gam) -> sp.Expr:
    """sigma_t^2 = beta_t x^gamma (the issue's interpolated added variance)."""
    return BETA * X**g


def gamma_step(v_in: sp.Expr = var, g: sp.Expr = gam) -> sp.Expr:
    """Variance after one gamma-family step: Y' = (Y + beta s + sigma Z) / sqrt(alpha), s =
    -Y / v_t, so var' = (1 - beta / v_t)^2 var / alpha + sigma^2 / alpha."""
    return (1 - BETA / V) ** 2 * v_in / ALPHA + gamma_noise(g) / ALPHA


def eta_noise(e: sp.Expr = eta) -> sp.Expr:
    """sigma_t^2 = eta^2 (v_{t-1} / v_t)(1 - abar_t / abar_{t-1}) (Song et al. 2021, eq. 16)."""
    return e**2 * V_PREV / V * (1 - ABAR / ABAR_PREV)


def eta_step(v_in: sp.Expr = var, e: sp.Expr = eta) -> sp.Expr:
    """Variance after one eta-family step: x0hat = 0, epshat = Y / sqrt(v_t), so
    var' = (v_{t-1} - sigma^2) var / v_t + sigma^2."""
    s2 = eta_noise(e)
    return (V_PREV - s2) * v_in / V + s2
